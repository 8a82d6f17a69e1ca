//! Quick replies: canned answers agents pick by shortcut, rendered with the
//! conversation's `{{variables}}` before they are sent.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use wacrm_domain::{Permission, RelType, quick_reply};
use wacrm_persistence::{
    AsyncPgConnection, StoreError, contacts, conversations, leads, quick_replies, staff,
};

use crate::auth::{Principal, visible_conversation};
use crate::error::{ApiError, ApiResult, Problem};
use crate::pagination::{PageParams, PageResponse};
use crate::state::AppState;
use crate::validation::Checks;

/// WhatsApp's limit on a text message body.
const MAX_BODY: usize = 4096;
const MAX_SHORTCUT: usize = 50;

#[derive(Serialize, ToSchema)]
pub struct QuickReplyResponse {
    pub id: Uuid,
    /// What an agent types to pick it, such as `/hello`; unique without regard to case.
    pub shortcut: String,
    pub title: Option<String>,
    /// The text, with `{{variable}}` placeholders.
    pub body: String,
    /// The placeholder names in `body`, in order of first use. Rendering fills
    /// `name`, `first_name`, `phone` and `agent`; others stay as written.
    pub variables: Vec<String>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<quick_replies::QuickReply> for QuickReplyResponse {
    fn from(row: quick_replies::QuickReply) -> Self {
        Self {
            variables: quick_reply::variables(&row.body),
            id: row.id,
            shortcut: row.shortcut,
            title: row.title,
            body: row.body,
            created_by: row.created_by,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateQuickReplyRequest {
    /// 1 to 50 characters, no spaces (surrounding whitespace is trimmed).
    #[schema(pattern = r"^\s*\S{1,50}\s*$")]
    pub shortcut: String,
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub title: Option<String>,
    /// Up to 4096 characters.
    #[schema(min_length = 1, max_length = 4096, pattern = r"\S")]
    pub body: String,
}

/// Only the fields given change; `null` clears the title.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateQuickReplyRequest {
    #[schema(pattern = r"^\s*\S{1,50}\s*$")]
    pub shortcut: Option<String>,
    #[serde(default, with = "::serde_with::rust::double_option")]
    #[schema(value_type = Option<String>, nullable, min_length = 1, max_length = 200, pattern = r"\S")]
    pub title: Option<Option<String>>,
    #[schema(min_length = 1, max_length = 4096, pattern = r"\S")]
    pub body: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct QuickReplyQuery {
    /// Case-insensitive search in shortcut, title and body.
    pub q: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenderQuickReplyRequest {
    /// The conversation the reply is for.
    pub conversation_id: Uuid,
}

#[derive(Serialize, ToSchema)]
pub struct RenderQuickReplyResponse {
    /// The body with its variables filled; those without a value stay as written.
    pub text: String,
}

/// List quick replies, newest first.
#[utoipa::path(tag = "quick-replies", params(PageParams, QuickReplyQuery), security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = PageResponse<QuickReplyResponse>),
    (status = 400, body = Problem, content_type = "application/problem+json"),
    (status = 403, body = Problem, content_type = "application/problem+json"),
))]
#[get("/quick-replies")]
pub async fn list_quick_replies(
    state: web::Data<AppState>,
    principal: Principal,
    page: web::Query<PageParams>,
    query: web::Query<QuickReplyQuery>,
) -> ApiResult<web::Json<PageResponse<QuickReplyResponse>>> {
    principal.require(Permission::QUICKREPLIES_VIEW)?;
    let filter = quick_replies::QuickReplyFilter {
        search: query.into_inner().q.filter(|q| !q.trim().is_empty()),
    };
    let mut conn = state.conn().await?;
    let page = quick_replies::list(&mut conn, &filter, page.request()?).await?;
    Ok(web::Json(PageResponse::from_page(page, Into::into)))
}

/// Create a quick reply.
#[utoipa::path(tag = "quick-replies", request_body = CreateQuickReplyRequest, security(("bearer" = []), ("api_key" = [])), responses(
    (status = 201, body = QuickReplyResponse),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 409, body = Problem, content_type = "application/problem+json", description = "`already_exists`: the shortcut is taken"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
#[post("/quick-replies")]
pub async fn create_quick_reply(
    state: web::Data<AppState>,
    principal: Principal,
    body: web::Json<CreateQuickReplyRequest>,
) -> ApiResult<HttpResponse> {
    principal.require(Permission::QUICKREPLIES_CREATE)?;
    let body = body.into_inner();
    let mut checks = Checks::default();
    let shortcut = shortcut(&mut checks, &body.shortcut);
    let title = body
        .title
        .as_deref()
        .map(|title| checks.text("title", title, 200));
    let text = checks.text("body", &body.body, MAX_BODY);
    checks.finish()?;
    let mut conn = state.conn().await?;
    let reply = quick_replies::insert(
        &mut conn,
        quick_replies::NewQuickReply {
            id: Uuid::now_v7(),
            shortcut,
            title,
            body: text,
            created_by: principal.staff_id(),
        },
    )
    .await?;
    Ok(HttpResponse::Created().json(QuickReplyResponse::from(reply)))
}

/// One quick reply.
#[utoipa::path(tag = "quick-replies", params(("id" = Uuid, Path)), security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = QuickReplyResponse),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
#[get("/quick-replies/{id}")]
pub async fn get_quick_reply(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<web::Json<QuickReplyResponse>> {
    principal.require(Permission::QUICKREPLIES_VIEW)?;
    let mut conn = state.conn().await?;
    Ok(web::Json(quick_replies::find(&mut conn, *id).await?.into()))
}

/// Change a quick reply.
#[utoipa::path(tag = "quick-replies", params(("id" = Uuid, Path)), request_body = UpdateQuickReplyRequest, security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = QuickReplyResponse),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, body = Problem, content_type = "application/problem+json", description = "`already_exists`: the shortcut is taken"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
#[patch("/quick-replies/{id}")]
pub async fn update_quick_reply(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
    body: web::Json<UpdateQuickReplyRequest>,
) -> ApiResult<web::Json<QuickReplyResponse>> {
    principal.require(Permission::QUICKREPLIES_EDIT)?;
    let body = body.into_inner();
    let mut checks = Checks::default();
    let changes = quick_replies::QuickReplyChanges {
        shortcut: body
            .shortcut
            .as_deref()
            .map(|given| shortcut(&mut checks, given)),
        title: body.title.map(|title| {
            title
                .as_deref()
                .map(|title| checks.text("title", title, 200))
        }),
        body: body
            .body
            .as_deref()
            .map(|text| checks.text("body", text, MAX_BODY)),
        ..Default::default()
    };
    checks.finish()?;
    let mut conn = state.conn().await?;
    Ok(web::Json(
        quick_replies::update(&mut conn, *id, changes).await?.into(),
    ))
}

/// Delete a quick reply.
#[utoipa::path(tag = "quick-replies", params(("id" = Uuid, Path)), security(("bearer" = []), ("api_key" = [])), responses(
    (status = 204),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
#[delete("/quick-replies/{id}")]
pub async fn delete_quick_reply(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    principal.require(Permission::QUICKREPLIES_DELETE)?;
    let mut conn = state.conn().await?;
    quick_replies::delete(&mut conn, *id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Render a quick reply for a conversation.
///
/// `{{name}}` is the lead's, contact's or staff member's name (for an unknown
/// sender, the name WhatsApp reported), `{{first_name}}` its first word,
/// `{{phone}}` the customer's number with `+`, `{{agent}}` the name of the
/// staff member asking. Other variables stay as written.
#[utoipa::path(tag = "quick-replies", params(("id" = Uuid, Path)), request_body = RenderQuickReplyRequest, security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = RenderQuickReplyResponse),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json", description = "`invalid_reference`: no such conversation, or one the caller may not see"),
))]
#[post("/quick-replies/{id}/render")]
pub async fn render_quick_reply(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
    body: web::Json<RenderQuickReplyRequest>,
) -> ApiResult<web::Json<RenderQuickReplyResponse>> {
    principal.require(Permission::QUICKREPLIES_VIEW)?;
    principal.require(Permission::WHATSAPP_CHAT_VIEW)?;
    let mut conn = state.conn().await?;
    let reply = quick_replies::find(&mut conn, *id).await?;
    // A conversation the caller may not see is refused as if it did not exist.
    let conversation = visible_conversation(&mut conn, &principal, body.conversation_id)
        .await
        .map_err(|error| match error.code() {
            "not_found" => ApiError::invalid_reference("conversation_id"),
            _ => error,
        })?;
    let name = customer_name(&mut conn, &conversation).await?;
    let first_name = name
        .as_deref()
        .and_then(|name| name.split_whitespace().next())
        .map(str::to_owned);
    let phone = conversation
        .customer_phone
        .as_deref()
        .map(|phone| format!("+{phone}"));
    let agent = match principal.staff_id() {
        Some(staff_id) => Some(staff::find(&mut conn, staff_id).await?.name),
        None => None,
    };
    let values = |variable: &str| match variable {
        "name" => name.clone(),
        "first_name" => first_name.clone(),
        "phone" => phone.clone(),
        "agent" => agent.clone(),
        _ => None,
    };
    Ok(web::Json(RenderQuickReplyResponse {
        text: quick_reply::render(&reply.body, &values),
    }))
}

/// Trimmed, non-empty, without spaces: an agent types it in one go.
fn shortcut(checks: &mut Checks, given: &str) -> String {
    let shortcut = checks.text("shortcut", given, MAX_SHORTCUT);
    if shortcut.chars().any(char::is_whitespace) {
        checks.fail("shortcut", "must not contain spaces");
    }
    shortcut
}

/// The name of the person the conversation is with: their CRM record's, else
/// (unknown sender, or the record is gone) the one WhatsApp reported.
async fn customer_name(
    conn: &mut AsyncPgConnection,
    conversation: &conversations::Conversation,
) -> ApiResult<Option<String>> {
    let reported = conversation
        .profile_name
        .clone()
        .filter(|name| !name.trim().is_empty());
    let Some(rel_id) = conversation.rel_id else {
        return Ok(reported);
    };
    let found = match RelType::parse(&conversation.rel_type) {
        Some(RelType::Lead) => leads::find(conn, rel_id).await.map(|lead| lead.name),
        Some(RelType::Contact) => contacts::find(conn, rel_id)
            .await
            .map(|contact| contact.name),
        Some(RelType::Staff) => staff::find(conn, rel_id).await.map(|member| member.name),
        Some(RelType::General) | None => return Ok(reported),
    };
    match found {
        Ok(name) => Ok(Some(name)),
        Err(StoreError::NotFound) => Ok(reported),
        Err(other) => Err(other.into()),
    }
}
