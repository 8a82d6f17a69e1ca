//! Refresh tokens: one family per login, one use per token.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::error::StoreResult;
use crate::schema::{refresh_tokens, staff};
use crate::staff::Staff;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = refresh_tokens)]
pub struct RefreshToken {
    pub id: Uuid,
    pub family_id: Uuid,
    pub staff_id: Uuid,
    pub token_hash: Vec<u8>,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = refresh_tokens)]
pub struct NewRefreshToken {
    pub id: Uuid,
    pub family_id: Uuid,
    pub staff_id: Uuid,
    pub token_hash: Vec<u8>,
    pub expires_at: DateTime<Utc>,
}

pub async fn insert(conn: &mut AsyncPgConnection, new: NewRefreshToken) -> StoreResult<()> {
    diesel::insert_into(refresh_tokens::table)
        .values(new)
        .execute(conn)
        .await?;
    Ok(())
}

/// Marks the token used and returns it, if it is live (unused, unrevoked,
/// unexpired). Atomic: of two concurrent uses, exactly one succeeds.
pub async fn consume(
    conn: &mut AsyncPgConnection,
    token_hash: &[u8],
    now: DateTime<Utc>,
) -> StoreResult<Option<RefreshToken>> {
    Ok(diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::token_hash.eq(token_hash))
            .filter(refresh_tokens::used_at.is_null())
            .filter(refresh_tokens::revoked_at.is_null())
            .filter(refresh_tokens::expires_at.gt(now)),
    )
    .set(refresh_tokens::used_at.eq(now))
    .returning(RefreshToken::as_returning())
    .get_result(conn)
    .await
    .optional()?)
}

pub async fn find_by_hash(
    conn: &mut AsyncPgConnection,
    token_hash: &[u8],
) -> StoreResult<Option<RefreshToken>> {
    Ok(refresh_tokens::table
        .filter(refresh_tokens::token_hash.eq(token_hash))
        .select(RefreshToken::as_select())
        .first(conn)
        .await
        .optional()?)
}

/// Revokes every token of the family (logout, or reuse of a used token).
pub async fn revoke_family(conn: &mut AsyncPgConnection, family_id: Uuid) -> StoreResult<()> {
    diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::family_id.eq(family_id))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(Utc::now()))
    .execute(conn)
    .await?;
    Ok(())
}

/// Revokes every session of a staff member (deactivation, password change).
pub async fn revoke_all_of(conn: &mut AsyncPgConnection, staff_id: Uuid) -> StoreResult<()> {
    diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::staff_id.eq(staff_id))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(Utc::now()))
    .execute(conn)
    .await?;
    Ok(())
}

/// The staff member an access token names, and whether the token's session
/// (its refresh-token family) was revoked: one query, the revocation answered
/// by the partial index on revoked families.
pub async fn staff_in_session(
    conn: &mut AsyncPgConnection,
    staff_id: Uuid,
    family_id: Uuid,
) -> StoreResult<Option<(Staff, bool)>> {
    let revoked = diesel::dsl::exists(
        refresh_tokens::table
            .filter(refresh_tokens::family_id.eq(family_id))
            .filter(refresh_tokens::revoked_at.is_not_null()),
    );
    Ok(staff::table
        .find(staff_id)
        .select((Staff::as_select(), revoked))
        .first(conn)
        .await
        .optional()?)
}
