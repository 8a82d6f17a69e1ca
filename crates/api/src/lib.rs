//! The wacrm HTTP service: routes per resource, auth, permission checks,
//! problem+json errors, OpenAPI and Swagger UI. `main.rs` is the `wacrm` binary.

pub mod app;
pub mod auth;
pub mod base_url;
pub mod bootstrap;
pub mod config;
pub mod connection_cache;
pub mod database;
pub mod error;
pub mod first_run;
pub mod ingest;
pub mod metrics;
pub mod openapi;
pub mod pagination;
pub mod phone_consent;
pub mod realtime;
pub mod request_id;
pub mod routes;
pub mod security_headers;
pub mod sending;
pub mod state;
pub mod telemetry;
pub mod text_guard;
pub mod validation;
pub mod whatsapp_links;

pub use app::Application;
pub use config::Config;
