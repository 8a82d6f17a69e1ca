//! Integrators' webhook endpoints (admin only): where wacrm POSTs the events
//! they subscribed to, signed the Standard Webhooks way, with the history of
//! every delivery and the means to send some again.

mod deliveries;
mod endpoints;

pub use deliveries::*;
pub use endpoints::*;
