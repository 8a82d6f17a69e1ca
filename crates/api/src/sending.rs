//! Queues an outbound message: every rule is checked before anything is stored
//! (window, template approval and parameters, what the provider can carry),
//! then the message (`queued`) and its delivery job commit in one transaction,
//! together with the idempotency key's saved answer.

use chrono::Utc;
use diesel_async::AsyncConnection as _;
use serde_json::json;
use sha2::{Digest, Sha256};
use uuid::Uuid;
use wacrm_domain::outbound::OutboundContent;
use wacrm_domain::{NormalizedPhone, session, template};
use wacrm_persistence::conversations::{self, Conversation, ConversationChanges};
use wacrm_persistence::idempotency::{self, Claim};
use wacrm_persistence::messages::{self, NewMessage};
use wacrm_persistence::{AsyncPgConnection, StoreError, connections, events, numbers, templates};
use wacrm_providers::client;
use wacrm_worker::jobs::DeliverMessage;

use crate::auth::Principal;
use crate::auth::principal::Caller;
use crate::error::{ApiError, ApiResult, FieldError};
use crate::routes::conversations::visible_conversation;
use crate::routes::messages::load_messages;
use crate::state::AppState;

/// Where the message goes.
pub enum Recipient {
    Conversation(Uuid),
    /// Start or continue a conversation by phone, from a given or default number.
    Phone {
        to_phone: String,
        number_id: Option<Uuid>,
    },
}

pub struct Outgoing {
    pub recipient: Recipient,
    pub content: OutboundContent,
    /// Our id of the message being replied to.
    pub reply_to: Option<Uuid>,
    /// The `Idempotency-Key` header and a fingerprint of the request.
    pub idempotency: Option<(String, Vec<u8>)>,
}

/// The answer to send back: a new 202, or a replay of the first one.
pub struct Answer {
    pub status: u16,
    pub body: serde_json::Value,
}

pub fn fingerprint(path: &str, body: &[u8]) -> Vec<u8> {
    let mut hasher = Sha256::new();
    hasher.update(path.as_bytes());
    hasher.update([0]);
    hasher.update(body);
    hasher.finalize().to_vec()
}

pub async fn queue(
    state: &AppState,
    principal: &Principal,
    outgoing: Outgoing,
) -> ApiResult<Answer> {
    if let Err(errors) = outgoing.content.validate() {
        return Err(ApiError::validation(
            errors
                .into_iter()
                .map(|(field, message)| FieldError { field, message })
                .collect(),
        ));
    }
    let scope = match principal.caller {
        Caller::Staff(id) => format!("staff:{id}"),
        Caller::ApiKey(id) => format!("api_key:{id}"),
    };
    let mut conn = state.conn().await?;
    conn.transaction::<_, ApiError, _>(async |conn| {
        if let Some((key, hash)) = &outgoing.idempotency {
            match idempotency::claim(conn, &scope, key, hash).await? {
                Claim::New => {}
                Claim::Replay { status, body } => {
                    return Ok(Answer {
                        status: u16::try_from(status).unwrap_or(202),
                        body,
                    });
                }
                Claim::Mismatch => {
                    return Err(ApiError::new(
                        actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
                        "idempotency_key_reused",
                        "this Idempotency-Key was used for a different request; use a new key",
                    ));
                }
                Claim::InFlight => {
                    return Err(ApiError::new(
                        actix_web::http::StatusCode::CONFLICT,
                        "idempotency_key_in_use",
                        "a request with this Idempotency-Key is still being processed",
                    ));
                }
            }
        }
        let conversation =
            recipient_conversation(conn, state, principal, &outgoing.recipient).await?;
        let body = insert_and_enqueue(conn, state, &scope, conversation, &outgoing).await?;
        if let Some((key, _)) = &outgoing.idempotency {
            idempotency::save(conn, &scope, key, 202, &body).await?;
        }
        Ok(Answer { status: 202, body })
    })
    .await
}

async fn recipient_conversation(
    conn: &mut AsyncPgConnection,
    state: &AppState,
    principal: &Principal,
    recipient: &Recipient,
) -> ApiResult<Conversation> {
    match recipient {
        Recipient::Conversation(id) => {
            visible_conversation(conn, principal, *id).await?;
            Ok(conversations::lock(conn, *id).await?)
        }
        Recipient::Phone {
            to_phone,
            number_id,
        } => {
            let phone =
                NormalizedPhone::parse(to_phone, state.default_country).map_err(|error| {
                    ApiError::validation(vec![FieldError {
                        field: "to_phone".into(),
                        message: error.to_string(),
                    }])
                })?;
            let number = match number_id {
                Some(id) => numbers::find(conn, *id)
                    .await
                    .map_err(|error| match error {
                        StoreError::NotFound => ApiError::validation(vec![FieldError {
                            field: "number_id".into(),
                            message: "names no existing number".into(),
                        }]),
                        other => other.into(),
                    })?,
                None => numbers::sending_default(conn)
                    .await?
                    .ok_or_else(not_configured)?,
            };
            Ok(conversations::lock_or_create(conn, number.id, phone.as_str()).await?)
        }
    }
}

