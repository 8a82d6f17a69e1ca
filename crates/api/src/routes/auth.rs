//! Login, refresh-token rotation, logout and `me`.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use chrono::{Duration, Utc};
use diesel_async::AsyncConnection as _;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use wacrm_persistence::{AsyncPgConnection, StoreError, sessions, staff};

use crate::auth::throttle::LoginKeys;
use crate::auth::tokens::{self, ACCESS_TOKEN_SECONDS, REFRESH_TOKEN_DAYS};
use crate::auth::{Principal, password};
use crate::error::{ApiError, ApiResult, Problem};
use crate::routes::staff::StaffResponse;
use crate::state::AppState;
use crate::validation::Checks;

/// RFC 5321's limit for an address.
const MAX_EMAIL_BYTES: usize = 254;
/// The same cap staff passwords are set under.
const MAX_PASSWORD_BYTES: usize = 1024;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

#[derive(Serialize, ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    /// Opaque; good for one refresh within 30 days.
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
}

/// Exchange email and password for an access token and a refresh token.
#[utoipa::path(tag = "auth", request_body = LoginRequest, responses(
    (status = 200, body = TokenResponse),
    (status = 401, body = Problem, content_type = "application/problem+json", description = "`invalid_credentials`"),
    (status = 422, body = Problem, content_type = "application/problem+json", description = "`validation_failed`: an email over 254 bytes or a password over 1024"),
    (status = 429, body = Problem, content_type = "application/problem+json", description = "`too_many_requests`, with Retry-After"),
))]
#[post("/auth/login")]
pub async fn login(
    state: web::Data<AppState>,
    request: HttpRequest,
    body: web::Json<LoginRequest>,
) -> ApiResult<HttpResponse> {
    let LoginRequest { email, password } = body.into_inner();
    // Checked before any work: a megabyte "email" would otherwise be a key
    // stored by the throttle and hashed into a query.
    let mut checks = Checks::default();
    if email.len() > MAX_EMAIL_BYTES {
        checks.fail("email", format!("must be at most {MAX_EMAIL_BYTES} bytes"));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        checks.fail(
            "password",
            format!("must be at most {MAX_PASSWORD_BYTES} bytes"),
        );
    }
    checks.finish()?;
    // The peer address, not X-Forwarded-For, which any client can forge.
    let address = request
        .peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_default();
    let keys = LoginKeys::new(&email, &address);
    let member = {
        let mut conn = state.conn().await?;
        keys.record_attempt(&mut conn).await?;
        staff::find_by_email(&mut conn, email.trim()).await?
    };
    // The connection is back in the pool while the password is hashed.
    let stored = member.as_ref().map(|m| m.password_hash.clone());
    let valid = password::verify(password, stored).await?;
    let member = match member {
        Some(member) if valid && member.is_active => member,
        // The attempt is already counted.
        _ => {
            return Err(ApiError::unauthorized(
                "invalid_credentials",
                "the email or password is wrong",
            ));
        }
    };
    let mut conn = state.conn().await?;
    keys.record_success(&mut conn).await?;
    let pair = issue_pair(&state, &mut conn, member.id, Uuid::now_v7()).await?;
    Ok(HttpResponse::Ok().json(pair))
}

