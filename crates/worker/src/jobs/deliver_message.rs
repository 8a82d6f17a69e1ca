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
use wacrm_domain::outbound::OutboundMessage;
use wacrm_persistence::connections::Connection;
use wacrm_persistence::conversations::Conversation;
use wacrm_persistence::messages::Message;
use wacrm_persistence::{
    AsyncPgConnection, StoreError, StoreResult, connections, events, messages,
};
use wacrm_providers::client::{ProviderClient, SenderNumber};
use wacrm_providers::{ProviderError, hosts};

use crate::consent;
use crate::context::WorkerContext;
use crate::deliveries::{SentRecord, Start, StartRequest, Started, status_event};
use crate::jobs::activity::record_calls;
use crate::outbox::Refusal;
use crate::{Job, JobError};

/// Attempts before a retryable failure is given up (the job's own limit).
const MAX_ATTEMPTS: i32 = 8;

#[derive(Debug, Serialize, Deserialize)]
pub struct DeliverMessage {
    pub message_id: Uuid,
    /// Orders the conversation's deliveries (absent in jobs queued before it was).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<Uuid>,
    /// The sending number, so that the campaigns' dispatcher counts what waits
    /// on a number from the queue alone (absent in jobs queued before it was).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number_id: Option<Uuid>,
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
        let Some(started) = self.start(ctx).await? else {
            return Ok(());
        };
        let Started {
            message,
            conversation,
            number,
            connection,
            ..
        } = &*started;
        if !started.ahead_of.is_empty() {
            say_ahead(ctx, message, &started.ahead_of)
                .await
                .map_err(retry)?;
        }
        let content = match &started.content {
            Ok(content) => content.clone(),
            Err(error) => {
                let problem = json!({"code": "invalid_message", "title": "The stored message cannot be read", "detail": error, "provider_code": null});
                let mut conn = ctx.pool.get().await.map_err(retry)?;
                fail(&mut conn, message, problem).await.map_err(retry)?;
                return Ok(());
            }
        };
        if let Some(refusal) = &started.refusal {
            let mut conn = ctx.pool.get().await.map_err(retry)?;
            fail(&mut conn, message, refused(refusal))
                .await
                .map_err(retry)?;
            return Ok(());
        }
        // No connection is held while the send waits for its number's pace
        // and for the provider: deliveries run hundreds at once (rate ×
        // latency), far more than the pool has connections.
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
        let calls = outcome.calls;

        match outcome.result {
            Ok(sent) => {
                // One commit, shared with the other sends accepted meanwhile,
                // records the send: its calls, ids, status and events.
                ctx.deliveries
                    .record_sent(SentRecord {
                        connection: connection.clone(),
                        message: message.clone(),
                        customer_phone: conversation.customer_phone.clone().unwrap_or_default(),
                        sent,
                        calls,
                    })
                    .await
                    .map_err(retry)?;
                if !connection.is_healthy {
                    let mut conn = ctx.pool.get().await.map_err(retry)?;
                    connections::set_health(&mut conn, connection.id, None)
                        .await
                        .map_err(retry)?;
                }
                Ok(())
            }
            Err(error) => {
                let mut conn = ctx.pool.get().await.map_err(retry)?;
                record_calls(
                    &mut conn,
                    connection,
                    "send_message",
                    Some(message.id),
                    calls,
                )
                .await
                .map_err(retry)?;
                refused_by_provider(ctx, &mut conn, connection, conversation, message, error).await
            }
        }
    }
}

