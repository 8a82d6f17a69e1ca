//! Bulk campaigns (`whatsapp_campaign:*`): an approved template with a source
//! for each parameter, sent to an audience from one number on a schedule.
//! Drafts and scheduled campaigns can be edited; `start` checks that the
//! campaign can be sent and schedules its first run; `pause`, `resume` and
//! `cancel` work at any time. The sending itself is the workers'
//! (`wacrm_worker::campaigns` and the campaign jobs).

use actix_web::{HttpResponse, delete, get, post, put, web};
use chrono::{DateTime, Utc};
use diesel_async::AsyncConnection as _;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use wacrm_domain::audiences::Audience;
use wacrm_domain::campaigns::{CampaignStatus, PauseReason, QuietHours, RECORD_ROOTS, Schedule};
use wacrm_domain::template;
use wacrm_domain::template_mapping::MappedParameters;
use wacrm_domain::{Permission, Provider};
use wacrm_persistence::campaigns::runs;
use wacrm_persistence::campaigns::{self as store, Campaign, CampaignChanges, NewCampaign};
use wacrm_persistence::{AsyncPgConnection, StoreError, connections, jobs, numbers, templates};
use wacrm_providers::client;
use wacrm_worker::campaigns::{self as lifecycle, LifecycleError};
use wacrm_worker::jobs::StartCampaignRun;

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, FieldError, Problem};
use crate::pagination::{PageParams, PageResponse};
use crate::state::AppState;
use crate::validation::Checks;

/// The template a campaign sends.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateRef {
    #[schema(min_length = 1, max_length = 512, pattern = r"\S")]
    pub name: String,
    /// As the provider lists it, e.g. `en` or `pt_BR`.
    #[schema(min_length = 1, max_length = 15, pattern = r"\S")]
    pub language: String,
}

/// A campaign as written: everything but its state.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "name": "December promo",
    "audience": {"whatsapp_groups": ["0193a5b0-7f1e-7c3a-9b1e-3f5d2c1a0b9e"]},
    "number_id": "0193a5b0-7f1e-7c3a-9b1e-3f5d2c1a0b9f",
    "template": {"name": "december_promo", "language": "en"},
    "parameters": {"body": [{"value": "{{name}}", "fallback": "there"}, {"value": "{{custom_fields.code}}"}]},
    "schedule": {"type": "onetime", "send_at": "2026-12-01T08:00:00Z"},
    "quiet_hours": {"start": "21:00", "end": "08:00", "time_zone": "Africa/Nairobi"}
}))]
pub struct CampaignRequest {
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub name: String,
    pub audience: Audience,
    pub number_id: Uuid,
    pub template: TemplateRef,
    /// A source per template parameter: `{{name}}`, `{{phone}}`,
    /// `{{custom_fields.<key>}}`, `{{lead.name|email|status|source}}`,
    /// `{{contact.name|email|company}}`, with fallbacks.
    #[serde(default)]
    pub parameters: MappedParameters,
    pub schedule: Schedule,
    /// Local hours in which recipients get nothing (read in each
    /// recipient's zone: the contact's, else the phone's country's, else
    /// this `time_zone`).
    #[serde(default)]
    pub quiet_hours: Option<QuietHours>,
}

