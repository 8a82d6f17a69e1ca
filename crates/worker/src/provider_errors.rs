//! System errors a provider reported outside any message: recorded against the
//! connection (and the number, when it is known), for its health and the admin list.

use chrono::Utc;
use uuid::Uuid;
use wacrm_domain::inbound::SystemErrors;
use wacrm_persistence::connections::Connection;
use wacrm_persistence::provider_errors::{self, ProviderErrorRow};
use wacrm_persistence::{AsyncPgConnection, StoreResult};

use crate::inbound::{Batch, resolve_number};

pub async fn apply_system_errors(
    conn: &mut AsyncPgConnection,
    batch: &mut Batch,
    connection: &Connection,
    reported: SystemErrors,
) -> StoreResult<()> {
    // An error about a number we do not have is still the connection's.
    let number_id = resolve_number(conn, batch, connection, &reported.number)
        .await?
        .ok()
        .map(|number| number.id);
    let mut raw = reported.raw.into_iter();
    let rows = reported
        .errors
        .into_iter()
        .map(|error| {
            tracing::warn!(connection_id = %connection.id, code = %error.code, title = %error.title, "the provider reported an error");
            ProviderErrorRow {
                id: Uuid::now_v7(),
                connection_id: connection.id,
                number_id,
                code: error.code,
                title: error.title,
                details: error.detail,
                raw: raw.next().unwrap_or_default(),
                occurred_at: reported.at,
                created_at: Utc::now(),
            }
        })
        .collect();
    provider_errors::insert_many(conn, rows).await
}
