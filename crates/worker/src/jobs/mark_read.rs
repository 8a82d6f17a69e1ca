//! Tells the provider the customer's latest message was read (blue ticks), and
//! with `typing` shows them a typing indicator, where the provider has such an API.

use serde::{Deserialize, Serialize};
use uuid::Uuid;
use wacrm_persistence::{StoreError, connections, numbers};
use wacrm_providers::client::{ProviderClient, SenderNumber};
use wacrm_providers::{ProviderError, hosts};

use crate::context::WorkerContext;
use crate::jobs::activity::record_calls;
use crate::{Job, JobError};

#[derive(Debug, Serialize, Deserialize)]
pub struct MarkRead {
    pub number_id: Uuid,
    pub provider_message_id: String,
    /// Also show the typing indicator (Meta sends both in one call).
    #[serde(default)]
    pub typing: bool,
}

impl Job for MarkRead {
    const KIND: &'static str = "mark_read";
    const MAX_ATTEMPTS: i32 = 5;
    type Context = WorkerContext;

    async fn run(&self, ctx: &WorkerContext) -> Result<(), JobError> {
        let mut conn = ctx
            .pool
            .get()
            .await
            .map_err(|error| JobError::retry(error.to_string()))?;
        let gone = |error: StoreError| match error {
            StoreError::NotFound => {
                JobError::Permanent("the number or its connection is gone".into())
            }
            other => JobError::retry(other.to_string()),
        };
        let number = numbers::find(&mut conn, self.number_id)
            .await
            .map_err(gone)?;
        let connection = connections::find(&mut conn, &ctx.cipher, number.connection_id)
            .await
            .map_err(gone)?;
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
        let (operation, outcome) = if self.typing {
            (
                "show_typing",
                client.show_typing(&sender, &self.provider_message_id).await,
            )
        } else {
            (
                "mark_read",
                client.mark_read(&sender, &self.provider_message_id).await,
            )
        };
        record_calls(&mut conn, &connection, operation, None, outcome.calls)
            .await
            .map_err(|error| JobError::retry(error.to_string()))?;
        match outcome.result {
            Ok(_) => Ok(()),
            Err(ProviderError::Retryable { message, .. }) => Err(JobError::retry(message)),
            // A read receipt is a courtesy: refusals are logged, not retried.
            Err(error) => Err(JobError::Permanent(error.to_string())),
        }
    }
}