#[derive(Serialize, ToSchema)]
pub struct CampaignResponse {
    pub id: Uuid,
    pub name: String,
    pub status: CampaignStatus,
    /// Why it is paused (`manual`, or what stopped it).
    pub pause_reason: Option<PauseReason>,
    pub pause_detail: Option<String>,
    pub audience: Audience,
    pub number_id: Uuid,
    pub template: TemplateRef,
    pub parameters: MappedParameters,
    pub schedule: Schedule,
    pub quiet_hours: Option<QuietHours>,
    /// When the next run is due (`None`: no run is left to make).
    pub next_run_at: Option<DateTime<Utc>>,
    /// Runs made so far.
    pub runs_created: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl TryFrom<Campaign> for CampaignResponse {
    type Error = ApiError;

    fn try_from(row: Campaign) -> ApiResult<Self> {
        Ok(Self {
            id: row.id,
            name: row.name,
            status: CampaignStatus::parse(&row.status)
                .ok_or_else(|| ApiError::internal("unknown campaign status"))?,
            pause_reason: row.pause_reason.as_deref().and_then(PauseReason::parse),
            pause_detail: row.pause_detail,
            audience: parse(row.audience)?,
            number_id: row.number_id,
            template: TemplateRef {
                name: row.template_name,
                language: row.template_language,
            },
            parameters: parse(row.parameters)?,
            schedule: parse(row.schedule)?,
            quiet_hours: row.quiet_hours.map(parse).transpose()?,
            next_run_at: row.next_run_at,
            runs_created: row.runs_created,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// A stored JSON column as its type (the API wrote it, so a failure is ours).
fn parse<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> ApiResult<T> {
    serde_json::from_value(value).map_err(ApiError::internal)
}

impl CampaignRequest {
    /// Checks what can be checked without the database.
    fn check(&self) -> ApiResult<String> {
        let mut checks = Checks::default();
        let name = checks.text("name", &self.name, 200);
        checks.filter("audience.", self.audience.validate());
        if self.template.name.trim().is_empty() || self.template.name.chars().count() > 512 {
            checks.fail("template.name", "must be 1 to 512 characters");
        }
        if self.template.language.trim().is_empty() || self.template.language.chars().count() > 15 {
            checks.fail("template.language", "must be 1 to 15 characters");
        }
        if let Err(problem) = self.schedule.validate() {
            checks.fail(problem.field, problem.message);
        }
        if let Some(quiet) = &self.quiet_hours
            && let Err((field, message)) = quiet.validate()
        {
            checks.fail(field, message);
        }
        // The fit to the template is checked at start, when it must be approved.
        if let Err(problems) = self
            .parameters
            .validate(RECORD_ROOTS, &template::TemplateRequirements::default())
        {
            for problem in problems.into_iter().filter(|p| p.field != "parameters") {
                checks.fail(&format!("parameters.{}", problem.field), problem.message);
            }
        }
        checks.finish()?;
        Ok(name)
    }
}

fn json(value: &impl Serialize) -> ApiResult<serde_json::Value> {
    serde_json::to_value(value).map_err(ApiError::internal)
}

async fn number_exists(conn: &mut AsyncPgConnection, id: Uuid) -> ApiResult<()> {
    match numbers::find(conn, id).await {
        Ok(_) => Ok(()),
        Err(StoreError::NotFound) => Err(ApiError::invalid_reference("number_id")),
        Err(error) => Err(error.into()),
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CampaignQuery {
    /// Only campaigns in this status.
    pub status: Option<CampaignStatus>,
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    #[param(pattern = "^[A-Za-z0-9_-]{22}$")]
    pub cursor: Option<String>,
}

/// List campaigns, newest first.
#[utoipa::path(tag = "campaigns", params(CampaignQuery), security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = PageResponse<CampaignResponse>),
))]
#[get("/campaigns")]
pub async fn list_campaigns(
    state: web::Data<AppState>,
    principal: Principal,
    query: web::Query<CampaignQuery>,
) -> ApiResult<web::Json<PageResponse<CampaignResponse>>> {
    principal.require(Permission::WHATSAPP_CAMPAIGN_VIEW)?;
    let query = query.into_inner();
    let page = PageParams {
        limit: query.limit,
        cursor: query.cursor,
    }
    .request()?;
    let mut conn = state.conn().await?;
    let page = store::list(&mut conn, query.status.map(CampaignStatus::as_str), page).await?;
    let next = page.next;
    let items = page
        .items
        .into_iter()
        .map(CampaignResponse::try_from)
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(web::Json(PageResponse::from_page(
        wacrm_persistence::Page { items, next },
        |item| item,
    )))
}

/// Create a campaign (a draft: nothing is sent until it is started).
#[utoipa::path(tag = "campaigns", request_body = CampaignRequest, security(("bearer" = []), ("api_key" = [])), responses(
    (status = 201, body = CampaignResponse),
))]
#[post("/campaigns")]
pub async fn create_campaign(
    state: web::Data<AppState>,
    principal: Principal,
    body: web::Json<CampaignRequest>,
) -> ApiResult<HttpResponse> {
    principal.require(Permission::WHATSAPP_CAMPAIGN_CREATE)?;
    let body = body.into_inner();
    let name = body.check()?;
    let mut conn = state.conn().await?;
    number_exists(&mut conn, body.number_id).await?;
    let campaign = store::insert(
        &mut conn,
        NewCampaign {
            id: Uuid::now_v7(),
            name,
            audience: json(&body.audience)?,
            number_id: body.number_id,
            template_name: body.template.name.trim().to_owned(),
            template_language: body.template.language.trim().to_owned(),
            parameters: json(&body.parameters)?,
            schedule: json(&body.schedule)?,
            quiet_hours: body.quiet_hours.as_ref().map(json).transpose()?,
            created_by: principal.staff_id(),
        },
    )
    .await?;
    Ok(HttpResponse::Created().json(CampaignResponse::try_from(campaign)?))
}

/// One campaign.
#[utoipa::path(tag = "campaigns", params(("id" = Uuid, Path)), security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = CampaignResponse),
))]
#[get("/campaigns/{id}")]
pub async fn get_campaign(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<web::Json<CampaignResponse>> {
    principal.require(Permission::WHATSAPP_CAMPAIGN_VIEW)?;
    let mut conn = state.conn().await?;
    Ok(web::Json(store::find(&mut conn, *id).await?.try_into()?))
}

fn wrong_status(status: &str, wanted: &str) -> ApiError {
    ApiError::new(
        actix_web::http::StatusCode::CONFLICT,
        "campaign_status_conflict",
        format!("the campaign is {status}; this needs it {wanted}"),
    )
}

fn lifecycle_error(error: LifecycleError, wanted: &str) -> ApiError {
    match error {
        LifecycleError::WrongStatus(status) => wrong_status(&status, wanted),
        LifecycleError::Store(error) => error.into(),
    }
}

/// Replace a campaign while it is a draft or waiting for a run. A scheduled
/// campaign's next run is rescheduled from the new schedule.
#[utoipa::path(tag = "campaigns", params(("id" = Uuid, Path)), request_body = CampaignRequest, security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = CampaignResponse),
    (status = 409, body = Problem, content_type = "application/problem+json", description = "`campaign_status_conflict`: only a draft or scheduled campaign can be edited"),
))]
#[put("/campaigns/{id}")]
pub async fn replace_campaign(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
    body: web::Json<CampaignRequest>,
) -> ApiResult<web::Json<CampaignResponse>> {
    principal.require(Permission::WHATSAPP_CAMPAIGN_EDIT)?;
    let body = body.into_inner();
    let name = body.check()?;
    let id = *id;
    let now = state.clock.now();
    let mut conn = state.conn().await?;
    number_exists(&mut conn, body.number_id).await?;
    let changes = CampaignChanges {
        name: Some(name),
        audience: Some(json(&body.audience)?),
        number_id: Some(body.number_id),
        template_name: Some(body.template.name.trim().to_owned()),
        template_language: Some(body.template.language.trim().to_owned()),
        parameters: Some(json(&body.parameters)?),
        schedule: Some(json(&body.schedule)?),
        quiet_hours: Some(body.quiet_hours.as_ref().map(json).transpose()?),
        updated_at: Some(Utc::now()),
    };
    let campaign = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let campaign = store::lock(conn, id).await?;
            let status = CampaignStatus::parse(&campaign.status)
                .ok_or_else(|| ApiError::internal("unknown campaign status"))?;
            if !status.is_editable() {
                return Err(wrong_status(&campaign.status, "draft or scheduled"));
            }
            let campaign = store::update(conn, id, changes).await?;
            if status != CampaignStatus::Scheduled {
                return Ok(campaign);
            }
            reschedule(conn, &campaign, now).await?;
            Ok(store::find(conn, id).await?)
        })
        .await?;
    state.jobs.jobs_queued();
    Ok(web::Json(campaign.try_into()?))
}

