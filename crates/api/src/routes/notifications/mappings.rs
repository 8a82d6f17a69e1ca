//! Notification mappings (admin): a CRM event type to an approved template on
//! a sender number, with the recipient, the parameters as expressions over the
//! event (`{{invoice.number}}`), an optional condition, delay or reminder, and
//! an active flag. A mapping is checked against its template when saved (422
//! when the template is not APPROVED or the parameters do not fit), and shows
//! a `problem` when the template later stops being sendable.

use actix_web::{HttpResponse, delete, get, post, put, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use wacrm_domain::Permission;
use wacrm_domain::crm_events::EventType;
use wacrm_domain::notifications::condition::Condition;
use wacrm_domain::notifications::schedule::{MAX_HOURS, Reminder};
use wacrm_domain::notifications::send_to::SendTo;
use wacrm_domain::template;
use wacrm_domain::template_mapping::MappedParameters;
use wacrm_persistence::notifications::mappings::{self, Mapping, MappingFilter, MappingValues};
use wacrm_persistence::{AsyncPgConnection, StoreError, numbers, templates};

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, FieldError, Problem};
use crate::pagination::{PageParams, PageResponse};
use crate::state::AppState;
use crate::validation::Checks;

/// The longest delay: a year, in minutes.
const MAX_DELAY_MINUTES: u32 = 60 * MAX_HOURS as u32;

/// A template by name and language, on the sender number's connection.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateChoice {
    #[schema(min_length = 1, max_length = 512)]
    pub name: String,
    #[schema(min_length = 1, max_length = 15)]
    pub language: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Invoice due in 3 days", "event_type": "after_invoice_added",
    "number_id": "0193a5b0-7f1e-7c3a-9b1e-3f5d2c1a0b9e", "template": {"name": "invoice_due", "language": "en"},
    "send_to": {"type": "contact"},
    "parameters": {"body": [{"value": "{{contact.name}}", "fallback": "there"}, {"value": "{{invoice.number}}"}, {"value": "{{invoice.total}} {{invoice.currency}}"}]},
    "condition": {"field": "invoice.total", "op": "greater_than", "value": 0},
    "reminder": {"field": "invoice.due_date", "offset_hours": -72}}))]
pub struct MappingRequest {
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub name: String,
    pub event_type: EventType,
    /// The sender number; the template must exist on its connection.
    pub number_id: Uuid,
    pub template: TemplateChoice,
    pub send_to: SendTo,
    /// Each of the template's parameters as an expression over the event's
    /// record: its data under its root (`invoice`, `lead`, `form`, …) and
    /// `contact`, `lead`, `staff` and `event`.
    #[serde(default)]
    pub parameters: MappedParameters,
    #[serde(default)]
    pub condition: Option<Condition>,
    /// Minutes to wait after the event (0: at once). Not with `reminder`.
    #[serde(default)]
    #[schema(maximum = 527040)]
    pub delay_minutes: u32,
    /// Send at a time counted from a date field of the event instead.
    #[serde(default)]
    pub reminder: Option<Reminder>,
    #[serde(default = "active_default")]
    pub active: bool,
}

fn active_default() -> bool {
    true
}

/// Why a mapping cannot send as it is.
#[derive(Serialize, ToSchema)]
pub struct MappingProblem {
    /// `template_not_approved` or `template_not_found`.
    pub code: String,
    pub detail: String,
    pub since: Option<DateTime<Utc>>,
}

