//! Bots (seed 001): CRUD, and a dry run that says what they would do.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use uuid::Uuid;
use wacrm_domain::bots::{self, Bot, Context, ConversationState, Response, Trigger};
use wacrm_domain::{NormalizedPhone, Permission, RelType};
use wacrm_persistence::{bots as store, numbers};
use wacrm_worker::jobs::{conversation_state, inputs};

use crate::auth::Principal;
use crate::auth::visible_conversation;
use crate::error::{ApiError, ApiResult, FieldError, Problem};
use crate::pagination::{PageParams, PageResponse};
use crate::state::AppState;

/// A bot: `{name, is_active, priority, number_ids (empty: all numbers),
/// trigger: {type, ...}, response: {type, ...}, continue?, cooldown_minutes?}`.
/// Trigger types (seed 001's reply_type): exact (1), contains (2),
/// first_message (3), keyword (4), business_hours (5), outside_business_hours (6),
/// first_message_in_session (7), idle (8), human_request (9), synonym (10),
/// timeout_reminder (11), no_staff_response (12), closed_rating (13).
/// Response types (bot_type): text (1), template (2), menu (3), flow (4),
/// media (5), location (6), buttons (7), contact (11), ai (12), rating (13).
#[derive(Serialize, ToSchema)]
pub struct BotResponse {
    pub id: Uuid,
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub definition: Value,
    /// Seed 001's number for the trigger.
    pub reply_type: u8,
    /// Seed 001's number for the response.
    pub bot_type: u8,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn respond(row: store::BotRow) -> ApiResult<BotResponse> {
    let bot: Bot = serde_json::from_value(row.definition.clone()).map_err(ApiError::internal)?;
    let mut definition = row.definition;
    if let Some(fields) = definition.as_object_mut() {
        fields.remove("id");
    }
    Ok(BotResponse {
        id: row.id,
        reply_type: bot.trigger.reply_type(),
        bot_type: bot.response.bot_type(),
        definition,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

/// A new bot (the schema of the body; the handler reads the domain's `Bot`).
/// Every check the handler makes on a field alone is declared here; what is
/// checked across fields stays a 422 (a menu's levels and replies, a flow's
/// graph, words that are only punctuation, a human request answered with a
/// menu, flow or rating).
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct BotRequest {
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    name: String,
    #[serde(default = "yes")]
    #[schema(default = true)]
    is_active: bool,
    /// Higher first; bots of equal priority in id order.
    #[serde(default)]
    priority: i32,
    /// The business numbers the bot answers on; empty for all of them.
    #[serde(default)]
    number_ids: Vec<Uuid>,
    trigger: Trigger,
    response: Response,
    /// Let lower-priority bots answer the same event too.
    #[serde(default, rename = "continue")]
    continue_after: bool,
    /// After replying in a conversation, stay silent there for this long (0: never).
    #[serde(default)]
    #[schema(maximum = 10080)]
    cooldown_minutes: u32,
}

/// The fields of a bot to change (the schema of the body): each replaces the
/// stored one, and the result is checked as a whole, as on create.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct BotChanges {
    #[schema(nullable = false, min_length = 1, max_length = 100, pattern = r"\S")]
    name: Option<String>,
    #[schema(nullable = false)]
    is_active: Option<bool>,
    #[schema(nullable = false)]
    priority: Option<i32>,
    #[schema(nullable = false)]
    number_ids: Option<Vec<Uuid>>,
    #[schema(nullable = false)]
    trigger: Option<Trigger>,
    #[schema(nullable = false)]
    response: Option<Response>,
    #[schema(nullable = false, rename = "continue")]
    continue_after: Option<bool>,
    #[schema(nullable = false, maximum = 10080)]
    cooldown_minutes: Option<u32>,
}

fn yes() -> bool {
    true
}

/// Parses and validates a bot definition for `id`.
fn parse_bot(id: Uuid, mut body: Value) -> ApiResult<Bot> {
    let Some(fields) = body.as_object_mut() else {
        return Err(ApiError::bad_request(
            "invalid_body",
            "a bot is a JSON object",
        ));
    };
    fields.insert("id".into(), Value::String(id.to_string()));
    let bot: Bot = serde_json::from_value(body).map_err(|error| {
        ApiError::bad_request("invalid_body", format!("the bot does not fit: {error}"))
    })?;
    bot.validate().map_err(|errors| {
        ApiError::validation(
            errors
                .into_iter()
                .map(|(field, message)| FieldError { field, message })
                .collect(),
        )
    })?;
    Ok(bot)
}

async fn store_bot(state: &AppState, bot: &Bot, creating: bool) -> ApiResult<store::BotRow> {
    let definition = serde_json::to_value(bot).map_err(ApiError::internal)?;
    let mut conn = state.conn().await?;
    Ok(if creating {
        store::insert(
            &mut conn,
            bot.id,
            &bot.name,
            bot.is_active,
            bot.priority,
            &definition,
        )
        .await?
    } else {
        store::replace(
            &mut conn,
            bot.id,
            &bot.name,
            bot.is_active,
            bot.priority,
            &definition,
        )
        .await?
    })
}

#[utoipa::path(tag = "bots", params(PageParams), security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = PageResponse<BotResponse>),
    (status = 403, body = Problem, content_type = "application/problem+json"),
))]
#[get("/bots")]
pub async fn list_bots(
    state: web::Data<AppState>,
    principal: Principal,
    page: web::Query<PageParams>,
) -> ApiResult<web::Json<PageResponse<BotResponse>>> {
    principal.require(Permission::WHATSAPP_BOT_VIEW)?;
    let mut conn = state.conn().await?;
    let page = store::list(&mut conn, page.request()?).await?;
    let next = page.next;
    let items = page
        .items
        .into_iter()
        .map(respond)
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(web::Json(PageResponse::from_page(
        wacrm_persistence::Page { items, next },
        |b| b,
    )))
}

