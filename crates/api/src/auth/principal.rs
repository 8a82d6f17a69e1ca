//! The caller of a request: a staff member (bearer access token) or an API key
//! (`X-Api-Key`), with the permissions they hold. Staff are loaded on every
//! request, together with whether the token's session was revoked (one
//! indexed query), so deactivation, permission changes and logout apply at
//! once; a key is checked for expiry and its creator's state the same way.

use std::future::Future;
use std::pin::Pin;

use actix_web::{FromRequest, HttpRequest, dev::Payload, http::header, web};
use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use uuid::Uuid;
use wacrm_domain::{Permission, PermissionSet};
use wacrm_persistence::{api_keys, sessions};

use crate::auth::{api_key, tokens};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

pub const API_KEY_HEADER: &str = "x-api-key";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    /// A staff member, signed in by the session (refresh-token family) `session`.
    Staff {
        id: Uuid,
        session: Uuid,
    },
    ApiKey(Uuid),
}

#[derive(Debug, Clone)]
pub struct Principal {
    pub caller: Caller,
    pub permissions: PermissionSet,
    /// The staff member whose inbox view applies (see `visibility`): the staff
    /// member calling, or the one who created the API key.
    pub acts_for: Option<Uuid>,
    /// When the credential stops working on its own (an access token's `exp`);
    /// long-lived streams end then.
    pub expires_at: Option<DateTime<Utc>>,
}

impl Principal {
    /// 403 `permission_denied` naming `permission` unless the caller holds it.
    pub fn require(&self, permission: Permission) -> ApiResult<()> {
        if self.permissions.allows(permission) {
            Ok(())
        } else {
            Err(ApiError::missing_permission(permission))
        }
    }

    pub fn staff_id(&self) -> Option<Uuid> {
        match self.caller {
            Caller::Staff { id, .. } => Some(id),
            Caller::ApiKey(_) => None,
        }
    }

    async fn authenticate(request: HttpRequest) -> ApiResult<Self> {
        let state = request
            .app_data::<web::Data<AppState>>()
            .ok_or_else(|| ApiError::internal("AppState is not registered"))?;
        let headers = request.headers();
        let bearer = headers.get(header::AUTHORIZATION).map(|value| {
            value
                .to_str()
                .ok()
                .and_then(|value| value.strip_prefix("Bearer "))
                .ok_or_else(|| {
                    ApiError::unauthorized(
                        "invalid_token",
                        "the Authorization header is not `Bearer <access token>`",
                    )
                })
        });
        if let Some(key) = headers.get(API_KEY_HEADER) {
            let mut conn = state.conn().await?;
            // Every credential a request carries must hold: an invalid token beside a
            // valid key (forged, expired, or of an ended session or an inactive
            // account) is refused, never ignored. The key then acts.
            if let Some(token) = bearer {
                let claims = state.tokens.verify(token?.trim())?;
                Self::of_staff(&mut conn, claims.sub, claims.sid, None).await?;
            }
            let key = key.to_str().unwrap_or_default();
            let found = api_keys::find_unrevoked(&mut conn, &tokens::digest(key))
                .await?
                .ok_or_else(key_refused)?;
            let now = Utc::now();
            api_key::admit(&found, now)?;
            api_keys::record_use(&mut conn, &found.key, now).await?;
            return Self::of_key(&found.key);
        }
        let token = bearer.ok_or_else(|| {
            ApiError::unauthorized(
                "unauthenticated",
                "send `Authorization: Bearer <access token>` or `X-Api-Key`",
            )
        })??;
        let claims = state.tokens.verify(token.trim())?;
        let mut conn = state.conn().await?;
        let expires_at = DateTime::from_timestamp(claims.exp, 0);
        Self::of_staff(&mut conn, claims.sub, claims.sid, expires_at).await
    }

    /// The caller as it stands now: a stream re-checks it, so a deactivated
    /// account, an ended session, a revoked or expired key or changed
    /// permissions take effect on open streams.
    pub async fn reload(&self, conn: &mut AsyncPgConnection) -> ApiResult<Self> {
        match self.caller {
            Caller::Staff { id, session } => {
                Self::of_staff(conn, id, session, self.expires_at).await
            }
            Caller::ApiKey(id) => {
                let found = api_keys::find_unrevoked_by_id(conn, id)
                    .await?
                    .ok_or_else(key_refused)?;
                api_key::admit(&found, Utc::now())?;
                Self::of_key(&found.key)
            }
        }
    }

    async fn of_staff(
        conn: &mut AsyncPgConnection,
        id: Uuid,
        session: Uuid,
        expires_at: Option<DateTime<Utc>>,
    ) -> ApiResult<Self> {
        let member = match sessions::staff_in_session(conn, id, session).await? {
            Some((_, true)) => {
                return Err(ApiError::unauthorized(
                    "session_revoked",
                    "this session has ended (logout, or its refresh token was reused); sign in again",
                ));
            }
            Some((member, false)) if member.is_active => member,
            Some(_) | None => {
                return Err(ApiError::unauthorized(
                    "invalid_token",
                    "the account is not active",
                ));
            }
        };
        Ok(Self {
            caller: Caller::Staff {
                id: member.id,
                session,
            },
            permissions: PermissionSet::parse(&member.permissions).map_err(ApiError::internal)?,
            acts_for: Some(member.id),
            expires_at,
        })
    }

    fn of_key(key: &api_keys::ApiKey) -> ApiResult<Self> {
        Ok(Self {
            caller: Caller::ApiKey(key.id),
            permissions: PermissionSet::parse(&key.permissions).map_err(ApiError::internal)?,
            acts_for: key.created_by,
            expires_at: None,
        })
    }
}

fn key_refused() -> ApiError {
    ApiError::unauthorized("invalid_api_key", "the API key is unknown or revoked")
}

impl FromRequest for Principal {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        Box::pin(Self::authenticate(request.clone()))
    }
}