#[derive(Serialize, ToSchema)]
pub struct MappingResponse {
    pub id: Uuid,
    pub name: String,
    pub event_type: String,
    pub number_id: Uuid,
    pub template: TemplateChoice,
    #[schema(value_type = SendTo)]
    pub send_to: serde_json::Value,
    #[schema(value_type = MappedParameters)]
    pub parameters: serde_json::Value,
    #[schema(value_type = Option<Condition>)]
    pub condition: Option<serde_json::Value>,
    pub delay_minutes: i32,
    #[schema(value_type = Option<Reminder>)]
    pub reminder: Option<serde_json::Value>,
    pub active: bool,
    /// Set when the template stopped being sendable after the mapping was
    /// saved (e.g. PAUSED or REJECTED): its events are logged as skipped.
    pub problem: Option<MappingProblem>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Mapping> for MappingResponse {
    fn from(row: Mapping) -> Self {
        Self {
            id: row.id,
            name: row.name,
            event_type: row.event_type,
            number_id: row.number_id,
            template: TemplateChoice {
                name: row.template_name,
                language: row.template_language,
            },
            send_to: row.send_to,
            parameters: row.parameters,
            condition: row.condition,
            delay_minutes: row.delay_minutes,
            reminder: row.reminder,
            active: row.active,
            problem: row.problem_code.map(|code| MappingProblem {
                code,
                detail: row.problem_detail.unwrap_or_default(),
                since: row.flagged_at,
            }),
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MappingQuery {
    pub event_type: Option<EventType>,
    pub active: Option<bool>,
    /// `true`: only mappings with a `problem`.
    pub flagged: Option<bool>,
}

/// Checks the request against the domain rules and its template; the values
/// to store.
async fn parse(conn: &mut AsyncPgConnection, request: MappingRequest) -> ApiResult<MappingValues> {
    let roots = request.event_type.roots();
    let mut checks = Checks::default();
    let name = checks.text("name", &request.name, 200);
    let template_name = checks.text("template.name", &request.template.name, 512);
    let template_language = checks.text("template.language", &request.template.language, 15);
    if let Err(problem) = request.send_to.validate(&roots) {
        checks.fail("send_to.path", problem);
    }
    if let Some(condition) = &request.condition {
        for (field, problem) in condition.validate(&roots) {
            checks.fail(&format!("condition.{field}"), problem);
        }
    }
    if let Some(reminder) = &request.reminder {
        for (field, problem) in reminder.validate(&roots) {
            checks.fail(&format!("reminder.{field}"), problem);
        }
        if request.delay_minutes > 0 {
            checks.fail(
                "delay_minutes",
                "a reminder sets its own time: leave the delay at 0",
            );
        }
    }
    if request.delay_minutes > MAX_DELAY_MINUTES {
        checks.fail(
            "delay_minutes",
            format!("must be at most {MAX_DELAY_MINUTES} (a year)"),
        );
    }
    checks.finish()?;
    let number = numbers::find(conn, request.number_id)
        .await
        .map_err(|error| match error {
            StoreError::NotFound => ApiError::invalid_reference("number_id"),
            other => other.into(),
        })?;
    let Some(found) = templates::find_for_send(
        conn,
        number.connection_id,
        &template_name,
        &template_language,
    )
    .await?
    else {
        return Err(template_problem(
            "template_not_found",
            format!(
                "no template `{template_name}` in `{template_language}` on the sender number's connection; sync or register it first"
            ),
        ));
    };
    if found.status != "APPROVED" {
        return Err(template_problem(
            "template_not_approved",
            format!(
                "the template `{template_name}` is {}: only APPROVED templates can be mapped",
                found.status
            ),
        ));
    }
    let requirements = template::requirements(&found.components);
    if let Err(problems) = request.parameters.validate(&roots, &requirements) {
        return Err(ApiError::validation(
            problems
                .into_iter()
                .map(|problem| FieldError {
                    // The domain names the whole list `parameters`, a source by its place.
                    field: match problem.field.as_str() {
                        "parameters" => problem.field,
                        field => format!("parameters.{field}"),
                    },
                    message: problem.message,
                })
                .collect(),
        ));
    }
    let json = |value: serde_json::Result<serde_json::Value>| value.map_err(ApiError::internal);
    Ok(MappingValues {
        name,
        event_type: request.event_type.as_str().to_owned(),
        number_id: number.id,
        template_name,
        template_language,
        send_to: json(serde_json::to_value(&request.send_to))?,
        parameters: json(serde_json::to_value(&request.parameters))?,
        condition: request
            .condition
            .as_ref()
            .map(serde_json::to_value)
            .transpose()
            .map_err(ApiError::internal)?,
        delay_minutes: i32::try_from(request.delay_minutes).unwrap_or(i32::MAX),
        reminder: request
            .reminder
            .as_ref()
            .map(serde_json::to_value)
            .transpose()
            .map_err(ApiError::internal)?,
        active: request.active,
    })
}

fn template_problem(code: &'static str, detail: String) -> ApiError {
    ApiError::new(
        actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
        code,
        detail.clone(),
    )
    .with_errors(vec![FieldError {
        field: "template".into(),
        message: detail,
    }])
}

/// List notification mappings, newest first.
#[utoipa::path(tag = "notifications", params(PageParams, MappingQuery), security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = PageResponse<MappingResponse>),
    (status = 400, body = Problem, content_type = "application/problem+json", description = "`invalid_query` or `invalid_cursor`"),
    (status = 403, body = Problem, content_type = "application/problem+json"),
))]
#[get("/notification-mappings")]
pub async fn list_notification_mappings(
    state: web::Data<AppState>,
    principal: Principal,
    page: web::Query<PageParams>,
    query: web::Query<MappingQuery>,
) -> ApiResult<web::Json<PageResponse<MappingResponse>>> {
    principal.require(Permission::ADMIN)?;
    let filter = MappingFilter {
        event_type: query.event_type.map(|kind| kind.as_str().to_owned()),
        active: query.active,
        flagged: query.flagged,
    };
    let mut conn = state.conn().await?;
    let page = mappings::list(&mut conn, &filter, page.request()?).await?;
    Ok(web::Json(PageResponse::from_page(page, Into::into)))
}

/// Create a notification mapping.
#[utoipa::path(tag = "notifications", request_body = MappingRequest, security(("bearer" = []), ("api_key" = [])), responses(
    (status = 201, body = MappingResponse),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json", description = "`validation_failed` (field errors, parameters that do not fit the template), `invalid_reference` (number), `template_not_found` or `template_not_approved`"),
))]
#[post("/notification-mappings")]
pub async fn create_notification_mapping(
    state: web::Data<AppState>,
    principal: Principal,
    body: web::Json<MappingRequest>,
) -> ApiResult<HttpResponse> {
    principal.require(Permission::ADMIN)?;
    let mut conn = state.conn().await?;
    let values = parse(&mut conn, body.into_inner()).await?;
    let mapping = mappings::insert(&mut conn, Uuid::now_v7(), values, principal.staff_id()).await?;
    Ok(HttpResponse::Created().json(MappingResponse::from(mapping)))
}

