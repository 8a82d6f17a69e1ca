//! Leads, their statuses and sources, and the notes written on them.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::error::{StoreError, StoreResult};
use crate::page::{Page, PageRequest};
use crate::schema::{lead_notes, lead_sources, lead_statuses, leads};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = leads)]
pub struct Lead {
    pub id: Uuid,
    pub name: String,
    pub phone: Option<String>,
    pub phone_normalized: Option<String>,
    pub email: Option<String>,
    pub status_id: Option<Uuid>,
    pub source_id: Option<Uuid>,
    pub assigned_staff_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = leads)]
pub struct NewLead {
    pub id: Uuid,
    pub name: String,
    pub phone: Option<String>,
    pub phone_normalized: Option<String>,
    pub email: Option<String>,
    pub status_id: Option<Uuid>,
    pub source_id: Option<Uuid>,
    pub assigned_staff_id: Option<Uuid>,
}

#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = leads)]
pub struct LeadChanges {
    pub name: Option<String>,
    pub phone: Option<Option<String>>,
    pub phone_normalized: Option<Option<String>>,
    pub email: Option<Option<String>>,
    pub status_id: Option<Option<Uuid>>,
    pub source_id: Option<Option<Uuid>>,
    pub assigned_staff_id: Option<Option<Uuid>>,
    pub updated_at: Option<DateTime<Utc>>,
}

/// List filters; every one given must hold.
#[derive(Debug, Default)]
pub struct LeadFilter {
    pub status_id: Option<Uuid>,
    pub source_id: Option<Uuid>,
    pub assigned_staff_id: Option<Uuid>,
    pub phone_normalized: Option<String>,
    /// Case-insensitive substring of name, email or phone.
    pub search: Option<String>,
}

pub async fn insert(conn: &mut AsyncPgConnection, new: NewLead) -> StoreResult<Lead> {
    Ok(diesel::insert_into(leads::table)
        .values(new)
        .returning(Lead::as_returning())
        .get_result(conn)
        .await?)
}

pub async fn find(conn: &mut AsyncPgConnection, id: Uuid) -> StoreResult<Lead> {
    Ok(leads::table
        .find(id)
        .select(Lead::as_select())
        .first(conn)
        .await?)
}

pub async fn list(
    conn: &mut AsyncPgConnection,
    filter: &LeadFilter,
    page: PageRequest,
) -> StoreResult<Page<Lead>> {
    let mut query = leads::table.select(Lead::as_select()).into_boxed();
    if let Some(status) = filter.status_id {
        query = query.filter(leads::status_id.eq(status));
    }
    if let Some(source) = filter.source_id {
        query = query.filter(leads::source_id.eq(source));
    }
    if let Some(staff) = filter.assigned_staff_id {
        query = query.filter(leads::assigned_staff_id.eq(staff));
    }
    if let Some(phone) = &filter.phone_normalized {
        query = query.filter(leads::phone_normalized.eq(phone.clone()));
    }
    if let Some(search) = &filter.search {
        let pattern = crate::like_pattern(search);
        query = query.filter(
            leads::name
                .ilike(pattern.clone())
                .or(leads::email.ilike(pattern.clone()))
                .or(leads::phone.ilike(pattern)),
        );
    }
    let rows = crate::paginate!(query, leads::id, page).load(conn).await?;
    Ok(Page::from_rows(rows, page, |lead| lead.id))
}

pub async fn update(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    mut changes: LeadChanges,
) -> StoreResult<Lead> {
    changes.updated_at = Some(Utc::now());
    Ok(diesel::update(leads::table.find(id))
        .set(changes)
        .returning(Lead::as_returning())
        .get_result(conn)
        .await?)
}

pub async fn delete(conn: &mut AsyncPgConnection, id: Uuid) -> StoreResult<()> {
    match diesel::delete(leads::table.find(id)).execute(conn).await? {
        0 => Err(StoreError::NotFound),
        _ => Ok(()),
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = lead_notes)]
pub struct LeadNote {
    pub id: Uuid,
    pub lead_id: Uuid,
    pub body: String,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    /// The conversation a note copied from a WhatsApp message came from.
    pub conversation_id: Option<Uuid>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = lead_notes)]
pub struct NewLeadNote {
    pub id: Uuid,
    pub lead_id: Uuid,
    pub body: String,
    pub created_by: Option<Uuid>,
    pub conversation_id: Option<Uuid>,
}

pub async fn add_note(conn: &mut AsyncPgConnection, note: NewLeadNote) -> StoreResult<LeadNote> {
    Ok(diesel::insert_into(lead_notes::table)
        .values(note)
        .returning(LeadNote::as_returning())
        .get_result(conn)
        .await?)
}

