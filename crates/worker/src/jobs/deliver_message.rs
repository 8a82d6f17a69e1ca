//! Sends one queued message through its number's provider.
//!
//! At most one provider call per message is ever in flight, and a crash
//! between the provider's answer and our commit never causes a second send:
//! `send_started_at` is committed before the call, so an attempt that finds it
//! already set cannot know whether the provider got the message, and ends it
//! `failed` with `delivery_unknown` for a person to check.
//!
//! A conversation's messages reach the provider in the order they were queued:
//! the job's ordering key is its conversation, so the runner holds a message
//! back while an earlier one of its conversation is being sent or retried, up
//! to the runner's `order_wait`. One that goes ahead of a message still
//! waiting says so (a warning and a `message.order_bypassed` event).
//!
//! Consent is checked again just before the call: a customer who said STOP, or
//! a number blocklisted, while a campaign's message waited gets nothing.

use chrono::Utc;
use diesel_async::AsyncConnection as _;
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;
use wacrm_domain::consent::Sending;
use wacrm_domain::outbound::{OutboundContent, OutboundMessage};
use wacrm_persistence::connections::Connection;
use wacrm_persistence::conversations::Conversation;
use wacrm_persistence::messages::Message;
use wacrm_persistence::numbers::Number;
use wacrm_persistence::{
    AsyncPgConnection, StoreError, StoreResult, connections, events, jobs as queue, messages,
    templates,
};
use wacrm_providers::client::{ProviderClient, SenderNumber};
use wacrm_providers::{ProviderError, hosts};

use crate::context::WorkerContext;
use crate::jobs::activity::record_calls;
use crate::outbox::{self, Refusal};
use crate::{Job, JobError};
use crate::{consent, statuses};

/// Attempts before a retryable failure is given up (the job's own limit).
const MAX_ATTEMPTS: i32 = 8;

#[derive(Debug, Serialize, Deserialize)]
pub struct DeliverMessage {
    pub message_id: Uuid,
    /// Orders the conversation's deliveries (absent in jobs queued before it was).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<Uuid>,
}

impl Job for DeliverMessage {
    const KIND: &'static str = "deliver_message";
    const MAX_ATTEMPTS: i32 = MAX_ATTEMPTS;
    type Context = WorkerContext;

    fn ordering_key(&self) -> Option<String> {
        self.conversation_id
            .map(|conversation| format!("conversation:{conversation}"))
    }

