//! Support tickets, and the conversation, lead and contact they are about.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::error::{StoreError, StoreResult};
use crate::page::{Page, PageRequest};
use crate::schema::tickets;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = tickets)]
pub struct Ticket {
    pub id: Uuid,
    pub subject: String,
    pub description: Option<String>,
    pub status: String,
    pub priority: String,
    pub assigned_to: Option<Uuid>,
    pub conversation_id: Option<Uuid>,
    pub lead_id: Option<Uuid>,
    pub contact_id: Option<Uuid>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = tickets)]
pub struct NewTicket {
    pub id: Uuid,
    pub subject: String,
    pub description: Option<String>,
    pub status: String,
    pub priority: String,
    pub assigned_to: Option<Uuid>,
    pub conversation_id: Option<Uuid>,
    pub lead_id: Option<Uuid>,
    pub contact_id: Option<Uuid>,
    pub created_by: Option<Uuid>,
}

#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = tickets)]
pub struct TicketChanges {
    pub subject: Option<String>,
    pub description: Option<Option<String>>,
    pub status: Option<String>,
    pub priority: Option<String>,
    pub assigned_to: Option<Option<Uuid>>,
    pub lead_id: Option<Option<Uuid>>,
    pub contact_id: Option<Option<Uuid>>,
    pub updated_at: Option<DateTime<Utc>>,
}

/// List filters; every one given must hold.
#[derive(Debug, Default)]
pub struct TicketFilter {
    pub status: Option<String>,
    pub priority: Option<String>,
    pub assigned_to: Option<Uuid>,
    pub conversation_id: Option<Uuid>,
    pub lead_id: Option<Uuid>,
    pub contact_id: Option<Uuid>,
    /// Case-insensitive substring of the subject.
    pub search: Option<String>,
    /// Only tickets without a conversation, or whose conversation is assigned
    /// to this staff member or to nobody (the inbox visibility policy).
    pub visible_to: Option<Uuid>,
}

pub async fn insert(conn: &mut AsyncPgConnection, new: NewTicket) -> StoreResult<Ticket> {
    Ok(diesel::insert_into(tickets::table)
        .values(new)
        .returning(Ticket::as_returning())
        .get_result(conn)
        .await?)
}

pub async fn find(conn: &mut AsyncPgConnection, id: Uuid) -> StoreResult<Ticket> {
    Ok(tickets::table
        .find(id)
        .select(Ticket::as_select())
        .first(conn)
        .await?)
}

pub async fn list(
    conn: &mut AsyncPgConnection,
    filter: &TicketFilter,
    page: PageRequest,
) -> StoreResult<Page<Ticket>> {
    let mut query = tickets::table.select(Ticket::as_select()).into_boxed();
    if let Some(status) = &filter.status {
        query = query.filter(tickets::status.eq(status.clone()));
    }
    if let Some(priority) = &filter.priority {
        query = query.filter(tickets::priority.eq(priority.clone()));
    }
    if let Some(staff) = filter.assigned_to {
        query = query.filter(tickets::assigned_to.eq(staff));
    }
    if let Some(conversation) = filter.conversation_id {
        query = query.filter(tickets::conversation_id.eq(conversation));
    }
    if let Some(lead) = filter.lead_id {
        query = query.filter(tickets::lead_id.eq(lead));
    }
    if let Some(contact) = filter.contact_id {
        query = query.filter(tickets::contact_id.eq(contact));
    }
    if let Some(search) = &filter.search {
        query = query.filter(tickets::subject.ilike(crate::like_pattern(search)));
    }
    if let Some(staff) = filter.visible_to {
        query = query.filter(
            tickets::conversation_id
                .is_null()
                .or(tickets::conversation_id.eq_any(crate::conversations::visible_ids(staff))),
        );
    }
    let rows = crate::paginate!(query, tickets::id, page)
        .load(conn)
        .await?;
    Ok(Page::from_rows(rows, page, |ticket| ticket.id))
}

pub async fn update(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    mut changes: TicketChanges,
) -> StoreResult<Ticket> {
    changes.updated_at = Some(Utc::now());
    Ok(diesel::update(tickets::table.find(id))
        .set(changes)
        .returning(Ticket::as_returning())
        .get_result(conn)
        .await?)
}

pub async fn delete(conn: &mut AsyncPgConnection, id: Uuid) -> StoreResult<()> {
    match diesel::delete(tickets::table.find(id))
        .execute(conn)
        .await?
    {
        0 => Err(StoreError::NotFound),
        _ => Ok(()),
    }
}
