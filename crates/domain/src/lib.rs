//! The rules of wacrm that need no I/O: phone numbers, permissions, sender
//! matching, the session window, message-status order and inbound events.
//!
//! Nothing here imports diesel, actix, reqwest or tokio; every rule is a plain
//! function or type that the other crates call, and it is tested with plain
//! `#[test]`s and proptest.

pub mod audiences;
pub mod backoff;
pub mod bots;
pub mod campaigns;
pub mod clock;
pub mod connection;
pub mod consent;
pub mod contact_imports;
pub mod conversation;
pub mod crm_events;
pub mod inbound;
pub mod matching;
pub mod message_status;
pub mod notifications;
pub mod outbound;
pub mod permission;
pub mod phone;
pub mod placeholders;
pub mod provider;
pub mod provider_id;
pub mod quick_reply;
pub mod session;
pub mod settings;
pub mod template;
pub mod template_mapping;
pub mod text;
pub mod ticket;
pub mod time_zone;
pub mod webhook_endpoints;
pub mod whatsapp_contacts;

pub use clock::Clock;
pub use matching::RelType;
pub use message_status::MessageStatus;
pub use permission::{Permission, PermissionSet, UnknownPermission};
pub use phone::{Country, NormalizedPhone, PhoneError};
pub use provider::Provider;