    async fn run(&self, ctx: &WorkerContext) -> Result<(), JobError> {
        let mut conn = ctx.pool.get().await.map_err(retry)?;
        let Some((message, conversation, number, connection)) = self
            .start(ctx, &mut conn)
            .await
            .map_err(|error| match error {
                StoreError::NotFound => {
                    JobError::Permanent("the message or its number is gone".into())
                }
                other => retry(other),
            })?
        else {
            return Ok(());
        };

        let content: OutboundContent = match serde_json::from_value(message.payload.clone()) {
            Ok(content) => content,
            Err(error) => {
                let problem = json!({"code": "invalid_message", "title": "The stored message cannot be read", "detail": error.to_string(), "provider_code": null});
                fail(&mut conn, &message, problem).await.map_err(retry)?;
                return Ok(());
            }
        };
        if let Some(refusal) = consent_now(&mut conn, &connection, &conversation, &content)
            .await
            .map_err(retry)?
        {
            fail(&mut conn, &message, refused(&refusal))
                .await
                .map_err(retry)?;
            return Ok(());
        }
        // No connection is held while the send waits for its number's pace
        // and for the provider: deliveries run hundreds at once (rate ×
        // latency), far more than the pool has connections.
        drop(conn);
        ctx.pacer.wait(number.id, number.messages_per_second).await;
        let client = ProviderClient {
            http: &ctx.http,
            provider: connection.provider,
            base_url: connection
                .base_url
                .as_deref()
                .unwrap_or(hosts::default_base_url(connection.provider)),
            graph_version: &ctx.graph_version,
            credentials: &connection.credentials,
        };
        let sender = SenderNumber {
            phone: &number.phone_normalized,
            provider_number_id: number.provider_number_id.as_deref(),
        };
        let outgoing = OutboundMessage {
            client_id: message.id,
            to: conversation.customer_phone.clone().unwrap_or_default(),
            to_user_id: conversation.customer_user_id.clone(),
            content,
            reply_to: message.context_message_id.clone(),
        };
        let outcome = client.send(&sender, &outgoing).await;
        let mut conn = ctx.pool.get().await.map_err(retry)?;
        let calls = outcome.calls;
        let record = async |conn: &mut AsyncPgConnection, calls| {
            record_calls(conn, &connection, "send_message", Some(message.id), calls).await
        };

        match outcome.result {
            Ok(sent) => {
                // One commit records the send: its calls, ids, status and events.
                conn.transaction::<_, StoreError, _>(async |conn| {
                    record(conn, calls).await?;
                    // Reports that beat this commit are applied here, after `sent`.
                    let mut later = Vec::new();
                    statuses::record_sent(
                        conn,
                        &mut later,
                        &connection,
                        &message,
                        // Claims by recipient are for TATA and Whats91, which only
                        // send to phones; a user-id-only customer has none to claim by.
                        conversation.customer_phone.as_deref().unwrap_or_default(),
                        &sent,
                    )
                    .await?;
                    publish_status(conn, &message, "sent").await?;
                    events::publish_all(conn, &later).await
                })
                .await
                .map_err(retry)?;
                if !connection.is_healthy {
                    connections::set_health(&mut conn, connection.id, None)
                        .await
                        .map_err(retry)?;
                }
                Ok(())
            }
            Err(ProviderError::Retryable {
                code,
                message: reason,
                retry_after,
            }) => {
                record(&mut conn, calls).await.map_err(retry)?;
                let attempts = previous_attempts(&message) + 1;
                let problem = json!({"code": "delivery_retrying", "title": reason, "detail": null, "provider_code": code, "attempts": attempts});
                if attempts >= MAX_ATTEMPTS {
                    let mut problem = problem;
                    problem["code"] = json!("delivery_failed");
                    fail(&mut conn, &message, problem).await.map_err(retry)?;
                    return Ok(());
                }
                messages::clear_send_started(&mut conn, message.id)
                    .await
                    .map_err(retry)?;
                messages::set_status(&mut conn, message.id, "queued", Some(problem))
                    .await
                    .map_err(retry)?;
                Err(match retry_after {
                    Some(after) => JobError::retry_after(
                        reason,
                        chrono::Duration::from_std(after).unwrap_or(chrono::Duration::seconds(60)),
                    ),
                    None => JobError::retry(reason),
                })
            }
            Err(ProviderError::Permanent {
                code,
                message: reason,
            }) => {
                record(&mut conn, calls).await.map_err(retry)?;
                let problem = json!({"code": "provider_rejected", "title": reason, "detail": null, "provider_code": code});
                conn.transaction::<_, StoreError, _>(async |conn| {
                    consent::learn_from_failure(
                        conn,
                        conversation.customer_phone.as_deref(),
                        code.as_deref(),
                        Utc::now(),
                    )
                    .await?;
                    fail(conn, &message, problem).await?;
                    let codes = code.as_deref().into_iter();
                    crate::campaigns::failures::learn(conn, message.id, codes, ctx.clock.now())
                        .await
                })
                .await
                .map_err(retry)?;
                Ok(())
            }
            Err(ProviderError::Auth {
                code,
                message: reason,
            }) => {
                record(&mut conn, calls).await.map_err(retry)?;
                tracing::warn!(connection_id = %connection.id, "the provider refused our credentials; connection flagged");
                connections::set_health(&mut conn, connection.id, Some(&reason))
                    .await
                    .map_err(retry)?;
                let problem = json!({
                    "code": "provider_auth_failed",
                    "title": "The provider refused the connection's credentials",
                    "detail": format!("{reason}. Update the connection's credentials, then send again."),
                    "provider_code": code,
                });
                fail(&mut conn, &message, problem).await.map_err(retry)?;
                Ok(())
            }
        }
    }
}

