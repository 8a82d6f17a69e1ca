//! Lipachat (gateway.lipachat.com): flat JSON webhooks, unsigned, so a secret token in
//! our webhook URL proves the caller (see `verify::url_token`).
//!
//! Outbound, `client` sends through its REST API (`apiKey` header).

pub(crate) mod client;
pub mod webhook;
