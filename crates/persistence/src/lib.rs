//! PostgreSQL storage for wacrm: the schema, one module of queries per
//! aggregate, the pool, embedded migrations and the embedded cluster.
//!
//! Query functions take `&mut AsyncPgConnection`, so the same function runs on a
//! pooled connection or inside a caller's transaction.

pub mod activity_log;
pub mod api_keys;
pub mod audiences;
pub mod bots;
mod bulk;
pub mod campaigns;
pub mod connections;
pub mod consent;
pub mod contact_imports;
pub mod contacts;
pub mod conversations;
pub mod crm_events;
pub mod embedded;
mod error;
pub mod events;
mod functions;
pub mod idempotency;
pub mod inbox;
pub mod jobs;
pub mod leads;
pub mod login_attempts;
pub mod matching;
pub mod message_provider_ids;
pub mod messages;
pub mod migrate;
pub mod notifications;
pub mod numbers;
mod page;
pub mod phone_consent;
pub mod pool;
pub mod prepared;
pub mod provider_errors;
pub mod quick_replies;
pub mod schema;
pub mod secrets;
pub mod segments;
pub mod sessions;
pub mod settings;
pub mod staff;
pub mod templates;
pub mod tickets;
pub mod transaction;
pub mod webhook_endpoints;
pub mod webhook_events;
pub mod whatsapp_contacts;
pub mod whatsapp_groups;

pub use diesel_async::AsyncPgConnection;
pub use error::{StoreError, StoreResult};
pub use page::{Page, PageRequest};
pub use pool::{PgPool, PooledConnection};

/// A `LIKE` pattern matching `text` anywhere, with its wildcards escaped.
fn like_pattern(text: &str) -> String {
    let escaped = text
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}
