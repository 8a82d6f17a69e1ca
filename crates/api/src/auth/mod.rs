//! Who is calling and what they may do: passwords, tokens, API keys, the
//! request principal and login throttling.

pub mod api_key;
pub mod password;
pub mod principal;
pub mod throttle;
pub mod tokens;
pub mod visibility;

pub use principal::Principal;
pub use visibility::{Visibility, visible_conversation};
