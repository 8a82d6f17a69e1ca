//! Whether a stored, unrevoked API key may be used now: it must not have
//! expired, and the staff member who created it must still be active (a key
//! must not outlive its creator's access; deleting the creator revokes it).

use chrono::{DateTime, Utc};
use wacrm_persistence::api_keys::Found;

use crate::error::{ApiError, ApiResult};

pub fn admit(found: &Found, now: DateTime<Utc>) -> ApiResult<()> {
    if found.key.expires_at.is_some_and(|expires| expires <= now) {
        return Err(ApiError::unauthorized(
            "api_key_expired",
            "the API key has expired; create a new one",
        ));
    }
    if found.creator_active == Some(false) {
        return Err(ApiError::unauthorized(
            "api_key_creator_inactive",
            "the staff member who created this API key is deactivated",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use chrono::Duration;
    use uuid::Uuid;
    use wacrm_persistence::api_keys::ApiKey;

    use super::*;

    fn found(expires_at: Option<DateTime<Utc>>, creator_active: Option<bool>) -> Found {
        Found {
            key: ApiKey {
                id: Uuid::now_v7(),
                name: "k".into(),
                prefix: "wacrm_abcdef".into(),
                secret_hash: vec![0; 32],
                permissions: vec!["leads:view".into()],
                created_by: creator_active.map(|_| Uuid::now_v7()),
                created_at: Utc::now(),
                last_used_at: None,
                revoked_at: None,
                expires_at,
            },
            creator_active,
        }
    }

    fn code(result: ApiResult<()>) -> &'static str {
        result.err().map_or("admitted", |error| error.code())
    }

    #[test]
    fn expiry_and_the_creators_state_decide() {
        let now = Utc::now();
        let cases = [
            (None, Some(true), "admitted"),
            (None, None, "admitted"),
            (Some(now + Duration::seconds(1)), Some(true), "admitted"),
            (Some(now), Some(true), "api_key_expired"),
            (Some(now - Duration::days(1)), None, "api_key_expired"),
            (None, Some(false), "api_key_creator_inactive"),
        ];
        for (expires_at, creator_active, expected) in cases {
            assert_eq!(
                code(admit(&found(expires_at, creator_active), now)),
                expected,
                "{expires_at:?} {creator_active:?}"
            );
        }
    }
}
