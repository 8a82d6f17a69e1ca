//! Registering, changing and removing endpoints, and rotating their secrets.
//! A secret is shown once, when it is made; lists and reads never carry it.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, delete, get, patch, post, web};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use diesel_async::AsyncConnection as _;
use serde::{Deserialize, Serialize};
use url::Url;
use utoipa::ToSchema;
use uuid::Uuid;
use wacrm_domain::Permission;
use wacrm_domain::webhook_endpoints::{EndpointSecret, EventType};
use wacrm_persistence::webhook_endpoints::{self as store, Endpoint, EndpointChanges, NewEndpoint};
use wacrm_providers::egress::Egress;

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, FieldError, Problem};
use crate::pagination::{PageParams, PageResponse};
use crate::state::AppState;
use crate::validation::Checks;

const MAX_URL: usize = 2048;
const MAX_DESCRIPTION: usize = 500;
/// The previous secret signs beside the new one this long by default.
const DEFAULT_GRACE_HOURS: i64 = 24;

#[derive(Serialize, ToSchema)]
pub struct WebhookEndpointResponse {
    pub id: Uuid,
    pub url: String,
    pub description: String,
    #[schema(value_type = Vec<EventType>)]
    pub event_types: Vec<String>,
    /// Deliveries are made only while enabled.
    pub enabled: bool,
    /// Deliveries may reach loopback and private addresses (set by an admin).
    pub allow_private_targets: bool,
    /// Why wacrm disabled it by itself: `gone` (the receiver answered 410) or
    /// `failing` (too many deliveries in a row ran out of attempts).
    #[schema(pattern = "^(gone|failing)$")]
    pub disabled_reason: Option<String>,
    pub disabled_at: Option<DateTime<Utc>>,
    /// Deliveries in a row that ran out of attempts since the last success.
    pub consecutive_failures: i32,
    /// After a rotation: until when the previous secret still signs.
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Endpoint> for WebhookEndpointResponse {
    fn from(row: Endpoint) -> Self {
        Self {
            id: row.id,
            url: row.url,
            description: row.description,
            event_types: row.event_types,
            enabled: row.enabled,
            allow_private_targets: row.allow_private_targets,
            disabled_reason: row.disabled_reason,
            disabled_at: row.disabled_at,
            consecutive_failures: row.consecutive_failures,
            previous_secret_expires_at: row.previous_secret_expires_at,
            created_by: row.created_by,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

/// An endpoint with its signing secret: answered once, on creation and on rotation.
#[derive(Serialize, ToSchema)]
pub struct WebhookEndpointWithSecretResponse {
    #[serde(flatten)]
    pub endpoint: WebhookEndpointResponse,
    /// `whsec_` and the base64 of the key: give it to the receiver's Standard
    /// Webhooks library. It is not shown again.
    #[schema(pattern = "^whsec_[A-Za-z0-9+/]+=*$")]
    pub secret: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhookEndpointRequest {
    /// An http(s) URL on a public internet address (unless
    /// `allow_private_targets`); up to 2048 characters.
    #[schema(pattern = "^https?://[^/\\s]", max_length = 2048)]
    pub url: String,
    /// Up to 500 characters (default empty).
    #[schema(max_length = 500)]
    pub description: Option<String>,
    /// The events to deliver: at least one, from the catalogue.
    #[schema(value_type = Vec<EventType>, min_items = 1)]
    pub event_types: Vec<String>,
    /// Default true.
    pub enabled: Option<bool>,
    /// Let deliveries reach loopback and private addresses (default false).
    pub allow_private_targets: Option<bool>,
}

/// Only the fields given change. Enabling an endpoint wacrm disabled clears
/// its reason and failure count.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateWebhookEndpointRequest {
    #[schema(pattern = "^https?://[^/\\s]", max_length = 2048)]
    pub url: Option<String>,
    #[schema(max_length = 500)]
    pub description: Option<String>,
    #[schema(value_type = Option<Vec<EventType>>, min_items = 1)]
    pub event_types: Option<Vec<String>>,
    pub enabled: Option<bool>,
    pub allow_private_targets: Option<bool>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateWebhookSecretRequest {
    /// How long the previous secret keeps signing beside the new one, in
    /// hours (0–720, default 24).
    #[schema(minimum = 0, maximum = 720)]
    #[serde(default, deserialize_with = "crate::validation::whole_number")]
    pub grace_period_hours: Option<i64>,
}

/// List webhook endpoints, newest first.
#[utoipa::path(tag = "webhook-endpoints", params(PageParams), security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = PageResponse<WebhookEndpointResponse>),
))]
#[get("/webhook-endpoints")]
pub async fn list_webhook_endpoints(
    state: web::Data<AppState>,
    principal: Principal,
    page: web::Query<PageParams>,
) -> ApiResult<web::Json<PageResponse<WebhookEndpointResponse>>> {
    principal.require(Permission::ADMIN)?;
    let mut conn = state.conn().await?;
    let page = store::list(&mut conn, page.request()?).await?;
    Ok(web::Json(PageResponse::from_page(page, Into::into)))
}

/// Register a webhook endpoint. The answer carries its signing secret, once.
#[utoipa::path(tag = "webhook-endpoints", request_body = CreateWebhookEndpointRequest, security(("bearer" = []), ("api_key" = [])), responses(
    (status = 201, body = WebhookEndpointWithSecretResponse),
    (status = 422, body = Problem, content_type = "application/problem+json", description = "`validation_failed`, or `address_not_allowed`: the URL is on a private or loopback address and `allow_private_targets` is not set"),
))]
#[post("/webhook-endpoints")]
pub async fn create_webhook_endpoint(
    state: web::Data<AppState>,
    principal: Principal,
    body: web::Json<CreateWebhookEndpointRequest>,
) -> ApiResult<HttpResponse> {
    principal.require(Permission::ADMIN)?;
    let body = body.into_inner();
    let mut checks = Checks::default();
    let url = checks.text("url", &body.url, MAX_URL);
    let description = body
        .description
        .as_deref()
        .map(|text| description(&mut checks, text))
        .unwrap_or_default();
    let event_types = event_types(&mut checks, &body.event_types);
    let url = parsed_url(&mut checks, &url);
    checks.finish()?;
    let url = url.ok_or_else(|| ApiError::internal("a checked URL is missing"))?;
    let allow_private_targets = body.allow_private_targets.unwrap_or(false);
    reachable(&state, &url, allow_private_targets).await?;
    let secret = new_secret()?;
    let mut conn = state.conn().await?;
    let endpoint = store::insert(
        &mut conn,
        &state.cipher,
        NewEndpoint {
            id: Uuid::now_v7(),
            url: url.to_string(),
            description,
            event_types,
            enabled: body.enabled.unwrap_or(true),
            allow_private_targets,
            secret: secret.clone(),
            created_by: principal.staff_id(),
        },
    )
    .await?;
    tracing::info!(endpoint_id = %endpoint.id, "webhook endpoint created");
    Ok(
        HttpResponse::Created().json(WebhookEndpointWithSecretResponse {
            endpoint: endpoint.into(),
            secret: secret.expose(|key| STANDARD.encode(key)),
        }),
    )
}

