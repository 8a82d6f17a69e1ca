//! Contacts: people at customer companies.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::error::{StoreError, StoreResult};
use crate::page::{Page, PageRequest};
use crate::schema::contacts;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = contacts)]
pub struct Contact {
    pub id: Uuid,
    pub name: String,
    pub phone: Option<String>,
    pub phone_normalized: Option<String>,
    pub email: Option<String>,
    pub company: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = contacts)]
pub struct NewContact {
    pub id: Uuid,
    pub name: String,
    pub phone: Option<String>,
    pub phone_normalized: Option<String>,
    pub email: Option<String>,
    pub company: Option<String>,
}

#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = contacts)]
pub struct ContactChanges {
    pub name: Option<String>,
    pub phone: Option<Option<String>>,
    pub phone_normalized: Option<Option<String>>,
    pub email: Option<Option<String>>,
    pub company: Option<Option<String>>,
    pub updated_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Default)]
pub struct ContactFilter {
    pub company: Option<String>,
    pub phone_normalized: Option<String>,
    /// Case-insensitive substring of name, email, phone or company.
    pub search: Option<String>,
}

pub async fn insert(conn: &mut AsyncPgConnection, new: NewContact) -> StoreResult<Contact> {
    Ok(diesel::insert_into(contacts::table)
        .values(new)
        .returning(Contact::as_returning())
        .get_result(conn)
        .await?)
}

pub async fn find(conn: &mut AsyncPgConnection, id: Uuid) -> StoreResult<Contact> {
    Ok(contacts::table
        .find(id)
        .select(Contact::as_select())
        .first(conn)
        .await?)
}

pub async fn list(
    conn: &mut AsyncPgConnection,
    filter: &ContactFilter,
    page: PageRequest,
) -> StoreResult<Page<Contact>> {
    let mut query = contacts::table.select(Contact::as_select()).into_boxed();
    if let Some(company) = &filter.company {
        query = query.filter(contacts::company.ilike(crate::like_pattern(company)));
    }
    if let Some(phone) = &filter.phone_normalized {
        query = query.filter(contacts::phone_normalized.eq(phone.clone()));
    }
    if let Some(search) = &filter.search {
        let pattern = crate::like_pattern(search);
        query = query.filter(
            contacts::name
                .ilike(pattern.clone())
                .or(contacts::email.ilike(pattern.clone()))
                .or(contacts::phone.ilike(pattern.clone()))
                .or(contacts::company.ilike(pattern)),
        );
    }
    let rows = crate::paginate!(query, contacts::id, page)
        .load(conn)
        .await?;
    Ok(Page::from_rows(rows, page, |contact| contact.id))
}

pub async fn update(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    mut changes: ContactChanges,
) -> StoreResult<Contact> {
    changes.updated_at = Some(Utc::now());
    Ok(diesel::update(contacts::table.find(id))
        .set(changes)
        .returning(Contact::as_returning())
        .get_result(conn)
        .await?)
}

pub async fn delete(conn: &mut AsyncPgConnection, id: Uuid) -> StoreResult<()> {
    match diesel::delete(contacts::table.find(id))
        .execute(conn)
        .await?
    {
        0 => Err(StoreError::NotFound),
        _ => Ok(()),
    }
}
