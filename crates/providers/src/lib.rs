//! The WhatsApp providers wacrm speaks to: Meta's Cloud API, Lipachat, Whats91 and TATA.
//!
//! [`verify`] decides on a webhook request's raw bytes whether the provider sent it,
//! and [`webhook::parse`] turns a verified body into the domain's
//! [`InboundEvent`](wacrm_domain::inbound::InboundEvent)s: pure code, no server, no
//! database, no clock. [`media`] downloads inbound media over HTTP, with failures
//! classified in [`ProviderError`]. One module per provider holds what is
//! particular to it (and, later, the client that sends through it).

pub mod error;
pub mod hosts;
pub mod lipachat;
pub mod media;
pub mod meta;
pub mod tata;
pub mod verify;
pub mod webhook;
pub mod whats91;

pub use error::ProviderError;
pub use verify::VerifyError;
pub use webhook::{ParseError, parse};
