//! Access tokens (short JWTs, HS256 pinned) and opaque secrets (refresh tokens,
//! API keys), which are stored only as SHA-256 digests: they are 256 random
//! bits, so a fast digest is as safe as a slow password hash here.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};

pub const ISSUER: &str = "wacrm";
pub const AUDIENCE: &str = "wacrm-api";
/// Access tokens live 15 minutes.
pub const ACCESS_TOKEN_SECONDS: i64 = 15 * 60;
/// Refresh tokens live 30 days, and each is good for one refresh.
pub const REFRESH_TOKEN_DAYS: i64 = 30;

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: Uuid,
    /// The session: the refresh-token family of the login that issued this
    /// token. Revoking the family (logout, refresh-token reuse) ends the token.
    pub sid: Uuid,
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
}

pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl TokenKeys {
    pub fn new(secret: &SecretString) -> Self {
        let bytes = secret.expose_secret().as_bytes();
        // Only HS256 is accepted: a token naming another algorithm is rejected.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        // `sid` is required too: a token without it fails to deserialise.
        validation.leeway = 5;
        Self {
            encoding: EncodingKey::from_secret(bytes),
            decoding: DecodingKey::from_secret(bytes),
            validation,
        }
    }

    pub fn issue(&self, staff_id: Uuid, session_id: Uuid) -> ApiResult<String> {
        let now = Utc::now().timestamp();
        let claims = Claims {
            sub: staff_id,
            sid: session_id,
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            iat: now,
            exp: now + ACCESS_TOKEN_SECONDS,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(ApiError::internal)
    }

    pub fn verify(&self, token: &str) -> ApiResult<Claims> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|error| match error.kind() {
                ErrorKind::ExpiredSignature => ApiError::unauthorized(
                    "token_expired",
                    "the access token has expired; refresh it",
                ),
                _ => ApiError::unauthorized("invalid_token", "the access token is not valid"),
            })
    }
}

/// 256 random bits, URL-safe.
pub fn new_secret() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

pub fn digest(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(secret: &str) -> TokenKeys {
        TokenKeys::new(&SecretString::from(secret.to_owned()))
    }

    #[test]
    fn an_issued_token_verifies_to_its_subject() {
        let keys = keys("s3cret");
        let (id, session) = (Uuid::now_v7(), Uuid::now_v7());
        let claims = keys.verify(&keys.issue(id, session).unwrap()).unwrap();
        assert_eq!((claims.sub, claims.sid), (id, session));
    }

    #[test]
    fn another_secret_is_rejected() {
        let token = keys("one").issue(Uuid::now_v7(), Uuid::now_v7()).unwrap();
        assert_eq!(
            keys("two").verify(&token).unwrap_err().code(),
            "invalid_token"
        );
    }

    #[test]
    fn other_algorithms_are_rejected() {
        let claims = Claims {
            sub: Uuid::now_v7(),
            sid: Uuid::now_v7(),
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            iat: Utc::now().timestamp(),
            exp: Utc::now().timestamp() + 60,
        };
        let token = jsonwebtoken::encode(
            &Header::new(Algorithm::HS512),
            &claims,
            &EncodingKey::from_secret(b"s3cret"),
        )
        .unwrap();
        assert_eq!(
            keys("s3cret").verify(&token).unwrap_err().code(),
            "invalid_token"
        );
    }

    #[test]
    fn secrets_are_unique_and_digests_stable() {
        assert_ne!(new_secret(), new_secret());
        assert_eq!(digest("a"), digest("a"));
        assert_eq!(digest("a").len(), 32);
    }
}
