//! Meta's WhatsApp Cloud API (Graph API).
//!
//! The webhook envelope is read in `webhook`; one message, one status and one template
//! update are read in `message`, `status` and `template`, which TATA (Meta-shaped) and the
//! flat providers (turned into Meta's shape) share.

pub(crate) mod body;
pub(crate) mod message;
pub(crate) mod status;
pub(crate) mod template;
pub mod webhook;
