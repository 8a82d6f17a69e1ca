//! Liveness, readiness and metrics for orchestrators and scrapers.

use actix_web::{HttpRequest, HttpResponse, ResponseError as _, get, web};
use prometheus::{Encoder as _, Registry, TextEncoder};
use serde::Serialize;
use utoipa::ToSchema;
use wacrm_persistence::migrate;

use crate::error::Problem;
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct HealthResponse {
    /// `ok`, or what is not ready.
    pub status: String,
}

/// 200 while the process runs.
#[utoipa::path(tag = "service", responses((status = 200, body = HealthResponse)))]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(HealthResponse {
        status: "ok".into(),
    })
}

/// 200 when the database answers and every migration is applied, else 503.
#[utoipa::path(tag = "service", responses(
    (status = 200, body = HealthResponse),
    (status = 503, body = HealthResponse, description = "database unreachable or migrations pending"),
))]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let status = match state.pool.get().await {
        Err(_) => "database unreachable",
        Ok(mut conn) => match migrate::all_applied(&mut conn).await {
            Ok(true) => "ok",
            Ok(false) => "migrations pending",
            Err(_) => "database unreachable",
        },
    };
    let body = HealthResponse {
        status: status.into(),
    };
    if status == "ok" {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

/// Prometheus text: requests by route and status, latency histogram, pool gauges.
/// With `WACRM_METRICS_TOKEN` set, only for `Authorization: Bearer <that token>`.
#[utoipa::path(tag = "service", responses(
    (status = 200, content_type = "text/plain", body = String),
    (status = 401, body = Problem, content_type = "application/problem+json", description = "`invalid_token`: WACRM_METRICS_TOKEN is set and was not given"),
))]
#[get("/metrics")]
pub async fn metrics(
    state: web::Data<AppState>,
    request: HttpRequest,
    registry: web::Data<Registry>,
) -> HttpResponse {
    if let Some(expected) = &state.metrics_token {
        let given = request
            .headers()
            .get(actix_web::http::header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .unwrap_or_default();
        let expected = secrecy::ExposeSecret::expose_secret(expected).as_bytes();
        if !bool::from(subtle::ConstantTimeEq::ct_eq(given.as_bytes(), expected)) {
            return crate::error::ApiError::unauthorized(
                "invalid_token",
                "/metrics needs the bearer token set in WACRM_METRICS_TOKEN",
            )
            .error_response();
        }
    }
    let mut body = Vec::new();
    match TextEncoder::new().encode(&registry.gather(), &mut body) {
        Ok(()) => HttpResponse::Ok()
            .content_type("text/plain; version=0.0.4")
            .body(body),
        Err(error) => crate::error::ApiError::internal(error).error_response(),
    }
}