/// Adds every note of `notes`, in as few statements as the parameter limit allows.
pub async fn add_notes(conn: &mut AsyncPgConnection, notes: Vec<NewLeadNote>) -> StoreResult<()> {
    // A note binds 5 parameters.
    for chunk in notes.chunks(crate::bulk::rows_per_insert(5)) {
        diesel::insert_into(lead_notes::table)
            .values(chunk)
            .execute(conn)
            .await?;
    }
    Ok(())
}

pub async fn list_notes(
    conn: &mut AsyncPgConnection,
    lead_id: Uuid,
    visible_to: Option<Uuid>,
    page: PageRequest,
) -> StoreResult<Page<LeadNote>> {
    let mut query = lead_notes::table
        .filter(lead_notes::lead_id.eq(lead_id))
        .select(LeadNote::as_select())
        .into_boxed();
    // Notes copied from a conversation the caller may not see are left out
    // (the inbox visibility policy; see `tickets::TicketFilter::visible_to`).
    if let Some(staff) = visible_to {
        query = query.filter(
            lead_notes::conversation_id
                .is_null()
                .or(lead_notes::conversation_id.eq_any(crate::conversations::visible_ids(staff))),
        );
    }
    let rows = crate::paginate!(query, lead_notes::id, page)
        .load(conn)
        .await?;
    Ok(Page::from_rows(rows, page, |note| note.id))
}

/// A named choice such as a lead status or a lead source.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = lead_statuses)]
pub struct LeadStatus {
    pub id: Uuid,
    pub name: String,
    pub position: i32,
    pub color: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Insertable, AsChangeset)]
#[diesel(table_name = lead_statuses)]
pub struct LeadStatusValues {
    pub name: Option<String>,
    pub position: Option<i32>,
    pub color: Option<Option<String>>,
}

pub async fn insert_status(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    values: LeadStatusValues,
) -> StoreResult<LeadStatus> {
    Ok(diesel::insert_into(lead_statuses::table)
        .values((lead_statuses::id.eq(id), values))
        .returning(LeadStatus::as_returning())
        .get_result(conn)
        .await?)
}

pub async fn find_status(conn: &mut AsyncPgConnection, id: Uuid) -> StoreResult<LeadStatus> {
    Ok(lead_statuses::table
        .find(id)
        .select(LeadStatus::as_select())
        .first(conn)
        .await?)
}

pub async fn list_statuses(
    conn: &mut AsyncPgConnection,
    page: PageRequest,
) -> StoreResult<Page<LeadStatus>> {
    let query = lead_statuses::table
        .select(LeadStatus::as_select())
        .into_boxed();
    let rows = crate::paginate!(query, lead_statuses::id, page)
        .load(conn)
        .await?;
    Ok(Page::from_rows(rows, page, |status| status.id))
}

pub async fn update_status(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    values: LeadStatusValues,
) -> StoreResult<LeadStatus> {
    Ok(diesel::update(lead_statuses::table.find(id))
        .set(values)
        .returning(LeadStatus::as_returning())
        .get_result(conn)
        .await?)
}

/// Fails with [`StoreError::Reference`] while a lead still has this status.
pub async fn delete_status(conn: &mut AsyncPgConnection, id: Uuid) -> StoreResult<()> {
    match diesel::delete(lead_statuses::table.find(id))
        .execute(conn)
        .await?
    {
        0 => Err(StoreError::NotFound),
        _ => Ok(()),
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = lead_sources)]
pub struct LeadSource {
    pub id: Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

pub async fn insert_source(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    name: String,
) -> StoreResult<LeadSource> {
    Ok(diesel::insert_into(lead_sources::table)
        .values((lead_sources::id.eq(id), lead_sources::name.eq(name)))
        .returning(LeadSource::as_returning())
        .get_result(conn)
        .await?)
}

pub async fn find_source(conn: &mut AsyncPgConnection, id: Uuid) -> StoreResult<LeadSource> {
    Ok(lead_sources::table
        .find(id)
        .select(LeadSource::as_select())
        .first(conn)
        .await?)
}

pub async fn list_sources(
    conn: &mut AsyncPgConnection,
    page: PageRequest,
) -> StoreResult<Page<LeadSource>> {
    let query = lead_sources::table
        .select(LeadSource::as_select())
        .into_boxed();
    let rows = crate::paginate!(query, lead_sources::id, page)
        .load(conn)
        .await?;
    Ok(Page::from_rows(rows, page, |source| source.id))
}

pub async fn rename_source(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    name: String,
) -> StoreResult<LeadSource> {
    Ok(diesel::update(lead_sources::table.find(id))
        .set(lead_sources::name.eq(name))
        .returning(LeadSource::as_returning())
        .get_result(conn)
        .await?)
}

/// Fails with [`StoreError::Reference`] while a lead still has this source.
pub async fn delete_source(conn: &mut AsyncPgConnection, id: Uuid) -> StoreResult<()> {
    match diesel::delete(lead_sources::table.find(id))
        .execute(conn)
        .await?
    {
        0 => Err(StoreError::NotFound),
        _ => Ok(()),
    }
}
