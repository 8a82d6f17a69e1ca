//! Answers a customer's stop or start word with the configured confirmation,
//! inside the window their message opened, through the outbox like any reply
//! (so a blocklisted number gets no answer either).

use chrono::Utc;
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use wacrm_domain::consent::{ConsentSettings, MarketingState};
use wacrm_domain::outbound::OutboundContent;
use wacrm_persistence::{AsyncPgConnection, StoreError, conversations, settings};

use crate::context::WorkerContext;
use crate::outbox::{self, Draft, OutboxError};
use crate::{Job, JobError, TransactionalJob};

/// Who the consent replies are sent by, in a message's `sent_by`.
pub const SENT_BY: &str = "system:consent";

#[derive(Debug, Serialize, Deserialize)]
pub struct ReplyToConsent {
    pub conversation_id: Uuid,
    /// The state the customer's word moved them to.
    pub state: MarketingState,
}

impl Job for ReplyToConsent {
    const KIND: &'static str = "reply_to_consent";
    type Context = WorkerContext;

    async fn run(&self, ctx: &WorkerContext) -> Result<(), JobError> {
        let mut conn = ctx.pool.get().await.map_err(retry)?;
        self.run_in(ctx, &mut conn).await
    }
}

/// Database only (registered to run in the transaction that holds its claim):
/// the reply is queued here, and delivered by its own job.
impl TransactionalJob for ReplyToConsent {
    async fn run_in(
        &self,
        ctx: &WorkerContext,
        conn: &mut AsyncPgConnection,
    ) -> Result<(), JobError> {
        let settings: ConsentSettings = settings::load(conn, ConsentSettings::KEY)
            .await
            .map_err(retry)?;
        let Some(reply) = settings.reply(self.state) else {
            return Ok(());
        };
        let conversation = match conversations::lock(conn, self.conversation_id).await {
            Ok(conversation) => conversation,
            Err(StoreError::NotFound) => return Ok(()),
            Err(error) => return Err(retry(error)),
        };
        let draft = Draft {
            content: OutboundContent::Text {
                text: reply.to_owned(),
                preview_url: false,
            },
            context_message_id: None,
            sent_by: SENT_BY.to_owned(),
        };
        match outbox::queue(conn, &ctx.cipher, &conversation, draft, Utc::now()).await {
            Ok(_) => Ok(()),
            Err(OutboxError::Refused(refusal)) => {
                tracing::info!(conversation_id = %conversation.id, ?refusal, "consent reply refused by the sending rules");
                Ok(())
            }
            Err(OutboxError::Store(error)) => Err(retry(error)),
        }
    }
}

fn retry(error: impl std::fmt::Display) -> JobError {
    JobError::retry(error.to_string())
}
