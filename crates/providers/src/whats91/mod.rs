//! Whats91 (graph.whats91.com) Webhooks v2: `{event, data}` envelopes signed with
//! `X-Whats91-Signature` (see `verify::whats91_signature`).
//!
//! Outbound, `client` sends through its v2 API (`/chat` and the Meta-compatible
//! `/messages`); `templates` lists the account's templates (`GET /templates`).

pub(crate) mod client;
pub(crate) mod templates;
pub mod webhook;
