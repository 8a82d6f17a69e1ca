//! Lipachat (gateway.lipachat.com): flat JSON webhooks, unsigned, so a secret token in
//! our webhook URL proves the caller (see `verify::url_token`).

pub mod webhook;
