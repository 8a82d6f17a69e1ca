//! Template notifications on CRM events: the mappings from an event type to
//! a template ([`mappings`]) and the log of what each produced ([`log`]).

pub mod log;
pub mod mappings;
