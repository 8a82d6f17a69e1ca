//! Turns one stored webhook body into inbox changes, in one transaction.

use diesel_async::AsyncConnection as _;
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use wacrm_domain::Provider;
use wacrm_domain::inbound::InboundEvent;
use wacrm_domain::settings::{AutoLeadSettings, InboundSettings};
use wacrm_persistence::{StoreError, connections, settings, webhook_events};

use crate::context::WorkerContext;
use crate::inbound::{self, InboundRules, MessageOutcome};
use crate::jobs::FetchMedia;
use crate::{Job, JobError, enqueue};

#[derive(Debug, Serialize, Deserialize)]
pub struct ProcessWebhook {
    pub event_id: Uuid,
}

impl Job for ProcessWebhook {
    const KIND: &'static str = "process_webhook";
    type Context = WorkerContext;

    async fn run(&self, ctx: &WorkerContext) -> Result<(), JobError> {
        let mut conn = ctx
            .pool
            .get()
            .await
            .map_err(|error| JobError::retry(error.to_string()))?;
        let event = match webhook_events::find(&mut conn, self.event_id).await {
            Ok(event) => event,
            Err(StoreError::NotFound) => {
                return Err(JobError::Permanent("the webhook event is gone".into()));
            }
            Err(error) => return Err(JobError::retry(error.to_string())),
        };
        if event.status == webhook_events::PROCESSED {
            return Ok(());
        }
        let failed = async |conn: &mut wacrm_persistence::AsyncPgConnection, reason: String| {
            tracing::warn!(event_id = %self.event_id, %reason, "webhook event failed");
            webhook_events::mark_failed(conn, self.event_id, &reason)
                .await
                .map_err(retry)
        };
        let Some(provider) = Provider::parse(&event.provider) else {
            return failed(&mut conn, format!("unknown provider `{}`", event.provider)).await;
        };
        let events = match wacrm_providers::parse(provider, &event.body, event.received_at) {
            Ok(events) => events,
            Err(error) => return failed(&mut conn, error.to_string()).await,
        };
        let connection = match connections::find(&mut conn, &ctx.cipher, event.connection_id).await
        {
            Ok(connection) => connection,
            Err(StoreError::NotFound) => {
                return failed(&mut conn, "the connection was deleted".into()).await;
            }
            Err(error) => return Err(retry(error)),
        };
        let event_id = self.event_id;
        let rejections = conn
            .transaction::<_, StoreError, _>(async |conn| {
                let rules = InboundRules {
                    auto_lead: settings::load::<AutoLeadSettings>(conn, AutoLeadSettings::KEY)
                        .await?,
                    inbound: settings::load::<InboundSettings>(conn, InboundSettings::KEY).await?,
                };
                let mut rejections = Vec::new();
                for parsed in events {
                    match parsed {
                        InboundEvent::Message(message) => {
                            match inbound::apply_message(conn, &connection, &rules, message).await?
                            {
                                Ok(MessageOutcome::Stored {
                                    message_id,
                                    media,
                                    bots,
                                }) => {
                                    if media {
                                        enqueue(conn, &FetchMedia { message_id }).await.map_err(
                                            |error| StoreError::Corrupt(error.to_string()),
                                        )?;
                                    }
                                    enqueue(conn, bots.as_ref())
                                        .await
                                        .map_err(|error| StoreError::Corrupt(error.to_string()))?;
                                }
                                Ok(MessageOutcome::Duplicate) => {}
                                Err(rejection) => rejections.push(rejection),
                            }
                        }
                        InboundEvent::Status(update) => {
                            inbound::apply_status(conn, &connection, update).await?
                        }
                        InboundEvent::TemplateStatus(update) => {
                            inbound::apply_template_status(conn, &connection, update).await?
                        }
                    }
                }
                if rejections.is_empty() {
                    webhook_events::mark_processed(conn, event_id).await?;
                } else {
                    webhook_events::mark_failed(conn, event_id, &rejections.join("; ")).await?;
                }
                Ok(rejections)
            })
            .await
            .map_err(retry)?;
        if !rejections.is_empty() {
            tracing::warn!(%event_id, ?rejections, "webhook event partly rejected");
        }
        Ok(())
    }
}

fn retry(error: impl std::fmt::Display) -> JobError {
    JobError::retry(error.to_string())
}