/// Drops the runs not started yet (and their start jobs) and schedules the
/// next run from the campaign's current schedule.
async fn reschedule(
    conn: &mut AsyncPgConnection,
    campaign: &Campaign,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    let waiting = runs::in_status(conn, campaign.id, &["scheduled"]).await?;
    for run in &waiting {
        let key = wacrm_worker::Job::unique_key(&StartCampaignRun { run_id: run.id });
        if let Some(key) = key {
            jobs::cancel_queued(conn, &key).await?;
        }
        runs::delete(conn, run.id).await?;
    }
    let made = campaign.runs_created - i32::try_from(waiting.len()).unwrap_or(0);
    store::set_next_run(conn, campaign.id, made, None).await?;
    let campaign = store::find(conn, campaign.id).await?;
    lifecycle::schedule_next(conn, &campaign, now).await?;
    Ok(())
}

/// Delete a campaign with its runs and report. A campaign that is sending
/// or paused must be cancelled first.
#[utoipa::path(tag = "campaigns", params(("id" = Uuid, Path)), security(("bearer" = []), ("api_key" = [])), responses(
    (status = 204),
    (status = 409, body = Problem, content_type = "application/problem+json", description = "`campaign_status_conflict`: cancel a running or paused campaign first"),
))]
#[delete("/campaigns/{id}")]
pub async fn delete_campaign(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    principal.require(Permission::WHATSAPP_CAMPAIGN_DELETE)?;
    let id = *id;
    let mut conn = state.conn().await?;
    conn.transaction::<_, ApiError, _>(async |conn| {
        let campaign = store::lock(conn, id).await?;
        if matches!(
            CampaignStatus::parse(&campaign.status),
            Some(CampaignStatus::Running | CampaignStatus::Paused)
        ) {
            return Err(wrong_status(
                &campaign.status,
                "not running or paused (cancel it first)",
            ));
        }
        for run in runs::in_status(conn, id, &["scheduled"]).await? {
            if let Some(key) = wacrm_worker::Job::unique_key(&StartCampaignRun { run_id: run.id }) {
                jobs::cancel_queued(conn, &key).await?;
            }
        }
        store::delete(conn, id).await?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Why a campaign cannot start, each at its field.
async fn startable(
    conn: &mut AsyncPgConnection,
    campaign: &Campaign,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    let mut reasons = Vec::new();
    let number = match numbers::find(conn, campaign.number_id).await {
        Ok(number) => Some(number),
        Err(StoreError::NotFound) => {
            reasons.push(FieldError {
                field: "number_id".into(),
                message: "the number no longer exists".into(),
            });
            None
        }
        Err(error) => return Err(error.into()),
    };
    if let Some(number) = number {
        let found = templates::find_for_send(
            conn,
            number.connection_id,
            &campaign.template_name,
            &campaign.template_language,
        )
        .await?;
        match found {
            None => reasons.push(FieldError {
                field: "template".into(),
                message: "no such template on the number's connection (sync the templates first)"
                    .into(),
            }),
            Some(found) if found.status != "APPROVED" => reasons.push(FieldError {
                field: "template".into(),
                message: format!("the template is {}, not APPROVED", found.status),
            }),
            Some(found) => {
                let parameters: MappedParameters =
                    serde_json::from_value(campaign.parameters.clone())
                        .map_err(ApiError::internal)?;
                let requirements = template::requirements(&found.components);
                let provider = connections::provider_of(conn, number.connection_id).await?;
                if let Some(provider) = Provider::parse(&provider)
                    && let Err(unsupported) = client::supports(provider, &parameters.shape())
                {
                    reasons.push(FieldError {
                        field: "parameters".into(),
                        message: unsupported.to_string(),
                    });
                }
                if let Err(problems) = parameters.validate(RECORD_ROOTS, &requirements) {
                    reasons.extend(problems.into_iter().map(|problem| {
                        FieldError {
                            field: format!("parameters.{}", problem.field)
                                .replace("parameters.parameters", "parameters"),
                            message: problem.message,
                        }
                    }));
                }
            }
        }
    }
    let schedule: Schedule =
        serde_json::from_value(campaign.schedule.clone()).map_err(ApiError::internal)?;
    if !schedule.has_occurrence() {
        reasons.push(FieldError {
            field: "schedule".into(),
            message: "it has no send time (it ends before its first one)".into(),
        });
    } else if schedule.starts_in_the_past(now) {
        reasons.push(FieldError {
            field: "schedule".into(),
            message: "its first send time has passed".into(),
        });
    }
    if reasons.is_empty() {
        return Ok(());
    }
    Err(ApiError::new(
        actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
        "campaign_not_startable",
        "the campaign cannot be sent as it is",
    )
    .with_errors(reasons))
}

/// Start a draft: checks that it can be sent (an APPROVED template, the
/// parameters it needs, a send time to come) and schedules its first run
/// (at once for `send_now`).
#[utoipa::path(tag = "campaigns", params(("id" = Uuid, Path)), security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = CampaignResponse),
    (status = 409, body = Problem, content_type = "application/problem+json", description = "`campaign_status_conflict`: only a draft can be started"),
    (status = 422, body = Problem, content_type = "application/problem+json", description = "`campaign_not_startable`, with the reasons in `errors[]`"),
))]
#[post("/campaigns/{id}/start")]
pub async fn start_campaign(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<web::Json<CampaignResponse>> {
    principal.require(Permission::WHATSAPP_CAMPAIGN_EDIT)?;
    let id = *id;
    let now = state.clock.now();
    let mut conn = state.conn().await?;
    let campaign = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let campaign = store::find(conn, id).await?;
            if campaign.status != CampaignStatus::Draft.as_str() {
                return Err(wrong_status(&campaign.status, "a draft"));
            }
            startable(conn, &campaign, now).await?;
            lifecycle::start(conn, id, now)
                .await
                .map_err(|error| lifecycle_error(error, "a draft"))
        })
        .await?;
    state.jobs.jobs_queued();
    Ok(web::Json(campaign.try_into()?))
}

