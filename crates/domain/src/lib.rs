//! The rules of wacrm that need no I/O: phone numbers and permissions so far.
//!
//! Nothing here imports diesel, actix, reqwest or tokio; every rule is a plain
//! function or type that the other crates call, and it is tested with plain
//! `#[test]`s and proptest.

pub mod permission;
pub mod phone;

pub use permission::{Permission, PermissionSet, UnknownPermission};
pub use phone::{Country, NormalizedPhone, PhoneError};
