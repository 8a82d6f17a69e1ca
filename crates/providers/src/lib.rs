//! The WhatsApp providers wacrm speaks to: Meta's Cloud API, Lipachat, Whats91 and TATA.
//!
//! Inbound, [`verify`] decides on a webhook request's raw bytes whether the provider
//! sent it, and [`webhook::parse`] turns a verified body into the domain's
//! [`InboundEvent`](wacrm_domain::inbound::InboundEvent)s: pure code, no server, no
//! database, no clock. [`media`] downloads inbound media over HTTP.
//!
//! Outbound, [`ProviderClient`] sends every message type, marks messages read and lists
//! templates, returning an [`Outcome`]: the result, with failures classified in
//! [`ProviderError`], and a redacted [`CallRecord`] of every HTTP call for the
//! activity log. One module per provider holds what is particular to it.

pub mod ai;
pub mod call;
pub mod client;
pub mod egress;
pub mod error;
mod failure;
pub mod hosts;
pub mod lipachat;
pub mod media;
pub mod meta;
pub(crate) mod redact;
pub mod tata;
pub mod templates;
pub mod verify;
pub mod webhook;
pub mod whats91;

pub use call::{CallRecord, Outcome};
pub use client::{ProviderClient, SenderNumber, Sent, Unsupported};
pub use error::ProviderError;
pub use templates::RemoteTemplate;
pub use verify::VerifyError;
pub use webhook::{ParseError, parse};

#[cfg(test)]
mod fake_provider;
