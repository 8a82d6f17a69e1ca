//! Whats91 (graph.whats91.com) Webhooks v2: `{event, data}` envelopes signed with
//! `X-Whats91-Signature` (see `verify::whats91_signature`).
//!
//! Outbound, `client` sends through its v2 API (`/chat`, `/send`, and the
//! Meta-compatible `/messages`).

pub(crate) mod client;
pub mod webhook;