fn not_configured() -> ApiError {
    ApiError::new(
        actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
        "provider_not_configured",
        "no WhatsApp number is configured with a working provider connection",
    )
    .with_hint(
        "an admin adds a connection (POST /api/v1/connections) and a number (POST /api/v1/numbers)",
    )
}

async fn insert_and_enqueue(
    conn: &mut AsyncPgConnection,
    state: &AppState,
    scope: &str,
    conversation: Conversation,
    outgoing: &Outgoing,
) -> ApiResult<serde_json::Value> {
    let number = numbers::find(conn, conversation.number_id).await?;
    let connection = connections::find(conn, &state.cipher, number.connection_id).await?;
    let mut content = outgoing.content.clone();

    client::supports(connection.provider, &content).map_err(|unsupported| {
        ApiError::new(
            actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
            "unsupported_by_provider",
            unsupported.to_string(),
        )
    })?;

    let now = Utc::now();
    if !content.is_template() && !session::is_open(conversation.session_expires_at, now) {
        return Err(ApiError::session_expired(conversation.session_expires_at));
    }
    if let OutboundContent::Template {
        name,
        language,
        header,
        body_params,
        button_params,
        ..
    } = &content
    {
        let found = templates::find_for_send(conn, connection.id, name, language).await?.ok_or_else(|| {
            ApiError::new(
                actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
                "template_not_found",
                format!("no template `{name}` in `{language}` for this number's connection; sync templates first"),
            )
        })?;
        if found.status != "APPROVED" {
            return Err(ApiError::new(
                actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
                "template_not_approved",
                format!(
                    "the template `{name}` is {}, and only APPROVED templates can be sent",
                    found.status
                ),
            ));
        }
        let requirements = template::requirements(&found.components);
        template::check(&requirements, header.as_ref(), body_params, button_params).map_err(
            |problem| {
                ApiError::new(
                    actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
                    "template_parameters_mismatch",
                    problem,
                )
            },
        )?;
    }
    // Replies and reactions name our message ids; the provider knows its own.
    let reply_to = match outgoing.reply_to {
        Some(id) => Some(provider_id_in(conn, &conversation, id, "reply_to").await?),
        None => None,
    };
    if let OutboundContent::Reaction { message_id, .. } = &mut content {
        let ours = message_id.parse::<Uuid>().map_err(|_| {
            invalid(
                "reaction.message_id",
                "must be the id of a message in this conversation",
            )
        })?;
        *message_id = provider_id_in(conn, &conversation, ours, "reaction.message_id").await?;
    }

    let message = messages::insert_unless_known(
        conn,
        NewMessage {
            id: Uuid::now_v7(),
            conversation_id: conversation.id,
            direction: "outbound".into(),
            kind: content.kind().as_str().into(),
            body: content.preview(),
            payload: serde_json::to_value(&content).map_err(ApiError::internal)?,
            provider: connection.provider.as_str().into(),
            provider_message_id: None,
            status: "queued".into(),
            sent_by: Some(scope.to_owned()),
            sent_at: now,
            context_message_id: reply_to,
        },
    )
    .await?
    .ok_or_else(|| ApiError::internal("a new message id collided"))?;
    wacrm_worker::enqueue(
        conn,
        &DeliverMessage {
            message_id: message.id,
        },
    )
    .await
    .map_err(ApiError::internal)?;
    conversations::update(
        conn,
        conversation.id,
        ConversationChanges {
            last_message_id: Some(Some(message.id)),
            last_message_at: Some(Some(now)),
            last_message_preview: Some(Some(message.body.chars().take(120).collect())),
            ..Default::default()
        },
    )
    .await?;
    events::publish(conn, &json!({"type": "message.created", "message_id": message.id, "conversation_id": conversation.id})).await?;
    let mut loaded = load_messages(conn, vec![message]).await?;
    let response = loaded
        .pop()
        .ok_or_else(|| ApiError::internal("the message vanished"))?;
    serde_json::to_value(response).map_err(ApiError::internal)
}

/// The provider's id of our message `id`, which must belong to `conversation`.
async fn provider_id_in(
    conn: &mut AsyncPgConnection,
    conversation: &Conversation,
    id: Uuid,
    field: &str,
) -> ApiResult<String> {
    let message = messages::find(conn, id)
        .await
        .map_err(|_| invalid(field, "names no message"))?;
    if message.conversation_id != conversation.id {
        return Err(invalid(field, "names a message of another conversation"));
    }
    message
        .provider_message_id
        .ok_or_else(|| invalid(field, "names a message the provider has not accepted yet"))
}

fn invalid(field: &str, message: &str) -> ApiError {
    ApiError::validation(vec![FieldError {
        field: field.into(),
        message: message.into(),
    }])
}
