//! Sending from the API: resolves the recipient (a conversation, or a phone on
//! a number), turns our message ids into the provider's for replies and
//! reactions, and hands the message to the outbox (which checks the sending
//! rules and queues it with its delivery job), all in one transaction with the
//! idempotency key's saved answer.

use chrono::Utc;
use diesel_async::AsyncConnection as _;
use sha2::{Digest, Sha256};
use uuid::Uuid;
use wacrm_domain::NormalizedPhone;
use wacrm_domain::bots::Event;
use wacrm_domain::outbound::OutboundContent;
use wacrm_persistence::conversations::{self, Conversation};
use wacrm_persistence::idempotency::{self, Claim};
use wacrm_persistence::messages;
use wacrm_persistence::{AsyncPgConnection, StoreError, numbers};
use wacrm_worker::jobs::{BotEvent, RunBots};
use wacrm_worker::outbox::{self, Draft, OutboxError, Refusal};

use crate::auth::Principal;
use crate::auth::principal::Caller;
use crate::auth::{Visibility, visible_conversation};
use crate::error::{ApiError, ApiResult, FieldError};
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
        Caller::Staff { id, .. } => format!("staff:{id}"),
        Caller::ApiKey(id) => format!("api_key:{id}"),
    };
    let mut conn = state.conn().await?;
    let answer = conn
        .transaction::<_, ApiError, _>(async |conn| {
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
        .await?;
    state.jobs.jobs_queued();
    Ok(answer)
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
            let conversation =
                conversations::lock_or_create(conn, number.id, phone.as_str()).await?;
            // Sending by phone reaches the same conversation as sending by id, so
            // the same visibility applies (a new conversation is unassigned).
            if Visibility::of(conn, principal)
                .await?
                .allows(conversation.assigned_to)
            {
                Ok(conversation)
            } else {
                Err(ApiError::new(
                    actix_web::http::StatusCode::FORBIDDEN,
                    "conversation_not_visible",
                    "the conversation with this customer is assigned to another agent",
                ))
            }
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
    let mut content = outgoing.content.clone();
    // Replies and reactions name our message ids; the provider knows its own.
    let context_message_id = match outgoing.reply_to {
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
    let draft = Draft {
        content,
        context_message_id,
        sent_by: scope.to_owned(),
    };
    let message = match outbox::queue(conn, &state.cipher, &conversation, draft, Utc::now()).await {
        Ok(message) => message,
        Err(OutboxError::Store(error)) => return Err(error.into()),
        Err(OutboxError::Refused(refusal)) => return Err(refused(refusal)),
    };
    if scope.starts_with("staff:") {
        // A person answered: bots pause, and "no staff response" timers stop.
        let replied = RunBots {
            events: vec![BotEvent {
                conversation_id: conversation.id,
                message_id: None,
                event: Event::StaffReplied,
            }],
        };
        wacrm_worker::enqueue(conn, &replied)
            .await
            .map_err(ApiError::internal)?;
    }
    let mut loaded = load_messages(conn, vec![message]).await?;
    let response = loaded
        .pop()
        .ok_or_else(|| ApiError::internal("the message vanished"))?;
    serde_json::to_value(response).map_err(ApiError::internal)
}

/// The problem for each of the outbox's refusals.
fn refused(refusal: Refusal) -> ApiError {
    let unprocessable = |code, detail: String| {
        ApiError::new(
            actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
            code,
            detail,
        )
    };
    match refusal {
        Refusal::Unsupported(sentence) => unprocessable("unsupported_by_provider", sentence),
        Refusal::SessionExpired { expires_at } => ApiError::session_expired(expires_at),
        Refusal::TemplateNotFound { name, language } => unprocessable(
            "template_not_found",
            format!(
                "no template `{name}` in `{language}` for this number's connection; sync templates first"
            ),
        ),
        Refusal::TemplateNotApproved { name, status } => unprocessable(
            "template_not_approved",
            format!("the template `{name}` is {status}, and only APPROVED templates can be sent"),
        ),
        Refusal::TemplateParameters(problem) => {
            unprocessable("template_parameters_mismatch", problem)
        }
        Refusal::RecipientBlocked => unprocessable(
            "recipient_blocked",
            "the recipient's number is on the blocklist and gets no messages".into(),
        ),
        Refusal::RecipientOptedOut => unprocessable(
            "recipient_opted_out",
            "the recipient opted out of marketing messages: send a utility or authentication template, or reply inside the 24-hour window".into(),
        ),
    }
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
