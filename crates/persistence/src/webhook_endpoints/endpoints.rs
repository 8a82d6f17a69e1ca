//! Webhook endpoints. Signing secrets are sealed with the master key, bound to
//! the endpoint's row, and opened only by the dispatcher that signs with them.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;
use wacrm_domain::webhook_endpoints::{DisabledReason, EndpointSecret};

use crate::error::{StoreError, StoreResult};
use crate::page::{Page, PageRequest};
use crate::schema::webhook_endpoints;
use crate::secrets::Cipher;

/// An endpoint as the API shows it: its secrets stay sealed (and unselected).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = webhook_endpoints)]
pub struct Endpoint {
    pub id: Uuid,
    pub url: String,
    pub description: String,
    pub event_types: Vec<String>,
    pub enabled: bool,
    pub allow_private_targets: bool,
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    pub consecutive_failures: i32,
    pub disabled_reason: Option<String>,
    pub disabled_at: Option<DateTime<Utc>>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub struct NewEndpoint {
    pub id: Uuid,
    pub url: String,
    pub description: String,
    pub event_types: Vec<String>,
    pub enabled: bool,
    pub allow_private_targets: bool,
    pub secret: EndpointSecret,
    pub created_by: Option<Uuid>,
}

/// What a PATCH changes; `None` leaves a field as it is.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = webhook_endpoints)]
pub struct EndpointChanges {
    pub url: Option<String>,
    pub description: Option<String>,
    pub event_types: Option<Vec<String>>,
    pub enabled: Option<bool>,
    pub allow_private_targets: Option<bool>,
    pub updated_at: Option<DateTime<Utc>>,
}

pub async fn insert(
    conn: &mut AsyncPgConnection,
    cipher: &Cipher,
    new: NewEndpoint,
) -> StoreResult<Endpoint> {
    let sealed = cipher.seal(new.id, new.secret.key());
    Ok(diesel::insert_into(webhook_endpoints::table)
        .values((
            webhook_endpoints::id.eq(new.id),
            webhook_endpoints::url.eq(new.url),
            webhook_endpoints::description.eq(new.description),
            webhook_endpoints::event_types.eq(new.event_types),
            webhook_endpoints::enabled.eq(new.enabled),
            webhook_endpoints::allow_private_targets.eq(new.allow_private_targets),
            webhook_endpoints::secret.eq(sealed),
            webhook_endpoints::created_by.eq(new.created_by),
        ))
        .returning(Endpoint::as_returning())
        .get_result(conn)
        .await?)
}

pub async fn find(conn: &mut AsyncPgConnection, id: Uuid) -> StoreResult<Endpoint> {
    Ok(webhook_endpoints::table
        .find(id)
        .select(Endpoint::as_select())
        .first(conn)
        .await?)
}

pub async fn list(conn: &mut AsyncPgConnection, page: PageRequest) -> StoreResult<Page<Endpoint>> {
    let query = webhook_endpoints::table
        .select(Endpoint::as_select())
        .into_boxed();
    let rows = crate::paginate!(query, webhook_endpoints::id, page)
        .load(conn)
        .await?;
    Ok(Page::from_rows(rows, page, |endpoint| endpoint.id))
}

/// Applies `changes`. Enabling an endpoint again starts its failure count
/// afresh and clears why wacrm had disabled it.
pub async fn update(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    mut changes: EndpointChanges,
) -> StoreResult<Endpoint> {
    changes.updated_at = Some(Utc::now());
    let enabling = changes.enabled == Some(true);
    let updated = diesel::update(webhook_endpoints::table.find(id))
        .set(changes)
        .returning(Endpoint::as_returning())
        .get_result(conn)
        .await?;
    if enabling && updated.disabled_reason.is_some() {
        return Ok(diesel::update(webhook_endpoints::table.find(id))
            .set((
                webhook_endpoints::consecutive_failures.eq(0),
                webhook_endpoints::disabled_reason.eq(None::<String>),
                webhook_endpoints::disabled_at.eq(None::<DateTime<Utc>>),
            ))
            .returning(Endpoint::as_returning())
            .get_result(conn)
            .await?);
    }
    Ok(updated)
}

pub async fn delete(conn: &mut AsyncPgConnection, id: Uuid) -> StoreResult<()> {
    match diesel::delete(webhook_endpoints::table.find(id))
        .execute(conn)
        .await?
    {
        0 => Err(StoreError::NotFound),
        _ => Ok(()),
    }
}

/// Replaces the signing secret with `secret`; the current one keeps signing
/// beside it until `previous_until`.
pub async fn rotate_secret(
    conn: &mut AsyncPgConnection,
    cipher: &Cipher,
    id: Uuid,
    secret: &EndpointSecret,
    previous_until: DateTime<Utc>,
) -> StoreResult<Endpoint> {
    let sealed = cipher.seal(id, secret.key());
    Ok(diesel::update(webhook_endpoints::table.find(id))
        .set((
            webhook_endpoints::previous_secret.eq(webhook_endpoints::secret.nullable()),
            webhook_endpoints::previous_secret_expires_at.eq(previous_until),
            webhook_endpoints::secret.eq(sealed),
            webhook_endpoints::updated_at.eq(Utc::now()),
        ))
        .returning(Endpoint::as_returning())
        .get_result(conn)
        .await?)
}

/// Where and how a delivery goes: the endpoint's URL and egress permission,
/// and the secrets it is signed with.
#[derive(Debug, Clone)]
pub struct Target {
    pub id: Uuid,
    pub url: String,
    pub allow_private_targets: bool,
    /// The current secret, and the previous one while its grace period lasts.
    pub secrets: Vec<EndpointSecret>,
}

/// The targets of the endpoints `ids` (those that still exist) at `now`, in
/// one query for a whole batch of deliveries.
pub async fn targets(
    conn: &mut AsyncPgConnection,
    cipher: &Cipher,
    ids: &[Uuid],
    now: DateTime<Utc>,
) -> StoreResult<Vec<Target>> {
    type Row = (
        Uuid,
        String,
        bool,
        Vec<u8>,
        Option<Vec<u8>>,
        Option<DateTime<Utc>>,
    );
    let rows: Vec<Row> = webhook_endpoints::table
        .filter(webhook_endpoints::id.eq_any(ids))
        .select((
            webhook_endpoints::id,
            webhook_endpoints::url,
            webhook_endpoints::allow_private_targets,
            webhook_endpoints::secret,
            webhook_endpoints::previous_secret,
            webhook_endpoints::previous_secret_expires_at,
        ))
        .load(conn)
        .await?;
    rows.into_iter()
        .map(
            |(id, url, allow_private_targets, current, previous, until)| {
                let open = |sealed: &[u8]| -> StoreResult<EndpointSecret> {
                    let key = cipher
                        .open(id, sealed)
                        .map_err(|error| StoreError::Corrupt(error.to_string()))?;
                    EndpointSecret::from_key(key)
                        .map_err(|error| StoreError::Corrupt(error.to_string()))
                };
                let mut secrets = vec![open(&current)?];
                if let (Some(previous), Some(until)) = (previous, until) {
                    if until > now {
                        secrets.push(open(&previous)?);
                    }
                }
                Ok(Target {
                    id,
                    url,
                    allow_private_targets,
                    secrets,
                })
            },
        )
        .collect()
}

/// Turns the endpoint off because of `reason`; `false` when it was off
/// already (another delivery got there first).
pub async fn disable(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    reason: DisabledReason,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    let changed = diesel::update(
        webhook_endpoints::table
            .find(id)
            .filter(webhook_endpoints::enabled),
    )
    .set((
        webhook_endpoints::enabled.eq(false),
        webhook_endpoints::disabled_reason.eq(reason.as_str()),
        webhook_endpoints::disabled_at.eq(now),
        webhook_endpoints::updated_at.eq(now),
    ))
    .execute(conn)
    .await?;
    Ok(changed > 0)
}

/// One more delivery ran out of attempts; answers the run of them so far.
pub async fn count_failure(conn: &mut AsyncPgConnection, id: Uuid) -> StoreResult<i32> {
    Ok(diesel::update(webhook_endpoints::table.find(id))
        .set(
            webhook_endpoints::consecutive_failures.eq(webhook_endpoints::consecutive_failures + 1),
        )
        .returning(webhook_endpoints::consecutive_failures)
        .get_result(conn)
        .await?)
}

/// Deliveries to these endpoints succeeded: their runs of failures are over.
/// Writes nothing where there was none (the common case costs no row version).
pub async fn reset_failures(conn: &mut AsyncPgConnection, ids: &[Uuid]) -> StoreResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    diesel::update(
        webhook_endpoints::table
            .filter(webhook_endpoints::id.eq_any(ids))
            .filter(webhook_endpoints::consecutive_failures.ne(0)),
    )
    .set(webhook_endpoints::consecutive_failures.eq(0))
    .execute(conn)
    .await?;
    Ok(())
}
