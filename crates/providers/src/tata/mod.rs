//! TATA (Tata Tele Business Services): Meta-shaped messages and statuses in TATA's own
//! envelope, unsigned, so a secret token in our webhook URL proves the caller.
//!
//! Outbound, `client` sends Meta's body to TATA's `/whatsapp-cloud/messages`.

pub(crate) mod client;
pub mod webhook;
