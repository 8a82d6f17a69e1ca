//! Whats91 (graph.whats91.com) Webhooks v2: `{event, data}` envelopes signed with
//! `X-Whats91-Signature` (see `verify::whats91_signature`).

pub mod webhook;