/// One webhook endpoint (without its secret).
#[utoipa::path(tag = "webhook-endpoints", params(("id" = Uuid, Path)), security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = WebhookEndpointResponse),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
#[get("/webhook-endpoints/{id}")]
pub async fn get_webhook_endpoint(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<web::Json<WebhookEndpointResponse>> {
    principal.require(Permission::ADMIN)?;
    let mut conn = state.conn().await?;
    Ok(web::Json(store::find(&mut conn, *id).await?.into()))
}

/// Change a webhook endpoint. Disabling it fails the deliveries still
/// waiting (replay them once it is back); enabling it again clears why
/// wacrm had disabled it.
#[utoipa::path(tag = "webhook-endpoints", params(("id" = Uuid, Path)), request_body = UpdateWebhookEndpointRequest, security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = WebhookEndpointResponse),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json", description = "`validation_failed`, or `address_not_allowed` (see creation)"),
))]
#[patch("/webhook-endpoints/{id}")]
pub async fn update_webhook_endpoint(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
    body: web::Json<UpdateWebhookEndpointRequest>,
) -> ApiResult<web::Json<WebhookEndpointResponse>> {
    principal.require(Permission::ADMIN)?;
    let body = body.into_inner();
    let mut checks = Checks::default();
    let url = body.url.as_deref().and_then(|url| {
        let url = checks.text("url", url, MAX_URL);
        parsed_url(&mut checks, &url)
    });
    let description = body
        .description
        .as_deref()
        .map(|text| description(&mut checks, text));
    let event_types = body
        .event_types
        .as_deref()
        .map(|names| event_types(&mut checks, names));
    checks.finish()?;
    let mut conn = state.conn().await?;
    let current = store::find(&mut conn, *id).await?;
    let allow_private_targets = body
        .allow_private_targets
        .unwrap_or(current.allow_private_targets);
    // The URL is checked whenever it or the private-target permission changes.
    if url.is_some() || body.allow_private_targets.is_some() {
        let target = match &url {
            Some(url) => url.clone(),
            None => Url::parse(&current.url).map_err(ApiError::internal)?,
        };
        reachable(&state, &target, allow_private_targets).await?;
    }
    let changes = EndpointChanges {
        url: url.map(|url| url.to_string()),
        description,
        event_types,
        enabled: body.enabled,
        allow_private_targets: body.allow_private_targets,
        updated_at: None,
    };
    let id = *id;
    let disabling = body.enabled == Some(false) && current.enabled;
    let updated = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let updated = store::update(conn, id, changes).await?;
            if disabling {
                store::fail_pending(conn, id, "the endpoint was disabled").await?;
            }
            Ok(updated)
        })
        .await?;
    Ok(web::Json(updated.into()))
}