/// Create a bot; its trigger, response (menus, flows) and numbers are validated.
#[utoipa::path(tag = "bots", request_body = BotRequest, security(("bearer" = []), ("api_key" = [])), responses(
    (status = 201, body = BotResponse),
    (status = 400, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
#[post("/bots")]
pub async fn create_bot(
    state: web::Data<AppState>,
    principal: Principal,
    body: web::Json<Value>,
) -> ApiResult<HttpResponse> {
    principal.require(Permission::WHATSAPP_BOT_CREATE)?;
    let bot = parse_bot(Uuid::now_v7(), body.into_inner())?;
    let row = store_bot(&state, &bot, true).await?;
    Ok(HttpResponse::Created().json(respond(row)?))
}

#[utoipa::path(tag = "bots", params(("id" = Uuid, Path)), security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = BotResponse),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
#[get("/bots/{id}")]
pub async fn get_bot(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<web::Json<BotResponse>> {
    principal.require(Permission::WHATSAPP_BOT_VIEW)?;
    let mut conn = state.conn().await?;
    Ok(web::Json(respond(store::find(&mut conn, *id).await?)?))
}

/// Change a bot: the fields given replace the stored ones, and the result is validated whole.
#[utoipa::path(tag = "bots", params(("id" = Uuid, Path)), request_body = BotChanges, security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = BotResponse),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
#[patch("/bots/{id}")]
pub async fn update_bot(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
    body: web::Json<Value>,
) -> ApiResult<web::Json<BotResponse>> {
    principal.require(Permission::WHATSAPP_BOT_EDIT)?;
    let mut conn = state.conn().await?;
    let mut merged = store::find(&mut conn, *id).await?.definition;
    drop(conn);
    let Value::Object(changes) = body.into_inner() else {
        return Err(ApiError::bad_request(
            "invalid_body",
            "send the fields to change as an object",
        ));
    };
    if let Some(fields) = merged.as_object_mut() {
        fields.extend(changes);
    }
    let bot = parse_bot(*id, merged)?;
    Ok(web::Json(respond(store_bot(&state, &bot, false).await?)?))
}

#[utoipa::path(tag = "bots", params(("id" = Uuid, Path)), security(("bearer" = []), ("api_key" = [])), responses(
    (status = 204),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
#[delete("/bots/{id}")]
pub async fn delete_bot(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    principal.require(Permission::WHATSAPP_BOT_DELETE)?;
    let mut conn = state.conn().await?;
    store::delete(&mut conn, *id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A dry run: the conversation (or, for a phone, a new one on a number) as it is.
/// Exactly one of `conversation_id` and `phone`; `number_id` goes with a phone
/// (a conversation has its number). The schema is written by hand: utoipa has
/// no way to say "one of these two fields".
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BotTestRequest {
    /// The customer's message.
    pub text: String,
    /// When it is sent (default: now); business hours and windows are judged then.
    pub at: Option<DateTime<Utc>>,
    pub conversation_id: Option<Uuid>,
    /// Instead of a conversation: a phone, judged as a first message on `number_id`.
    pub phone: Option<String>,
    pub number_id: Option<Uuid>,
}

impl utoipa::PartialSchema for BotTestRequest {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        let text = json!({"type": "string", "description": "The customer's message."});
        let at = json!({"type": ["string", "null"], "format": "date-time",
            "description": "When it is sent (default: now); business hours and windows are judged then."});
        let absent = json!({"type": "null"});
        crate::openapi::hand_written(json!({
            "description": "A dry run: give a `conversation_id`, or a `phone` (judged as a first message on `number_id`, default: the default number).",
            "oneOf": [
                {
                    "type": "object",
                    "title": "In a conversation",
                    "required": ["text", "conversation_id"],
                    "properties": {
                        "text": text, "at": at,
                        "conversation_id": {"type": "string", "format": "uuid"},
                        "phone": absent, "number_id": absent,
                    },
                    "additionalProperties": false,
                },
                {
                    "type": "object",
                    "title": "From a phone",
                    "required": ["text", "phone"],
                    "properties": {
                        "text": text, "at": at,
                        "conversation_id": absent,
                        "phone": {"type": "string"},
                        "number_id": {"type": ["string", "null"], "format": "uuid"},
                    },
                    "additionalProperties": false,
                },
            ],
        }))
    }
}

impl ToSchema for BotTestRequest {}

#[derive(Serialize, ToSchema)]
pub struct BotTestResponse {
    /// Every bot whose trigger matched, in the order considered.
    pub matched: Vec<Uuid>,
    /// What would be sent (`skipped` says why something would not).
    #[schema(value_type = Vec<Object>)]
    pub replies: Vec<Value>,
    #[schema(value_type = Vec<Object>)]
    pub ai_requests: Vec<Value>,
    /// Why the bots would say nothing at all, if so.
    pub silenced: Option<String>,
    pub handoff: bool,
}

/// What the bots would do with a message, without sending or changing anything.
#[utoipa::path(tag = "bots", request_body = BotTestRequest, security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = BotTestResponse),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
#[post("/bots/test")]
pub async fn test_bots(
    state: web::Data<AppState>,
    principal: Principal,
    body: web::Json<BotTestRequest>,
) -> ApiResult<web::Json<BotTestResponse>> {
    principal.require(Permission::WHATSAPP_BOT_VIEW)?;
    let body = body.into_inner();
    let mut conn = state.conn().await?;
    let only = |field: &str, message: &str| {
        ApiError::validation(vec![FieldError {
            field: field.into(),
            message: message.into(),
        }])
    };
    if body.conversation_id.is_some() && body.phone.is_some() {
        return Err(only("phone", "give a conversation_id or a phone, not both"));
    }
    if body.conversation_id.is_some() && body.number_id.is_some() {
        return Err(only(
            "number_id",
            "goes with a phone: a conversation has its number",
        ));
    }
    let (conversation_state, number_id) = match (body.conversation_id, &body.phone) {
        (Some(id), _) => {
            let conversation = visible_conversation(&mut conn, &principal, id).await?;
            let state = conversation_state(&mut conn, &conversation, None).await?;
            (state, conversation.number_id)
        }
        (None, Some(phone)) => {
            NormalizedPhone::parse(phone, state.default_country).map_err(|error| {
                ApiError::validation(vec![FieldError {
                    field: "phone".into(),
                    message: error.to_string(),
                }])
            })?;
            let number = match body.number_id {
                Some(id) => numbers::find(&mut conn, id).await?,
                None => numbers::sending_default(&mut conn)
                    .await?
                    .ok_or_else(|| ApiError::not_found("number"))?,
            };
            (ConversationState::new(RelType::General), number.id)
        }
        (None, None) => {
            return Err(only("conversation_id", "give a conversation_id or a phone"));
        }
    };
    let connection_id = numbers::find(&mut conn, number_id).await?.connection_id;
    let inputs = inputs(&mut conn, connection_id).await?;
    let now = body.at.unwrap_or_else(Utc::now);
    let context = Context {
        number_id,
        now,
        business_hours: &inputs.hours,
        approved_templates: &inputs.approved,
    };
    let decision = bots::dry_run(&inputs.bots, &conversation_state, &body.text, now, &context);
    Ok(web::Json(BotTestResponse {
        matched: decision.matched,
        replies: decision
            .replies
            .iter()
            .filter_map(|r| serde_json::to_value(r).ok())
            .collect(),
        ai_requests: decision
            .ai_requests
            .iter()
            .filter_map(|r| serde_json::to_value(r).ok())
            .collect(),
        silenced: decision
            .silenced
            .and_then(|s| serde_json::to_value(s).ok())
            .and_then(|v| v.as_str().map(str::to_owned)),
        handoff: decision.handoff,
    }))
}
