//! An endpoint's signing secret as Standard Webhooks writes it: `whsec_`
//! followed by the base64 of the key bytes. Receivers' libraries decode the
//! part after the prefix and use those bytes as the HMAC key, so the format is
//! part of the contract.

use std::fmt;

pub const SECRET_PREFIX: &str = "whsec_";

/// The specification asks for 24 to 64 bytes of key.
const MIN_KEY_BYTES: usize = 24;
const MAX_KEY_BYTES: usize = 64;

/// A secret whose key is known to be well-formed. `Debug` does not show it.
#[derive(Clone, PartialEq, Eq)]
pub struct EndpointSecret {
    key: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a webhook secret is `whsec_` and the base64 of 24 to 64 bytes")]
pub struct InvalidSecret;

impl EndpointSecret {
    /// From key bytes (random, chosen by the caller: the domain does no I/O).
    pub fn from_key(key: Vec<u8>) -> Result<Self, InvalidSecret> {
        if (MIN_KEY_BYTES..=MAX_KEY_BYTES).contains(&key.len()) {
            Ok(Self { key })
        } else {
            Err(InvalidSecret)
        }
    }

    /// Reads `whsec_<base64>`, decoding with `decode` (the base64 engine is
    /// the caller's, to keep this crate's dependencies as they are).
    pub fn parse(
        text: &str,
        decode: impl FnOnce(&str) -> Option<Vec<u8>>,
    ) -> Result<Self, InvalidSecret> {
        let encoded = text.strip_prefix(SECRET_PREFIX).ok_or(InvalidSecret)?;
        Self::from_key(decode(encoded).ok_or(InvalidSecret)?)
    }

    /// The HMAC key.
    pub fn key(&self) -> &[u8] {
        &self.key
    }

    /// `whsec_<base64>`, with the caller's base64 engine.
    pub fn expose(&self, encode: impl FnOnce(&[u8]) -> String) -> String {
        format!("{SECRET_PREFIX}{}", encode(&self.key))
    }
}

impl fmt::Debug for EndpointSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EndpointSecret(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_needs_its_prefix_and_a_key_of_the_allowed_length() {
        let decode = |text: &str| Some(text.as_bytes().to_vec());
        assert!(EndpointSecret::parse(&format!("whsec_{}", "k".repeat(32)), decode).is_ok());
        assert_eq!(
            EndpointSecret::parse(&"k".repeat(32), decode),
            Err(InvalidSecret)
        );
        assert_eq!(
            EndpointSecret::parse(&format!("whsec_{}", "k".repeat(8)), decode),
            Err(InvalidSecret)
        );
        assert_eq!(
            format!("{:?}", EndpointSecret::from_key(vec![1; 32]).unwrap()),
            "EndpointSecret(..)"
        );
    }
}
