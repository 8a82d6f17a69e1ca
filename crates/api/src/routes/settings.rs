//! Inbound settings: auto-lead (seed 001) and lead notes (seed 004). Admin only.

use actix_web::{get, put, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use wacrm_domain::Permission;
use wacrm_domain::settings::{AutoLeadSettings, InboundSettings, InboxSettings, InboxVisibility};
use wacrm_persistence::{leads, settings, staff};

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, FieldError, Problem};
use crate::state::AppState;

/// An unknown sender becomes a lead with this status, source and assignee.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AutoLeadBody {
    pub enabled: bool,
    pub status_id: Option<Uuid>,
    pub source_id: Option<Uuid>,
    pub assigned_staff_id: Option<Uuid>,
}

/// Whether inbound messages of lead conversations are also added as lead notes.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InboundBody {
    pub lead_notes: bool,
}

#[utoipa::path(tag = "settings", security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = AutoLeadBody),
    (status = 403, body = Problem, content_type = "application/problem+json"),
))]
#[get("/settings/auto-lead")]
pub async fn get_auto_lead(
    state: web::Data<AppState>,
    principal: Principal,
) -> ApiResult<web::Json<AutoLeadBody>> {
    principal.require(Permission::ADMIN)?;
    let mut conn = state.conn().await?;
    let stored: AutoLeadSettings = settings::load(&mut conn, AutoLeadSettings::KEY).await?;
    Ok(web::Json(AutoLeadBody {
        enabled: stored.enabled,
        status_id: stored.status_id,
        source_id: stored.source_id,
        assigned_staff_id: stored.assigned_staff_id,
    }))
}

#[utoipa::path(tag = "settings", request_body = AutoLeadBody, security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = AutoLeadBody),
    (status = 422, body = Problem, content_type = "application/problem+json", description = "an id names nothing"),
))]
#[put("/settings/auto-lead")]
pub async fn put_auto_lead(
    state: web::Data<AppState>,
    principal: Principal,
    body: web::Json<AutoLeadBody>,
) -> ApiResult<web::Json<AutoLeadBody>> {
    principal.require(Permission::ADMIN)?;
    let body = body.into_inner();
    let mut conn = state.conn().await?;
    let mut errors = Vec::new();
    let mut missing = |field: &str| {
        errors.push(FieldError {
            field: field.into(),
            message: "names no existing record".into(),
        })
    };
    if let Some(id) = body.status_id {
        if leads::find_status(&mut conn, id).await.is_err() {
            missing("status_id");
        }
    }
    if let Some(id) = body.source_id {
        if leads::find_source(&mut conn, id).await.is_err() {
            missing("source_id");
        }
    }
    if let Some(id) = body.assigned_staff_id {
        if staff::find(&mut conn, id).await.is_err() {
            missing("assigned_staff_id");
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let value = AutoLeadSettings {
        enabled: body.enabled,
        status_id: body.status_id,
        source_id: body.source_id,
        assigned_staff_id: body.assigned_staff_id,
    };
    settings::save(&mut conn, AutoLeadSettings::KEY, &value).await?;
    Ok(web::Json(body))
}

#[utoipa::path(tag = "settings", security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = InboundBody),
    (status = 403, body = Problem, content_type = "application/problem+json"),
))]
#[get("/settings/inbound")]
pub async fn get_inbound(
    state: web::Data<AppState>,
    principal: Principal,
) -> ApiResult<web::Json<InboundBody>> {
    principal.require(Permission::ADMIN)?;
    let mut conn = state.conn().await?;
    let stored: InboundSettings = settings::load(&mut conn, InboundSettings::KEY).await?;
    Ok(web::Json(InboundBody {
        lead_notes: stored.lead_notes,
    }))
}

#[utoipa::path(tag = "settings", request_body = InboundBody, security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = InboundBody),
    (status = 403, body = Problem, content_type = "application/problem+json"),
))]
#[put("/settings/inbound")]
pub async fn put_inbound(
    state: web::Data<AppState>,
    principal: Principal,
    body: web::Json<InboundBody>,
) -> ApiResult<web::Json<InboundBody>> {
    principal.require(Permission::ADMIN)?;
    let mut conn = state.conn().await?;
    settings::save(
        &mut conn,
        InboundSettings::KEY,
        &InboundSettings {
            lead_notes: body.lead_notes,
        },
    )
    .await?;
    Ok(body)
}

/// Which conversations agents (staff without `admin`) see.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InboxBody {
    /// `all`, or `assigned_or_unassigned`: theirs and nobody's.
    pub visibility: String,
}

#[utoipa::path(tag = "settings", security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = InboxBody),
    (status = 403, body = Problem, content_type = "application/problem+json"),
))]
#[get("/settings/inbox")]
pub async fn get_inbox(
    state: web::Data<AppState>,
    principal: Principal,
) -> ApiResult<web::Json<InboxBody>> {
    principal.require(Permission::ADMIN)?;
    let mut conn = state.conn().await?;
    let stored: InboxSettings = settings::load(&mut conn, InboxSettings::KEY).await?;
    let visibility = serde_json::to_value(stored.visibility)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    Ok(web::Json(InboxBody { visibility }))
}

#[utoipa::path(tag = "settings", request_body = InboxBody, security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = InboxBody),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
#[put("/settings/inbox")]
pub async fn put_inbox(
    state: web::Data<AppState>,
    principal: Principal,
    body: web::Json<InboxBody>,
) -> ApiResult<web::Json<InboxBody>> {
    principal.require(Permission::ADMIN)?;
    let visibility: InboxVisibility = serde_json::from_value(serde_json::Value::String(
        body.visibility.clone(),
    ))
    .map_err(|_| {
        ApiError::validation(vec![FieldError {
            field: "visibility".into(),
            message: "must be all or assigned_or_unassigned".into(),
        }])
    })?;
    let mut conn = state.conn().await?;
    settings::save(&mut conn, InboxSettings::KEY, &InboxSettings { visibility }).await?;
    Ok(body)
}
