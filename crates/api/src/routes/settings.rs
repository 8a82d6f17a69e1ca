//! Inbound settings: auto-lead (seed 001) and lead notes (seed 004). Admin only.

use actix_web::{get, put, web};
use chrono::Weekday;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use wacrm_domain::Permission;
use wacrm_domain::bots::BusinessHours;
use wacrm_domain::settings::{AutoLeadSettings, InboundSettings, InboxSettings, InboxVisibility};
use wacrm_persistence::{leads, settings, staff};
use wacrm_providers::ai::AiProvider;
use wacrm_worker::ai_settings::{self, AiMode, AiSettings};

use crate::auth::Principal;
use crate::base_url;
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
    #[schema(pattern = "^(all|assigned_or_unassigned)$")]
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

/// The business hours as API.md names them: `{time_zone, week}`, where `week`
/// is seven lists of intervals, Monday first (an empty list: closed that day;
/// `week` left out or `null`: closed all week). An interval is `HH:MM-HH:MM`
/// (hours 0 to 23, `24:00` only as an end; an end not after its start crosses
/// midnight; start and end differ, `00:00-24:00` is the whole day).
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BusinessHoursBody {
    #[schema(value_type = crate::openapi::TimeZone)]
    time_zone: String,
    #[serde(default)]
    #[schema(value_type = Option<Vec<Vec<IntervalText>>>, min_items = 7, max_items = 7)]
    week: Option<Vec<Vec<String>>>,
}

/// Monday first, as `week` lists the days.
const WEEK: [Weekday; 7] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
    Weekday::Sat,
    Weekday::Sun,
];

impl From<&BusinessHours> for BusinessHoursBody {
    fn from(hours: &BusinessHours) -> Self {
        Self {
            time_zone: hours.time_zone().to_owned(),
            week: Some(
                WEEK.iter()
                    .map(|day| hours.day(*day).iter().map(ToString::to_string).collect())
                    .collect(),
            ),
        }
    }
}

impl TryFrom<BusinessHoursBody> for BusinessHours {
    type Error = String;

    fn try_from(body: BusinessHoursBody) -> Result<Self, Self::Error> {
        let mut hours =
            BusinessHours::closed(&body.time_zone).map_err(|error| error.to_string())?;
        let Some(week) = body.week else {
            return Ok(hours);
        };
        if week.len() != WEEK.len() {
            return Err(format!(
                "`week` holds seven days, Monday first; {} given",
                week.len()
            ));
        }
        for (day, intervals) in WEEK.iter().zip(&week) {
            let intervals: Vec<&str> = intervals.iter().map(String::as_str).collect();
            hours = hours
                .with(*day, &intervals)
                .map_err(|error| error.to_string())?;
        }
        Ok(hours)
    }
}

/// `HH:MM-HH:MM`, spaces allowed around the times; the lookahead refuses an
/// interval whose end equals its start (schema only).
#[derive(Deserialize, ToSchema)]
#[schema(
    pattern = r"^(?! *0?(\d{1,2}):(\d\d) *- *0?\1:\2 *$) *([01]?[0-9]|2[0-3]):[0-5][0-9] *- *(([01]?[0-9]|2[0-3]):[0-5][0-9]|24:00) *$"
)]
pub struct IntervalText(#[allow(dead_code)] String);

/// The weekly schedule in an IANA time zone: `{"time_zone": "Africa/Nairobi",
/// "week": [["08:00-12:00", "13:00-17:00"], …, ["22:00-02:00"], []]}`, Monday
/// first (an interval may cross midnight; an empty day is closed).
#[utoipa::path(tag = "settings", security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = BusinessHoursBody),
    (status = 403, body = Problem, content_type = "application/problem+json"),
))]
#[get("/settings/business-hours")]
pub async fn get_business_hours(
    state: web::Data<AppState>,
    principal: Principal,
) -> ApiResult<web::Json<BusinessHoursBody>> {
    principal.require(Permission::ADMIN)?;
    let mut conn = state.conn().await?;
    let hours: BusinessHours = settings::load(&mut conn, BusinessHours::KEY).await?;
    Ok(web::Json(BusinessHoursBody::from(&hours)))
}

#[utoipa::path(tag = "settings", request_body = BusinessHoursBody, security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = BusinessHoursBody),
    (status = 400, body = Problem, content_type = "application/problem+json", description = "not a schedule (unknown time zone, bad interval, not seven days)"),
))]
#[put("/settings/business-hours")]
pub async fn put_business_hours(
    state: web::Data<AppState>,
    principal: Principal,
    body: web::Json<BusinessHoursBody>,
) -> ApiResult<web::Json<BusinessHoursBody>> {
    principal.require(Permission::ADMIN)?;
    let hours = BusinessHours::try_from(body.into_inner()).map_err(|error| {
        ApiError::bad_request("invalid_body", format!("not a weekly schedule: {error}"))
    })?;
    let mut conn = state.conn().await?;
    settings::save(&mut conn, BusinessHours::KEY, &hours).await?;
    Ok(web::Json(BusinessHoursBody::from(&hours)))
}

