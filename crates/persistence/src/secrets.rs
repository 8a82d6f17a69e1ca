//! Secrets at rest: AES-256-GCM under the master key, with the owning row's id
//! as associated data, so a sealed value copied onto another row fails to open.

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use uuid::Uuid;

/// GCM's standard 96-bit nonce, stored in front of the ciphertext.
const NONCE_LEN: usize = 12;

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("the master key must be 32 bytes")]
    KeyLength,
    #[error("a stored secret could not be decrypted (wrong master key or tampered row)")]
    Undecryptable,
}

#[derive(Clone)]
pub struct Cipher(Aes256Gcm);

impl std::fmt::Debug for Cipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cipher { .. }")
    }
}

impl Cipher {
    pub fn new(master_key: &[u8]) -> Result<Self, SecretError> {
        Aes256Gcm::new_from_slice(master_key)
            .map(Self)
            .map_err(|_| SecretError::KeyLength)
    }

    /// `nonce || ciphertext`, bound to `row_id`.
    pub fn seal(&self, row_id: Uuid, plaintext: &[u8]) -> Vec<u8> {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let payload = Payload {
            msg: plaintext,
            aad: row_id.as_bytes(),
        };
        // Encryption only fails for inputs beyond GCM's ~64 GiB limit.
        let ciphertext = self.0.encrypt(&nonce, payload).unwrap_or_default();
        nonce.iter().chain(&ciphertext).copied().collect()
    }

    pub fn open(&self, row_id: Uuid, sealed: &[u8]) -> Result<Vec<u8>, SecretError> {
        if sealed.len() < NONCE_LEN {
            return Err(SecretError::Undecryptable);
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| SecretError::Undecryptable)?;
        self.0
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: ciphertext,
                    aad: row_id.as_bytes(),
                },
            )
            .map_err(|_| SecretError::Undecryptable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_for_their_row_and_key() {
        let cipher = Cipher::new(&[7; 32]).unwrap();
        let row = Uuid::now_v7();
        let sealed = cipher.seal(row, b"EAAG-token");
        assert!(!sealed.windows(4).any(|w| w == b"EAAG"));
        assert_eq!(cipher.open(row, &sealed).unwrap(), b"EAAG-token");
        assert!(cipher.open(Uuid::now_v7(), &sealed).is_err(), "another row");
        assert!(
            Cipher::new(&[8; 32]).unwrap().open(row, &sealed).is_err(),
            "another key"
        );
        let mut tampered = sealed.clone();
        tampered[20] ^= 1;
        assert!(cipher.open(row, &tampered).is_err());
    }

    #[test]
    fn nonces_differ_between_seals() {
        let cipher = Cipher::new(&[7; 32]).unwrap();
        let row = Uuid::now_v7();
        assert_ne!(cipher.seal(row, b"x"), cipher.seal(row, b"x"));
    }

    #[test]
    fn short_keys_are_refused() {
        assert!(matches!(Cipher::new(&[0; 16]), Err(SecretError::KeyLength)));
    }
}
