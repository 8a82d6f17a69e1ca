//! Staff members: the people who log in, with their permissions.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::error::StoreResult;
use crate::functions::lower;
use crate::page::{Page, PageRequest};
use crate::schema::staff;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = staff)]
pub struct Staff {
    pub id: Uuid,
    pub name: String,
    pub email: String,
    pub phone: Option<String>,
    pub phone_normalized: Option<String>,
    pub password_hash: String,
    pub is_active: bool,
    pub permissions: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = staff)]
pub struct NewStaff {
    pub id: Uuid,
    pub name: String,
    pub email: String,
    pub phone: Option<String>,
    pub phone_normalized: Option<String>,
    pub password_hash: String,
    pub is_active: bool,
    pub permissions: Vec<String>,
}

/// A partial update: `None` leaves a column as it is.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = staff)]
pub struct StaffChanges {
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<Option<String>>,
    pub phone_normalized: Option<Option<String>>,
    pub password_hash: Option<String>,
    pub is_active: Option<bool>,
    pub permissions: Option<Vec<String>>,
    pub updated_at: Option<DateTime<Utc>>,
}

pub async fn insert(conn: &mut AsyncPgConnection, new: NewStaff) -> StoreResult<Staff> {
    Ok(diesel::insert_into(staff::table)
        .values(new)
        .returning(Staff::as_returning())
        .get_result(conn)
        .await?)
}

pub async fn find(conn: &mut AsyncPgConnection, id: Uuid) -> StoreResult<Staff> {
    Ok(staff::table
        .find(id)
        .select(Staff::as_select())
        .first(conn)
        .await?)
}

/// Emails are matched without regard to case.
pub async fn find_by_email(
    conn: &mut AsyncPgConnection,
    email: &str,
) -> StoreResult<Option<Staff>> {
    Ok(staff::table
        .filter(lower(staff::email).eq(email.to_lowercase()))
        .select(Staff::as_select())
        .first(conn)
        .await
        .optional()?)
}

pub async fn list(conn: &mut AsyncPgConnection, page: PageRequest) -> StoreResult<Page<Staff>> {
    let rows = crate::paginate!(
        staff::table.select(Staff::as_select()).into_boxed(),
        staff::id,
        page
    )
    .load(conn)
    .await?;
    Ok(Page::from_rows(rows, page, |s| s.id))
}

pub async fn update(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    mut changes: StaffChanges,
) -> StoreResult<Staff> {
    changes.updated_at = Some(Utc::now());
    Ok(diesel::update(staff::table.find(id))
        .set(changes)
        .returning(Staff::as_returning())
        .get_result(conn)
        .await?)
}

/// Whether any staff account exists (none: nobody can sign in yet).
pub async fn any_exists(conn: &mut AsyncPgConnection) -> StoreResult<bool> {
    Ok(
        diesel::select(diesel::dsl::exists(staff::table.select(staff::id)))
            .get_result(conn)
            .await?,
    )
}

/// Deletes the account and revokes the API keys it created: once it is gone,
/// `created_by` is nulled and nothing would tell those keys from ones another
/// key created.
pub async fn delete(conn: &mut AsyncPgConnection, id: Uuid) -> StoreResult<()> {
    use diesel_async::AsyncConnection as _;
    conn.transaction::<_, crate::StoreError, _>(async |conn| {
        crate::api_keys::revoke_created_by(conn, id).await?;
        match diesel::delete(staff::table.find(id)).execute(conn).await? {
            0 => Err(crate::StoreError::NotFound),
            _ => Ok(()),
        }
    })
    .await
}
