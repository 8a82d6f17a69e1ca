//! Copies a connection's message templates (every page) from its provider;
//! hourly for every connection, and on demand.

use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;
use wacrm_persistence::templates::{self, SyncedTemplate};
use wacrm_persistence::{StoreError, connections, events, numbers};
use wacrm_providers::client::{ProviderClient, SenderNumber};
use wacrm_providers::{ProviderError, hosts};

use crate::context::WorkerContext;
use crate::jobs::activity::record_calls;
use crate::{Job, JobError, enqueue};

#[derive(Debug, Serialize, Deserialize)]
pub struct SyncTemplates {
    pub connection_id: Uuid,
}

impl Job for SyncTemplates {
    const KIND: &'static str = "sync_templates";
    const MAX_ATTEMPTS: i32 = 5;
    type Context = WorkerContext;

    fn unique_key(&self) -> Option<String> {
        Some(format!("sync_templates:{}", self.connection_id))
    }

    async fn run(&self, ctx: &WorkerContext) -> Result<(), JobError> {
        let mut conn = ctx.pool.get().await.map_err(retry)?;
        let connection = match connections::find(&mut conn, &ctx.cipher, self.connection_id).await {
            Ok(connection) => connection,
            Err(StoreError::NotFound) => return Ok(()),
            Err(error) => return Err(retry(error)),
        };
        let number = numbers::find_default(&mut conn, connection.id)
            .await
            .map_err(retry)?;
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
        let phone = number
            .as_ref()
            .map(|n| n.phone_normalized.clone())
            .unwrap_or_default();
        let sender = SenderNumber {
            phone: &phone,
            provider_number_id: number
                .as_ref()
                .and_then(|n| n.provider_number_id.as_deref()),
        };
        let outcome = client.list_templates(&sender).await;
        record_calls(
            &mut conn,
            &connection,
            "sync_templates",
            None,
            outcome.calls,
        )
        .await
        .map_err(retry)?;
        let remote = match outcome.result {
            Ok(remote) => remote,
            Err(ProviderError::Auth { message, .. }) => {
                connections::set_health(&mut conn, connection.id, Some(&message))
                    .await
                    .map_err(retry)?;
                return Err(JobError::Permanent(message));
            }
            Err(ProviderError::Retryable { message, .. }) => return Err(JobError::retry(message)),
            Err(error) => return Err(JobError::Permanent(error.to_string())),
        };
        let synced: Vec<SyncedTemplate> = remote
            .into_iter()
            .map(|template| SyncedTemplate {
                provider_template_id: template.provider_template_id,
                name: template.name,
                language: template.language,
                category: template.category,
                status: serde_json::to_value(template.status)
                    .ok()
                    .and_then(|status| status.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                components: template.components,
            })
            .collect();
        let count = templates::upsert_all(&mut conn, connection.id, synced)
            .await
            .map_err(retry)?;
        events::publish(
            &mut conn,
            &json!({"type": "template.synced", "connection_id": connection.id, "count": count}),
        )
        .await
        .map_err(retry)?;
        Ok(())
    }
}

/// The hourly sweep: one `SyncTemplates` per connection.
#[derive(Debug, Serialize, Deserialize)]
pub struct SyncAllTemplates;

impl Job for SyncAllTemplates {
    const KIND: &'static str = "sync_all_templates";
    type Context = WorkerContext;

    fn unique_key(&self) -> Option<String> {
        Some(Self::KIND.into())
    }

    async fn run(&self, ctx: &WorkerContext) -> Result<(), JobError> {
        let mut conn = ctx.pool.get().await.map_err(retry)?;
        for connection_id in connections::ids(&mut conn).await.map_err(retry)? {
            enqueue(&mut conn, &SyncTemplates { connection_id })
                .await
                .map_err(retry)?;
        }
        ctx.signal.jobs_queued();
        Ok(())
    }
}

fn retry(error: impl std::fmt::Display) -> JobError {
    JobError::retry(error.to_string())
}
