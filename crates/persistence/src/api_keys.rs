//! API keys for integrators: stored as digests, scoped, revocable.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::error::StoreResult;
use crate::page::{Page, PageRequest};
use crate::schema::{api_keys, staff};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = api_keys)]
pub struct ApiKey {
    pub id: Uuid,
    pub name: String,
    pub prefix: String,
    pub secret_hash: Vec<u8>,
    pub permissions: Vec<String>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = api_keys)]
pub struct NewApiKey {
    pub id: Uuid,
    pub name: String,
    pub prefix: String,
    pub secret_hash: Vec<u8>,
    pub permissions: Vec<String>,
    pub created_by: Option<Uuid>,
    pub expires_at: Option<DateTime<Utc>>,
}

pub async fn insert(conn: &mut AsyncPgConnection, new: NewApiKey) -> StoreResult<ApiKey> {
    Ok(diesel::insert_into(api_keys::table)
        .values(new)
        .returning(ApiKey::as_returning())
        .get_result(conn)
        .await?)
}

pub async fn list(conn: &mut AsyncPgConnection, page: PageRequest) -> StoreResult<Page<ApiKey>> {
    let rows = crate::paginate!(
        api_keys::table.select(ApiKey::as_select()).into_boxed(),
        api_keys::id,
        page
    )
    .load(conn)
    .await?;
    Ok(Page::from_rows(rows, page, |k| k.id))
}

pub async fn find(conn: &mut AsyncPgConnection, id: Uuid) -> StoreResult<ApiKey> {
    Ok(api_keys::table
        .find(id)
        .select(ApiKey::as_select())
        .first(conn)
        .await?)
}

/// An unrevoked key found by its digest, with whether the staff member who
/// created it is active (`None`: no staff member created it, e.g. another key did).
#[derive(Debug, Clone)]
pub struct Found {
    pub key: ApiKey,
    pub creator_active: Option<bool>,
}

/// The unrevoked key with this digest, and its creator's state, in one query.
pub async fn find_unrevoked(
    conn: &mut AsyncPgConnection,
    secret_hash: &[u8],
) -> StoreResult<Option<Found>> {
    unrevoked(conn, Lookup::Digest(secret_hash)).await
}

/// [`find_unrevoked`] by the key's id: a long-lived stream checks its key
/// again without holding the secret.
pub async fn find_unrevoked_by_id(
    conn: &mut AsyncPgConnection,
    id: Uuid,
) -> StoreResult<Option<Found>> {
    unrevoked(conn, Lookup::Id(id)).await
}

enum Lookup<'a> {
    Digest(&'a [u8]),
    Id(Uuid),
}

async fn unrevoked(conn: &mut AsyncPgConnection, lookup: Lookup<'_>) -> StoreResult<Option<Found>> {
    let query = api_keys::table
        .left_join(staff::table)
        .filter(api_keys::revoked_at.is_null())
        .select((ApiKey::as_select(), staff::is_active.nullable()))
        .into_boxed();
    let query = match lookup {
        Lookup::Digest(digest) => query.filter(api_keys::secret_hash.eq(digest)),
        Lookup::Id(id) => query.filter(api_keys::id.eq(id)),
    };
    let found: Option<(ApiKey, Option<bool>)> = query.first(conn).await.optional()?;
    Ok(found.map(|(key, creator_active)| Found {
        key,
        creator_active,
    }))
}

/// How stale `last_used_at` may get: recording every use would turn each
/// request made with a key into a write on one hot row.
pub const LAST_USED_PRECISION: Duration = Duration::minutes(1);

/// Records that `key` was used at `now`, unless that was already recorded
/// less than [`LAST_USED_PRECISION`] ago (then no write at all).
pub async fn record_use(
    conn: &mut AsyncPgConnection,
    key: &ApiKey,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    if key
        .last_used_at
        .is_some_and(|used| now - used < LAST_USED_PRECISION)
    {
        return Ok(());
    }
    // The condition again in SQL: of concurrent first uses, one writes.
    diesel::update(
        api_keys::table.find(key.id).filter(
            api_keys::last_used_at
                .is_null()
                .or(api_keys::last_used_at.lt(now - LAST_USED_PRECISION)),
        ),
    )
    .set(api_keys::last_used_at.eq(now))
    .execute(conn)
    .await?;
    Ok(())
}

/// Revokes every live key `staff_id` created (their account is being deleted).
pub async fn revoke_created_by(conn: &mut AsyncPgConnection, staff_id: Uuid) -> StoreResult<()> {
    diesel::update(
        api_keys::table
            .filter(api_keys::created_by.eq(staff_id))
            .filter(api_keys::revoked_at.is_null()),
    )
    .set(api_keys::revoked_at.eq(Utc::now()))
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn revoke(conn: &mut AsyncPgConnection, id: Uuid) -> StoreResult<ApiKey> {
    let revoked = diesel::update(
        api_keys::table
            .find(id)
            .filter(api_keys::revoked_at.is_null()),
    )
    .set(api_keys::revoked_at.eq(Utc::now()))
    .returning(ApiKey::as_returning())
    .get_result(conn)
    .await
    .optional()?;
    match revoked {
        Some(key) => Ok(key),
        // Revoking twice is harmless; an unknown id is not.
        None => find(conn, id).await,
    }
}
