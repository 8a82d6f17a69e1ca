//! Meta's WhatsApp Cloud API (Graph API).
//!
//! The webhook envelope is read in `webhook`; one message, one status and one template
//! update are read in `message`, `status` and `template`, which TATA (Meta-shaped) and the
//! flat providers (turned into Meta's shape) share. Outbound, `outbound` builds the
//! message body (which TATA and Whats91 also take), `client` makes the calls and
//! `errors` reads Meta's refusals. `customer_change` reads the system messages that
//! give a customer a new phone or business-scoped user id.

pub(crate) mod body;
pub(crate) mod client;
pub(crate) mod customer_change;
pub(crate) mod errors;
pub(crate) mod events;
pub(crate) mod message;
pub(crate) mod outbound;
pub(crate) mod status;
pub(crate) mod template;
pub mod webhook;
