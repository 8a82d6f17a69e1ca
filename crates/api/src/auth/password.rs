//! Password hashing: argon2id with OWASP's parameters (m=19456 KiB, t=2, p=1).
//!
//! Each hash takes 19 MiB and a core for tens of milliseconds, so at most one
//! per core runs at a time; the rest wait their turn without holding anything
//! else (callers release their database connection first).

use std::sync::LazyLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

use crate::error::{ApiError, ApiResult};

/// `Params::DEFAULT` is exactly m=19456, t=2, p=1 (checked in a test below).
fn hasher() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::DEFAULT)
}

/// Turns to run a hash: one per core.
static TURNS: LazyLock<Semaphore> = LazyLock::new(|| {
    Semaphore::new(std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get))
});

/// Runs `work` on a blocking thread once a turn is free.
async fn bounded<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> ApiResult<T> {
    let _turn = TURNS.acquire().await.map_err(ApiError::internal)?;
    actix_web::web::block(work)
        .await
        .map_err(ApiError::internal)
}

/// Hashes on a blocking thread: argon2 is deliberately slow.
pub async fn hash(password: String) -> ApiResult<String> {
    bounded(move || {
        let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
        hasher()
            .hash_password(password.as_bytes(), &salt)
            .map(|hash| hash.to_string())
    })
    .await?
    .map_err(ApiError::internal)
}

/// Verifies on a blocking thread. Without a stored hash it still does the same
/// work, so response timing does not reveal which emails exist.
pub async fn verify(password: String, stored: Option<String>) -> ApiResult<bool> {
    bounded(move || match stored {
        Some(stored) => PasswordHash::new(&stored)
            .map(|parsed| {
                hasher()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false),
        None => {
            let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
            let _ = hasher().hash_password(password.as_bytes(), &salt);
            false
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_owasps() {
        let params = Params::DEFAULT;
        assert_eq!(
            (params.m_cost(), params.t_cost(), params.p_cost()),
            (19456, 2, 1)
        );
    }

    #[actix_web::test]
    async fn a_hash_verifies_its_password_only() {
        let stored = hash("correct horse".into()).await.unwrap();
        assert!(stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(
            verify("correct horse".into(), Some(stored.clone()))
                .await
                .unwrap()
        );
        assert!(!verify("wrong horse".into(), Some(stored)).await.unwrap());
        assert!(!verify("correct horse".into(), None).await.unwrap());
    }
}
