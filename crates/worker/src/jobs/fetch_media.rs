//! Copies an inbound message's media from the provider into our media store.
//! Retried with backoff on failure; the message itself is already stored.

use serde::{Deserialize, Serialize};
use uuid::Uuid;
use wacrm_domain::inbound::{MediaSource, MessageKind};
use wacrm_persistence::{StoreError, connections, conversations, messages, numbers};
use wacrm_providers::ProviderError;
use wacrm_providers::hosts::default_base_url;
use wacrm_providers::media::{self, Endpoint};

use crate::context::WorkerContext;
use crate::{Job, JobError};

#[derive(Debug, Serialize, Deserialize)]
pub struct FetchMedia {
    pub message_id: Uuid,
}

impl Job for FetchMedia {
    const KIND: &'static str = "fetch_media";
    const MAX_ATTEMPTS: i32 = 10;
    type Context = WorkerContext;

    async fn run(&self, ctx: &WorkerContext) -> Result<(), JobError> {
        let mut conn = ctx
            .pool
            .get()
            .await
            .map_err(|error| JobError::retry(error.to_string()))?;
        let Some(media) = messages::find_media(&mut conn, self.message_id)
            .await
            .map_err(retry)?
        else {
            return Err(JobError::Permanent("the message has no media".into()));
        };
        if media.stored_key.is_some() {
            return Ok(());
        }
        let message = messages::find(&mut conn, self.message_id)
            .await
            .map_err(gone)?;
        let conversation = conversations::find(&mut conn, message.conversation_id)
            .await
            .map_err(gone)?;
        let number = numbers::find(&mut conn, conversation.number_id)
            .await
            .map_err(gone)?;
        let connection = connections::find(&mut conn, &ctx.cipher, number.connection_id)
            .await
            .map_err(gone)?;
        let source: MediaSource = serde_json::from_value(media.source.clone())
            .map_err(|error| JobError::Permanent(format!("unreadable media source: {error}")))?;
        let endpoint = Endpoint {
            provider: connection.provider,
            base_url: connection
                .base_url
                .as_deref()
                .unwrap_or(default_base_url(connection.provider)),
            graph_version: &ctx.graph_version,
            credentials: &connection.credentials,
        };
        let limit = media::size_limit(MessageKind::parse(&message.kind));
        let downloaded = match media::fetch(&ctx.http, &endpoint, &source, limit).await {
            Ok(downloaded) => downloaded,
            Err(error) => {
                messages::media_failed(&mut conn, self.message_id, &error.to_string())
                    .await
                    .map_err(retry)?;
                return Err(match error {
                    ProviderError::Retryable {
                        retry_after: Some(after),
                        ..
                    } => JobError::retry_after(
                        error.to_string(),
                        chrono::Duration::from_std(after).unwrap_or(chrono::Duration::seconds(60)),
                    ),
                    // An expired token may be renewed; a refused link stays refused.
                    ProviderError::Retryable { .. } | ProviderError::Auth { .. } => {
                        JobError::retry(error.to_string())
                    }
                    ProviderError::Permanent { .. } => JobError::Permanent(error.to_string()),
                });
            }
        };
        let key = format!("{}/{}", conversation.id, message.id);
        let size = i64::try_from(downloaded.bytes.len()).unwrap_or(i64::MAX);
        ctx.media.put(&key, downloaded.bytes).await.map_err(retry)?;
        let mime_type = media.mime_type.or(downloaded.mime_type);
        messages::media_stored(&mut conn, self.message_id, &key, size, mime_type.as_deref())
            .await
            .map_err(retry)?;
        Ok(())
    }
}

fn retry(error: impl std::fmt::Display) -> JobError {
    JobError::retry(error.to_string())
}

fn gone(error: StoreError) -> JobError {
    match error {
        StoreError::NotFound => {
            JobError::Permanent("the message or its connection was deleted".into())
        }
        other => retry(other),
    }
}