/// Pause: nothing more is sent until it is resumed.
#[utoipa::path(tag = "campaigns", params(("id" = Uuid, Path)), security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = CampaignResponse),
    (status = 409, body = Problem, content_type = "application/problem+json", description = "`campaign_status_conflict`: only a scheduled, running or paused campaign can be paused"),
))]
#[post("/campaigns/{id}/pause")]
pub async fn pause_campaign(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<web::Json<CampaignResponse>> {
    principal.require(Permission::WHATSAPP_CAMPAIGN_EDIT)?;
    let id = *id;
    let mut conn = state.conn().await?;
    let campaign = conn
        .transaction::<_, ApiError, _>(async |conn| {
            lifecycle::pause(conn, id, PauseReason::Manual, None)
                .await
                .map_err(|error| lifecycle_error(error, "scheduled, running or paused"))
        })
        .await?;
    Ok(web::Json(campaign.try_into()?))
}

/// Resume a paused campaign (whatever paused it: fix the cause first).
#[utoipa::path(tag = "campaigns", params(("id" = Uuid, Path)), security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = CampaignResponse),
    (status = 409, body = Problem, content_type = "application/problem+json", description = "`campaign_status_conflict`: only a paused campaign can be resumed"),
))]
#[post("/campaigns/{id}/resume")]
pub async fn resume_campaign(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<web::Json<CampaignResponse>> {
    principal.require(Permission::WHATSAPP_CAMPAIGN_EDIT)?;
    let id = *id;
    let now = state.clock.now();
    let mut conn = state.conn().await?;
    let campaign = conn
        .transaction::<_, ApiError, _>(async |conn| {
            lifecycle::resume(conn, id, now)
                .await
                .map_err(|error| lifecycle_error(error, "paused"))
        })
        .await?;
    state.jobs.jobs_queued();
    Ok(web::Json(campaign.try_into()?))
}

/// Cancel for good: pending recipients are skipped and messages still
/// waiting to be sent are withdrawn.
#[utoipa::path(tag = "campaigns", params(("id" = Uuid, Path)), security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = CampaignResponse),
    (status = 409, body = Problem, content_type = "application/problem+json", description = "`campaign_status_conflict`: the campaign is already completed or cancelled"),
))]
#[post("/campaigns/{id}/cancel")]
pub async fn cancel_campaign(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<web::Json<CampaignResponse>> {
    principal.require(Permission::WHATSAPP_CAMPAIGN_EDIT)?;
    let id = *id;
    let mut conn = state.conn().await?;
    let campaign = conn
        .transaction::<_, ApiError, _>(async |conn| {
            lifecycle::cancel(conn, id)
                .await
                .map_err(|error| lifecycle_error(error, "not completed or cancelled"))
        })
        .await?;
    Ok(web::Json(campaign.try_into()?))
}