/// Records what a provider's refusal means: a retry (with backoff), a
/// permanent failure (and what it teaches about consent and the campaign),
/// or credentials to fix.
async fn refused_by_provider(
    ctx: &WorkerContext,
    conn: &mut AsyncPgConnection,
    connection: &Connection,
    conversation: &Conversation,
    message: &Message,
    error: ProviderError,
) -> Result<(), JobError> {
    match error {
        ProviderError::Retryable {
            code,
            message: reason,
            retry_after,
        } => {
            let attempts = previous_attempts(message) + 1;
            let problem = json!({"code": "delivery_retrying", "title": reason, "detail": null, "provider_code": code, "attempts": attempts});
            if attempts >= MAX_ATTEMPTS {
                let mut problem = problem;
                problem["code"] = json!("delivery_failed");
                fail(conn, message, problem).await.map_err(retry)?;
                return Ok(());
            }
            messages::clear_send_started(conn, message.id)
                .await
                .map_err(retry)?;
            messages::set_status(conn, message.id, "queued", Some(problem))
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
        ProviderError::Permanent {
            code,
            message: reason,
        } => {
            let problem = json!({"code": "provider_rejected", "title": reason, "detail": null, "provider_code": code});
            conn.transaction::<_, StoreError, _>(async |conn| {
                consent::learn_from_failure(
                    conn,
                    conversation.customer_phone.as_deref(),
                    code.as_deref(),
                    Utc::now(),
                )
                .await?;
                fail(conn, message, problem).await?;
                let codes = code.as_deref().into_iter();
                crate::campaigns::failures::learn(conn, message.id, codes, ctx.clock.now()).await
            })
            .await
            .map_err(retry)?;
            Ok(())
        }
        ProviderError::Auth {
            code,
            message: reason,
        } => {
            tracing::warn!(connection_id = %connection.id, "the provider refused our credentials; connection flagged");
            connections::set_health(conn, connection.id, Some(&reason))
                .await
                .map_err(retry)?;
            let problem = json!({
                "code": "provider_auth_failed",
                "title": "The provider refused the connection's credentials",
                "detail": format!("{reason}. Update the connection's credentials, then send again."),
                "provider_code": code,
            });
            fail(conn, message, problem).await.map_err(retry)?;
            Ok(())
        }
    }
}

impl DeliverMessage {
    /// Everything the send needs, read, and the attempt started
    /// (`send_started_at`, committed before the call), together with the
    /// other deliveries starting now. `None` when there is nothing to send:
    /// the message is no longer queued, or an earlier attempt started it and
    /// may have reached the provider (then it ends `delivery_unknown`, never
    /// sent again).
    async fn start(&self, ctx: &WorkerContext) -> Result<Option<Box<Started>>, JobError> {
        let conversation_id = match self.conversation_id {
            Some(id) => id,
            // Jobs queued before they carried their conversation.
            None => {
                let mut conn = ctx.pool.get().await.map_err(retry)?;
                match messages::find(&mut conn, self.message_id).await {
                    Ok(message) => message.conversation_id,
                    Err(StoreError::NotFound) => return Err(gone()),
                    Err(error) => return Err(retry(error)),
                }
            }
        };
        let request = StartRequest {
            message_id: self.message_id,
            conversation_id,
            ordering_key: self.ordering_key(),
        };
        match ctx.deliveries.start_send(request).await {
            Start::Started(started) => Ok(Some(started)),
            Start::Gone => Err(gone()),
            Start::Failed(error) => Err(JobError::retry(error)),
            Start::NotStarted => {
                let mut conn = ctx.pool.get().await.map_err(retry)?;
                self.end_if_unknown(&mut conn).await.map_err(retry)?;
                Ok(None)
            }
        }
    }

    /// A message found started by an earlier attempt ends `delivery_unknown`.
    async fn end_if_unknown(&self, conn: &mut AsyncPgConnection) -> StoreResult<()> {
        conn.transaction::<_, StoreError, _>(async |conn| {
            let message = match messages::lock(conn, self.message_id).await {
                Ok(message) => message,
                Err(StoreError::NotFound) => return Ok(()),
                Err(error) => return Err(error),
            };
            if message.status == "queued" && message.send_started_at.is_some() {
                fail(conn, &message, json!({
                    "code": "delivery_unknown",
                    "title": "An earlier attempt may have reached the provider",
                    "detail": "wacrm stopped after calling the provider and before recording its answer. Check with the customer or the provider before sending again.",
                    "provider_code": null,
                }))
                .await?;
            }
            Ok(())
        })
        .await
    }
}

fn gone() -> JobError {
    JobError::Permanent("the message or its number is gone".into())
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

/// Warns and publishes `message.order_bypassed`: earlier messages of the
/// conversation are still waiting to be sent, and the runner let this one go
/// ahead of them because they kept failing for longer than its order wait.
async fn say_ahead(
    ctx: &WorkerContext,
    message: &Message,
    earlier: &[Uuid],
) -> Result<(), StoreError> {
    tracing::warn!(
        message_id = %message.id,
        conversation_id = %message.conversation_id,
        waiting = ?earlier,
        "sent ahead of earlier messages of its conversation: they kept failing past the order wait"
    );
    let mut conn = ctx.pool.get().await?;
    events::publish(
        &mut conn,
        &json!({"type": "message.order_bypassed", "message_id": message.id, "conversation_id": message.conversation_id, "ahead_of": earlier, "at": Utc::now()}),
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
    events::publish(conn, &status_event(message, "failed")).await
}

fn retry(error: impl std::fmt::Display) -> JobError {
    JobError::retry(error.to_string())
}
