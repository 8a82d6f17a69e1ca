//! Template notifications on CRM events: the mappings an admin sets up
//! ([`mappings`]) and the log of what they sent or skipped ([`log`]).

pub mod log;
pub mod mappings;