/// One notification mapping.
#[utoipa::path(tag = "notifications", params(("id" = Uuid, Path)), security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = MappingResponse),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
#[get("/notification-mappings/{id}")]
pub async fn get_notification_mapping(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<web::Json<MappingResponse>> {
    principal.require(Permission::ADMIN)?;
    let mut conn = state.conn().await?;
    Ok(web::Json(mappings::find(&mut conn, *id).await?.into()))
}

/// Replace a notification mapping (checked again against its template, which
/// clears its `problem`).
#[utoipa::path(tag = "notifications", params(("id" = Uuid, Path)), request_body = MappingRequest, security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = MappingResponse),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json", description = "as for create"),
))]
#[put("/notification-mappings/{id}")]
pub async fn replace_notification_mapping(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
    body: web::Json<MappingRequest>,
) -> ApiResult<web::Json<MappingResponse>> {
    principal.require(Permission::ADMIN)?;
    let mut conn = state.conn().await?;
    mappings::find(&mut conn, *id).await?;
    let values = parse(&mut conn, body.into_inner()).await?;
    Ok(web::Json(
        mappings::replace(&mut conn, *id, values).await?.into(),
    ))
}

/// Delete a notification mapping; its scheduled notifications are cancelled
/// when they fall due, and its log entries stay.
#[utoipa::path(tag = "notifications", params(("id" = Uuid, Path)), security(("bearer" = []), ("api_key" = [])), responses(
    (status = 204),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
#[delete("/notification-mappings/{id}")]
pub async fn delete_notification_mapping(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    principal.require(Permission::ADMIN)?;
    let mut conn = state.conn().await?;
    mappings::delete(&mut conn, *id).await?;
    Ok(HttpResponse::NoContent().finish())
}