/// AI answers for `ai` bots. `api_key` is write-only (`has_api_key` says whether one is set).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AiRequestBody {
    /// `openai` or `gemini`.
    #[schema(pattern = "^(openai|gemini)$")]
    pub provider: String,
    /// `off`, `auto` (send the answer) or `manual` (keep it as a suggestion for staff).
    #[schema(pattern = "^(off|auto|manual)$")]
    pub mode: String,
    #[schema(min_length = 1, pattern = r"\S")]
    pub model: String,
    /// Leave out to keep the stored key (not when `base_url` changes).
    pub api_key: Option<String>,
    /// Overrides the provider's API host; must be on a public internet address
    /// (422 `address_not_allowed`). Changing it while a key is stored requires
    /// `api_key` again (422 `credentials_required`).
    #[schema(pattern = r"^ *[Hh][Tt][Tt][Pp][Ss]?://[^/\s]")]
    pub base_url: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct AiResponseBody {
    pub provider: Option<String>,
    pub mode: String,
    pub model: Option<String>,
    pub base_url: Option<String>,
    pub has_api_key: bool,
}

fn ai_response(settings: &AiSettings) -> AiResponseBody {
    let name = |value: serde_json::Value| value.as_str().map(str::to_owned);
    AiResponseBody {
        provider: settings
            .provider
            .and_then(|p| serde_json::to_value(p).ok())
            .and_then(name),
        mode: serde_json::to_value(settings.mode)
            .ok()
            .and_then(name)
            .unwrap_or_default(),
        model: settings.model.clone(),
        base_url: settings.base_url.clone(),
        has_api_key: settings.api_key.is_some(),
    }
}

#[utoipa::path(tag = "settings", security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = AiResponseBody),
    (status = 403, body = Problem, content_type = "application/problem+json"),
))]
#[get("/settings/ai")]
pub async fn get_ai(
    state: web::Data<AppState>,
    principal: Principal,
) -> ApiResult<web::Json<AiResponseBody>> {
    principal.require(Permission::ADMIN)?;
    let mut conn = state.conn().await?;
    Ok(web::Json(ai_response(
        &ai_settings::load(&mut conn, &state.cipher).await?,
    )))
}

#[utoipa::path(tag = "settings", request_body = AiRequestBody, security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = AiResponseBody),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
#[put("/settings/ai")]
pub async fn put_ai(
    state: web::Data<AppState>,
    principal: Principal,
    body: web::Json<AiRequestBody>,
) -> ApiResult<web::Json<AiResponseBody>> {
    principal.require(Permission::ADMIN)?;
    let body = body.into_inner();
    let mut errors = Vec::new();
    let provider: Option<AiProvider> =
        serde_json::from_value(serde_json::Value::String(body.provider.clone())).ok();
    if provider.is_none() {
        errors.push(FieldError {
            field: "provider".into(),
            message: "must be openai or gemini".into(),
        });
    }
    let mode: Option<AiMode> =
        serde_json::from_value(serde_json::Value::String(body.mode.clone())).ok();
    if mode.is_none() {
        errors.push(FieldError {
            field: "mode".into(),
            message: "must be off, auto or manual".into(),
        });
    }
    if body.model.trim().is_empty() {
        errors.push(FieldError {
            field: "model".into(),
            message: "must not be empty".into(),
        });
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    if let Some(url) = body.base_url.as_deref() {
        base_url::check(state.egress, "base_url", url).await?;
    }
    let mut conn = state.conn().await?;
    let stored = ai_settings::load(&mut conn, &state.cipher).await?;
    let new_key = body.api_key.as_deref().is_some_and(|key| !key.is_empty());
    // The stored key goes only where it went before (or to the provider's own host).
    if body.base_url.is_some()
        && body.base_url != stored.base_url
        && stored.api_key.is_some()
        && !new_key
    {
        return Err(base_url::credentials_required(&["api_key".to_owned()]));
    }
    let settings = AiSettings {
        provider,
        mode: mode.unwrap_or_default(),
        model: Some(body.model.trim().to_owned()),
        base_url: body.base_url,
        api_key: body
            .api_key
            .filter(|key| !key.is_empty())
            .or(stored.api_key),
    };
    ai_settings::save(&mut conn, &state.cipher, &settings).await?;
    Ok(web::Json(ai_response(&settings)))
}