/// Delete a webhook endpoint with its deliveries.
#[utoipa::path(tag = "webhook-endpoints", params(("id" = Uuid, Path)), security(("bearer" = []), ("api_key" = [])), responses(
    (status = 204),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
#[delete("/webhook-endpoints/{id}")]
pub async fn delete_webhook_endpoint(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    principal.require(Permission::ADMIN)?;
    let mut conn = state.conn().await?;
    store::delete(&mut conn, *id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Give an endpoint a new signing secret. The previous one keeps signing
/// beside it for the grace period (`webhook-signature` then carries both
/// signatures), so the receiver can switch without losing a delivery.
#[utoipa::path(tag = "webhook-endpoints", params(("id" = Uuid, Path)), request_body = RotateWebhookSecretRequest, security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = WebhookEndpointWithSecretResponse, description = "the endpoint with its new secret, shown once"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
#[post("/webhook-endpoints/{id}/rotate-secret")]
pub async fn rotate_webhook_endpoint_secret(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
    body: web::Json<RotateWebhookSecretRequest>,
) -> ApiResult<web::Json<WebhookEndpointWithSecretResponse>> {
    principal.require(Permission::ADMIN)?;
    let hours = body.grace_period_hours.unwrap_or(DEFAULT_GRACE_HOURS);
    let mut checks = Checks::default();
    if !(0..=720).contains(&hours) {
        checks.fail("grace_period_hours", "must be between 0 and 720");
    }
    checks.finish()?;
    let secret = new_secret()?;
    let until = state.clock.now() + chrono::Duration::hours(hours);
    let mut conn = state.conn().await?;
    let endpoint = store::rotate_secret(&mut conn, &state.cipher, *id, &secret, until).await?;
    tracing::info!(endpoint_id = %endpoint.id, grace_period_hours = hours, "webhook secret rotated");
    Ok(web::Json(WebhookEndpointWithSecretResponse {
        endpoint: endpoint.into(),
        secret: secret.expose(|key| STANDARD.encode(key)),
    }))
}

/// A fresh secret of 32 random bytes (within the 24 to 64 the specification asks for).
fn new_secret() -> ApiResult<EndpointSecret> {
    EndpointSecret::from_key(rand::random::<[u8; 32]>().to_vec()).map_err(ApiError::internal)
}

/// A note for the admins, up to 500 characters; may be empty.
fn description(checks: &mut Checks, text: &str) -> String {
    let text = text.trim();
    if text.chars().count() > MAX_DESCRIPTION {
        checks.fail(
            "description",
            format!("must be at most {MAX_DESCRIPTION} characters"),
        );
    }
    text.to_owned()
}

/// The catalogue names given, each once, in catalogue order.
fn event_types(checks: &mut Checks, names: &[String]) -> Vec<String> {
    if names.is_empty() {
        checks.fail("event_types", "name at least one event type");
    }
    let mut known: Vec<EventType> = Vec::new();
    for (index, name) in names.iter().enumerate() {
        match name.parse::<EventType>() {
            Ok(kind) => known.push(kind),
            Err(_) => checks.fail(
                &format!("event_types[{index}]"),
                format!(
                    "unknown event type; one of {}",
                    EventType::ALL.map(EventType::as_str).join(", ")
                ),
            ),
        }
    }
    known.sort();
    known.dedup();
    known
        .into_iter()
        .map(|kind| kind.as_str().to_owned())
        .collect()
}

/// An absolute http(s) URL with a host (`None` after recording why not).
fn parsed_url(checks: &mut Checks, text: &str) -> Option<Url> {
    match Url::parse(text.trim()) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => Some(url),
        _ => {
            checks.fail("url", "must be an absolute http(s) URL");
            None
        }
    }
}

/// 422 `address_not_allowed` unless the URL's host is public now, or the
/// endpoint (or the whole deployment, for tests) allows private targets.
async fn reachable(state: &AppState, url: &Url, allow_private_targets: bool) -> ApiResult<()> {
    let egress = Egress {
        allow_private_targets: state.egress.allow_private_targets || allow_private_targets,
    };
    egress.check_target(url).await.map_err(|_| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "address_not_allowed",
            "the URL's host is not a public internet address; an admin may allow private targets for this endpoint with `allow_private_targets`",
        )
        .with_errors(vec![FieldError {
            field: "url".to_owned(),
            message: "must be on a public internet address".into(),
        }])
    })
}