/// Trade a refresh token for a new pair. Each refresh token works once: using
/// one again revokes every token descended from the same login.
#[utoipa::path(tag = "auth", request_body = RefreshRequest, responses(
    (status = 200, body = TokenResponse),
    (status = 401, body = Problem, content_type = "application/problem+json", description = "`invalid_refresh_token` or `refresh_token_reused`"),
))]
#[post("/auth/refresh")]
pub async fn refresh(
    state: web::Data<AppState>,
    body: web::Json<RefreshRequest>,
) -> ApiResult<HttpResponse> {
    let hash = tokens::digest(&body.refresh_token);
    let mut conn = state.conn().await?;
    let (state, token_hash) = (state.clone(), hash.clone());
    let pair = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let Some(used) = sessions::consume(conn, &token_hash, Utc::now()).await? else {
                return Ok(None);
            };
            match staff::find(conn, used.staff_id).await {
                Ok(member) if member.is_active => {}
                Ok(_) | Err(StoreError::NotFound) => return Err(invalid_refresh()),
                Err(other) => return Err(other.into()),
            }
            issue_pair(&state, conn, used.staff_id, used.family_id)
                .await
                .map(Some)
        })
        .await?;
    match pair {
        Some(pair) => Ok(HttpResponse::Ok().json(pair)),
        // Outside the transaction: a revocation must stick even though we refuse.
        None => Err(reject_refresh(&mut conn, &hash).await),
    }
}

/// Why a refresh token was refused; a reused one takes its whole family down.
async fn reject_refresh(conn: &mut AsyncPgConnection, hash: &[u8]) -> ApiError {
    match sessions::find_by_hash(conn, hash).await {
        Ok(Some(token)) if token.used_at.is_some() => {
            if let Err(error) = sessions::revoke_family(conn, token.family_id).await {
                return error.into();
            }
            tracing::warn!(staff_id = %token.staff_id, family = %token.family_id, "refresh token reused; family revoked");
            ApiError::unauthorized(
                "refresh_token_reused",
                "this refresh token was already used; every session from that login is now revoked",
            )
        }
        Ok(_) => invalid_refresh(),
        Err(error) => error.into(),
    }
}

fn invalid_refresh() -> ApiError {
    ApiError::unauthorized(
        "invalid_refresh_token",
        "the refresh token is unknown, expired or revoked",
    )
}

/// End the session the refresh token belongs to: its refresh tokens and the
/// access tokens issued in it stop working at once. Unknown tokens are ignored.
#[utoipa::path(tag = "auth", request_body = RefreshRequest, responses((status = 204)))]
#[post("/auth/logout")]
pub async fn logout(
    state: web::Data<AppState>,
    body: web::Json<RefreshRequest>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.conn().await?;
    if let Some(token) =
        sessions::find_by_hash(&mut conn, &tokens::digest(&body.refresh_token)).await?
    {
        sessions::revoke_family(&mut conn, token.family_id).await?;
    }
    Ok(HttpResponse::NoContent().finish())
}

/// The signed-in staff member and their permissions.
#[utoipa::path(tag = "auth", security(("bearer" = [])), responses(
    (status = 200, body = StaffResponse),
    (status = 401, body = Problem, content_type = "application/problem+json", description = "`staff_only` when called with an API key, which has no staff profile"),
))]
#[get("/me")]
pub async fn me(
    state: web::Data<AppState>,
    principal: Principal,
) -> ApiResult<web::Json<StaffResponse>> {
    let id = principal.staff_id().ok_or_else(|| {
        ApiError::unauthorized(
            "staff_only",
            "an API key has no staff profile: sign in as a staff member",
        )
    })?;
    let mut conn = state.conn().await?;
    Ok(web::Json(staff::find(&mut conn, id).await?.into()))
}

async fn issue_pair(
    state: &AppState,
    conn: &mut AsyncPgConnection,
    staff_id: Uuid,
    family_id: Uuid,
) -> ApiResult<TokenResponse> {
    let refresh_token = tokens::new_secret();
    sessions::insert(
        conn,
        sessions::NewRefreshToken {
            id: Uuid::now_v7(),
            family_id,
            staff_id,
            token_hash: tokens::digest(&refresh_token),
            expires_at: Utc::now() + Duration::days(REFRESH_TOKEN_DAYS),
        },
    )
    .await?;
    Ok(TokenResponse {
        access_token: state.tokens.issue(staff_id, family_id)?,
        refresh_token,
        token_type: "Bearer".into(),
        expires_in: ACCESS_TOKEN_SECONDS,
    })
}