impl DeliverMessage {
    /// Everything the send needs, read first, then the attempt started
    /// (`send_started_at`, committed before the call): three statements, no
    /// transaction. `None` when there is nothing to send: the message is no
    /// longer queued, or an earlier attempt started it and may have reached
    /// the provider (then it ends `delivery_unknown`, never sent again).
    async fn start(
        &self,
        ctx: &WorkerContext,
        conn: &mut AsyncPgConnection,
    ) -> StoreResult<Option<(Message, Conversation, Number, Connection)>> {
        let conversation_id = match self.conversation_id {
            Some(id) => id,
            // Jobs queued before they carried their conversation.
            None => messages::find(conn, self.message_id).await?.conversation_id,
        };
        let (conversation, number, connection) =
            connections::sender_of(conn, &ctx.cipher, conversation_id).await?;
        if let Some(key) = self.ordering_key() {
            say_if_ahead(conn, &key, self.message_id, conversation_id).await?;
        }
        if let Some(message) = messages::start_send(conn, self.message_id).await? {
            return Ok(Some((message, conversation, number, connection)));
        }
        conn.transaction::<_, StoreError, _>(async |conn| {
            let message = messages::lock(conn, self.message_id).await?;
            if message.status == "queued" && message.send_started_at.is_some() {
                fail(conn, &message, json!({
                    "code": "delivery_unknown",
                    "title": "An earlier attempt may have reached the provider",
                    "detail": "wacrm stopped after calling the provider and before recording its answer. Check with the customer or the provider before sending again.",
                    "provider_code": null,
                }))
                .await?;
            }
            Ok(None)
        })
        .await
    }
}

/// The consent rule as it stands now for the queued `content`.
async fn consent_now(
    conn: &mut AsyncPgConnection,
    connection: &Connection,
    conversation: &Conversation,
    content: &OutboundContent,
) -> StoreResult<Option<Refusal>> {
    let category = match content {
        OutboundContent::Template { name, language, .. } => {
            templates::find_for_send(conn, connection.id, name, language)
                .await?
                .and_then(|template| template.category)
        }
        _ => None,
    };
    let sending = match content {
        OutboundContent::Template { .. } => Sending::Template {
            category: category.as_deref(),
        },
        _ => Sending::FreeForm,
    };
    outbox::consent_refusal(conn, conversation.customer_phone.as_deref(), sending).await
}

/// The message's `error` when consent changed while it waited.
fn refused(refusal: &Refusal) -> serde_json::Value {
    let (code, title) = match refusal {
        Refusal::RecipientBlocked => (
            "recipient_blocked",
            "The recipient's number was blocklisted before the message was sent",
        ),
        _ => (
            "recipient_opted_out",
            "The recipient opted out of marketing messages before the message was sent",
        ),
    };
    json!({"code": code, "title": title, "detail": null, "provider_code": null})
}

/// Warns and publishes `message.order_bypassed` when earlier messages of the
/// conversation are still waiting to be sent: the runner let this one go
/// ahead of them because they kept failing for longer than its order wait.
async fn say_if_ahead(
    conn: &mut AsyncPgConnection,
    ordering_key: &str,
    message_id: Uuid,
    conversation_id: Uuid,
) -> Result<(), StoreError> {
    let earlier: Vec<Uuid> = queue::active_with_ordering_key(conn, ordering_key)
        .await?
        .into_iter()
        .filter_map(|payload| serde_json::from_value::<DeliverMessage>(payload).ok())
        .map(|job| job.message_id)
        .take_while(|id| *id != message_id)
        .collect();
    if earlier.is_empty() {
        return Ok(());
    }
    // Only a message about to be sent goes ahead (this may be a job run again
    // for one already sent).
    let message = messages::find(conn, message_id).await?;
    if message.status != "queued" || message.send_started_at.is_some() {
        return Ok(());
    }
    tracing::warn!(
        %message_id,
        %conversation_id,
        waiting = ?earlier,
        "sent ahead of earlier messages of its conversation: they kept failing past the order wait"
    );
    events::publish(
        conn,
        &json!({"type": "message.order_bypassed", "message_id": message_id, "conversation_id": conversation_id, "ahead_of": earlier, "at": Utc::now()}),
    )
    .await
}

/// Retryable failures so far, as recorded on the message.
fn previous_attempts(message: &Message) -> i32 {
    message
        .error
        .as_ref()
        .and_then(|error| error.get("attempts"))
        .and_then(serde_json::Value::as_i64)
        .and_then(|n| i32::try_from(n).ok())
        .unwrap_or(0)
}

async fn fail(
    conn: &mut AsyncPgConnection,
    message: &Message,
    problem: serde_json::Value,
) -> Result<(), StoreError> {
    messages::set_status(conn, message.id, "failed", Some(problem)).await?;
    publish_status(conn, message, "failed").await
}

async fn publish_status(
    conn: &mut AsyncPgConnection,
    message: &Message,
    status: &str,
) -> Result<(), StoreError> {
    events::publish(
        conn,
        &json!({"type": "message.status", "message_id": message.id, "conversation_id": message.conversation_id, "status": status, "at": Utc::now()}),
    )
    .await
}

fn retry(error: impl std::fmt::Display) -> JobError {
    JobError::retry(error.to_string())
}
