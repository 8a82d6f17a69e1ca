//! WhatsApp groups: named static lists of WhatsApp contacts, whose members are
//! added and removed in bulk (the trigger of migration 000019 keeps `member_count`).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;
use wacrm_domain::audiences::WhatsappContactFilter;

use crate::audiences::{Bind, Sql, push_whatsapp_contact_conditions};
use crate::error::{StoreError, StoreResult};
use crate::page::{Page, PageRequest};
use crate::schema::{whatsapp_contacts, whatsapp_groups};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = whatsapp_groups)]
pub struct WhatsappGroup {
    pub id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub member_count: i32,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = whatsapp_groups)]
pub struct NewWhatsappGroup {
    pub id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub created_by: Option<Uuid>,
}

#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = whatsapp_groups)]
pub struct WhatsappGroupChanges {
    pub name: Option<String>,
    pub description: Option<Option<String>>,
    pub updated_at: Option<DateTime<Utc>>,
}

/// The unique index a second group with the same name runs into.
pub const NAME_CONSTRAINT: &str = "whatsapp_groups_name_key";

pub async fn insert(
    conn: &mut AsyncPgConnection,
    new: NewWhatsappGroup,
) -> StoreResult<WhatsappGroup> {
    Ok(diesel::insert_into(whatsapp_groups::table)
        .values(new)
        .returning(WhatsappGroup::as_returning())
        .get_result(conn)
        .await?)
}

pub async fn find(conn: &mut AsyncPgConnection, id: Uuid) -> StoreResult<WhatsappGroup> {
    Ok(whatsapp_groups::table
        .find(id)
        .select(WhatsappGroup::as_select())
        .first(conn)
        .await?)
}

pub async fn list(
    conn: &mut AsyncPgConnection,
    page: PageRequest,
) -> StoreResult<Page<WhatsappGroup>> {
    let query = whatsapp_groups::table
        .select(WhatsappGroup::as_select())
        .into_boxed();
    let rows = crate::paginate!(query, whatsapp_groups::id, page)
        .load(conn)
        .await?;
    Ok(Page::from_rows(rows, page, |group| group.id))
}

pub async fn update(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    mut changes: WhatsappGroupChanges,
) -> StoreResult<WhatsappGroup> {
    changes.updated_at = Some(Utc::now());
    Ok(diesel::update(whatsapp_groups::table.find(id))
        .set(changes)
        .returning(WhatsappGroup::as_returning())
        .get_result(conn)
        .await?)
}

pub async fn delete(conn: &mut AsyncPgConnection, id: Uuid) -> StoreResult<()> {
    match diesel::delete(whatsapp_groups::table.find(id))
        .execute(conn)
        .await?
    {
        0 => Err(StoreError::NotFound),
        _ => Ok(()),
    }
}

/// Which contacts a bulk change is about.
#[derive(Debug, Clone)]
pub enum Members {
    Ids(Vec<Uuid>),
    Filter(WhatsappContactFilter),
}

/// `SELECT c.id FROM whatsapp_contacts c WHERE …` for `members`.
fn push_member_ids(sql: &mut Sql, members: &Members) {
    sql.push("SELECT c.id FROM whatsapp_contacts c WHERE true");
    match members {
        Members::Ids(ids) => {
            sql.push(" AND c.id = ANY(")
                .bind(Bind::Uuids(ids.clone()))
                .push(")");
        }
        Members::Filter(filter) => push_whatsapp_contact_conditions(sql, filter),
    }
}

/// Adds the contacts to the group in one statement; those already in it stay
/// as they are. Returns how many were added.
pub async fn add_members(
    conn: &mut AsyncPgConnection,
    group: Uuid,
    members: &Members,
) -> StoreResult<usize> {
    let mut sql = Sql::default();
    sql.push("INSERT INTO whatsapp_group_members (group_id, contact_id) SELECT ")
        .bind(Bind::Uuid(group))
        .push(", ids.id FROM (");
    push_member_ids(&mut sql, members);
    sql.push(") ids ON CONFLICT DO NOTHING");
    Ok(sql.into_query().execute(conn).await?)
}

/// Removes the contacts from the group; returns how many were in it.
pub async fn remove_members(
    conn: &mut AsyncPgConnection,
    group: Uuid,
    members: &Members,
) -> StoreResult<usize> {
    let mut sql = Sql::default();
    sql.push("DELETE FROM whatsapp_group_members WHERE group_id = ")
        .bind(Bind::Uuid(group))
        .push(" AND contact_id IN (");
    push_member_ids(&mut sql, members);
    sql.push(")");
    Ok(sql.into_query().execute(conn).await?)
}

/// The ids of `ids` that name no WhatsApp contact.
pub async fn unknown_contacts(
    conn: &mut AsyncPgConnection,
    ids: &[Uuid],
) -> StoreResult<Vec<Uuid>> {
    let known: Vec<Uuid> = whatsapp_contacts::table
        .filter(whatsapp_contacts::id.eq_any(ids))
        .select(whatsapp_contacts::id)
        .load(conn)
        .await?;
    let mut unknown: Vec<Uuid> = ids
        .iter()
        .filter(|id| !known.contains(id))
        .copied()
        .collect();
    unknown.sort();
    unknown.dedup();
    Ok(unknown)
}

/// The ids of `ids` that name no group.
pub async fn unknown_groups(conn: &mut AsyncPgConnection, ids: &[Uuid]) -> StoreResult<Vec<Uuid>> {
    let known: Vec<Uuid> = whatsapp_groups::table
        .filter(whatsapp_groups::id.eq_any(ids))
        .select(whatsapp_groups::id)
        .load(conn)
        .await?;
    Ok(ids
        .iter()
        .filter(|id| !known.contains(id))
        .copied()
        .collect())
}
