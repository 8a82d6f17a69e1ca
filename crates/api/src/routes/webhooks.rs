//! Provider webhooks (public): verified on the raw bytes, stored durably with
//! their processing job, and only then answered 200.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use futures_util::StreamExt as _;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use utoipa::IntoParams;
use uuid::Uuid;
use wacrm_domain::Provider;
use wacrm_persistence::connections::Connection;
use wacrm_persistence::webhook_events::{self, NewWebhookEvent};
use wacrm_providers::verify::{self, VerifyError};

use crate::connection_cache::unknown_connection;
use crate::error::{ApiError, ApiResult, Problem};
use crate::state::AppState;

/// Largest webhook body accepted (Meta batches can be large).
pub const WEBHOOK_BODY_LIMIT: usize = 3 * 1024 * 1024;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HubQuery {
    #[serde(rename = "hub.mode")]
    #[param(rename = "hub.mode")]
    pub mode: Option<String>,
    #[serde(rename = "hub.verify_token")]
    #[param(rename = "hub.verify_token")]
    pub verify_token: Option<String>,
    #[serde(rename = "hub.challenge")]
    #[param(rename = "hub.challenge")]
    pub challenge: Option<String>,
}

/// Meta's subscription check: echoes `hub.challenge` when the token matches.
#[utoipa::path(tag = "webhooks", params(("connection_id" = Uuid, Path), HubQuery), responses(
    (status = 200, content_type = "text/plain", body = String, description = "the challenge"),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
#[get("/webhooks/meta/{connection_id}")]
pub async fn verify_meta_webhook(
    state: web::Data<AppState>,
    connection_id: web::Path<Uuid>,
    query: web::Query<HubQuery>,
) -> ApiResult<HttpResponse> {
    let connection = connection_of(&state, Provider::Meta, *connection_id).await?;
    let expected = connection
        .credentials
        .verify_token
        .as_deref()
        .unwrap_or_default();
    match verify::meta_challenge(
        expected,
        query.mode.as_deref(),
        query.verify_token.as_deref(),
        query.challenge.as_deref(),
    ) {
        Some(challenge) => Ok(HttpResponse::Ok()
            .content_type("text/plain")
            .body(challenge)),
        None => Err(ApiError::forbidden(
            "verification_failed",
            "the verify token does not match",
        )),
    }
}

/// A signed webhook from Meta (`X-Hub-Signature-256`) or Whats91 (`X-Whats91-Signature`).
#[utoipa::path(tag = "webhooks", params(("provider" = String, Path), ("connection_id" = Uuid, Path)),
    request_body(content = serde_json::Value, description = "the provider's payload, as sent"),
    responses(
        (status = 200, description = "stored; it will be processed"),
        (status = 401, body = Problem, content_type = "application/problem+json", description = "`invalid_signature`; nothing stored"),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "`unknown_connection`"),
        (status = 413, body = Problem, content_type = "application/problem+json"),
        (status = 503, body = Problem, content_type = "application/problem+json", description = "not stored; retry"),
    ))]
#[post("/webhooks/{provider}/{connection_id}")]
pub async fn receive_webhook(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<(String, Uuid)>,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let (provider, connection_id) = path.into_inner();
    receive(&state, &request, &provider, connection_id, None, payload).await
}

/// A webhook from Lipachat or TATA, which do not sign: the URL carries a secret.
#[utoipa::path(tag = "webhooks", params(("provider" = String, Path), ("connection_id" = Uuid, Path), ("token" = String, Path)),
    request_body(content = serde_json::Value, description = "the provider's payload, as sent"),
    responses(
        (status = 200, description = "stored; it will be processed"),
        (status = 401, body = Problem, content_type = "application/problem+json", description = "`invalid_token`; nothing stored"),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "`unknown_connection`"),
        (status = 413, body = Problem, content_type = "application/problem+json"),
        (status = 503, body = Problem, content_type = "application/problem+json", description = "not stored; retry"),
    ))]
#[post("/webhooks/{provider}/{connection_id}/{token}")]
pub async fn receive_webhook_with_token(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<(String, Uuid, String)>,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let (provider, connection_id, token) = path.into_inner();
    receive(
        &state,
        &request,
        &provider,
        connection_id,
        Some(&token),
        payload,
    )
    .await
}

async fn receive(
    state: &AppState,
    request: &HttpRequest,
    provider: &str,
    connection_id: Uuid,
    url_token: Option<&str>,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let provider = Provider::parse(provider).ok_or_else(unknown_connection)?;
    let connection = connection_of(state, provider, connection_id).await?;
    let body = read_limited(payload, WEBHOOK_BODY_LIMIT).await?;
    authenticate(&connection, request, url_token, &body).map_err(|error| {
        tracing::warn!(%connection_id, %provider, ?error, "webhook refused");
        ApiError::unauthorized(
            "invalid_signature",
            "the webhook's signature or token is not valid",
        )
    })?;
    // A signed body that is not even JSON is kept, failed, for an admin to see;
    // the provider still gets its 200 so it stops retrying.
    let not_json = serde_json::from_slice::<serde::de::IgnoredAny>(&body).err();
    let event = NewWebhookEvent {
        id: Uuid::now_v7(),
        connection_id,
        provider: provider.as_str().to_owned(),
        event_key: Sha256::digest(&body).to_vec(),
        body: body.to_vec(),
        status: if not_json.is_some() {
            webhook_events::FAILED
        } else {
            webhook_events::PENDING
        }
        .to_owned(),
        error: not_json.map(|error| format!("the body is not JSON: {error}")),
    };
    state.ingest.store(event).await.map_err(|_| {
        ApiError::new(
            actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
            "ingest_unavailable",
            "the webhook could not be stored; retry",
        )
    })?;
    Ok(HttpResponse::Ok().finish())
}

fn authenticate(
    connection: &Connection,
    request: &HttpRequest,
    url_token: Option<&str>,
    body: &[u8],
) -> Result<(), VerifyError> {
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
    };
    let secret = |field: &str| {
        connection
            .credentials
            .get(field)
            .unwrap_or_default()
            .as_bytes()
            .to_vec()
    };
    match connection.provider {
        Provider::Meta => {
            verify::meta_signature(&secret("app_secret"), body, header("x-hub-signature-256"))
        }
        Provider::Whats91 => verify::whats91_signature(
            &secret("signing_secret"),
            connection.credentials.get("verification_token"),
            body,
            header("x-whats91-signature"),
            header("x-crm-webhook-token"),
        ),
        Provider::Lipachat | Provider::Tata => {
            // The current token, or the one a rotation replaced while its grace lasts.
            let given = url_token.ok_or(VerifyError::BadToken)?;
            let accepted = connection.credentials.webhook_tokens(chrono::Utc::now());
            accepted
                .iter()
                .map(|expected| verify::url_token(expected, given))
                .find(Result::is_ok)
                .unwrap_or(Err(VerifyError::BadToken))
        }
    }
}

async fn connection_of(
    state: &AppState,
    provider: Provider,
    id: Uuid,
) -> ApiResult<std::sync::Arc<Connection>> {
    let connection = state
        .connections
        .get(&state.pool, &state.cipher, id)
        .await?;
    if connection.provider != provider {
        return Err(unknown_connection());
    }
    Ok(connection)
}

/// The body, refused with 413 past `limit` bytes without reading further.
async fn read_limited(mut payload: web::Payload, limit: usize) -> ApiResult<web::Bytes> {
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|error| ApiError::bad_request("invalid_body", error.to_string()))?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::new(
                actix_web::http::StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("the body is larger than the {limit} bytes allowed"),
            ));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}
