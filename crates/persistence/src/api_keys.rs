//! API keys for integrators: stored as digests, scoped, revocable.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::error::StoreResult;
use crate::page::{Page, PageRequest};
use crate::schema::api_keys;

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

/// The unrevoked key with this digest; records its use at most once a minute.
pub async fn authenticate(
    conn: &mut AsyncPgConnection,
    secret_hash: &[u8],
) -> StoreResult<Option<ApiKey>> {
    let key = api_keys::table
        .filter(api_keys::secret_hash.eq(secret_hash))
        .filter(api_keys::revoked_at.is_null())
        .select(ApiKey::as_select())
        .first(conn)
        .await
        .optional()?;
    if let Some(key) = &key {
        let now = Utc::now();
        if key
            .last_used_at
            .is_none_or(|used| now - used > Duration::minutes(1))
        {
            diesel::update(api_keys::table.find(key.id))
                .set(api_keys::last_used_at.eq(now))
                .execute(conn)
                .await?;
        }
    }
    Ok(key)
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
