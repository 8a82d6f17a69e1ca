//! WhatsApp contacts: the people marketing sends to, one per phone, with the
//! consent of their phone read alongside.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;
use wacrm_domain::audiences::{ConsentFilter, WhatsappContactFilter};

use crate::audiences::{Bind, Sql, push_whatsapp_contact_conditions};
use crate::error::{StoreError, StoreResult};
use crate::page::{Page, PageRequest};
use crate::phone_consent::{self, PhoneConsent};
use crate::schema::whatsapp_contacts;

#[derive(Debug, Clone, Queryable, Selectable, QueryableByName)]
#[diesel(table_name = whatsapp_contacts)]
pub struct WhatsappContact {
    pub id: Uuid,
    pub name: Option<String>,
    pub phone: String,
    pub phone_normalized: String,
    pub language: Option<String>,
    pub time_zone: String,
    pub labels: Vec<String>,
    pub custom_fields: serde_json::Value,
    pub opt_in_status: String,
    pub opt_in_source: Option<String>,
    pub opt_in_at: Option<DateTime<Utc>>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A contact with its phone's consent and blocklist state.
#[derive(Debug, Clone, QueryableByName)]
pub struct ListedWhatsappContact {
    #[diesel(embed)]
    pub contact: WhatsappContact,
    #[diesel(embed)]
    pub consent: PhoneConsent,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = whatsapp_contacts)]
pub struct NewWhatsappContact {
    pub id: Uuid,
    pub name: Option<String>,
    pub phone: String,
    pub phone_normalized: String,
    pub language: Option<String>,
    pub time_zone: String,
    pub labels: Vec<String>,
    pub custom_fields: serde_json::Value,
    pub opt_in_status: String,
    pub opt_in_source: Option<String>,
    pub opt_in_at: Option<DateTime<Utc>>,
    pub created_by: Option<Uuid>,
}

#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = whatsapp_contacts)]
pub struct WhatsappContactChanges {
    pub name: Option<Option<String>>,
    pub phone: Option<String>,
    pub phone_normalized: Option<String>,
    pub language: Option<Option<String>>,
    pub time_zone: Option<String>,
    pub labels: Option<Vec<String>>,
    pub custom_fields: Option<serde_json::Value>,
    pub opt_in_status: Option<String>,
    pub opt_in_source: Option<Option<String>>,
    pub opt_in_at: Option<Option<DateTime<Utc>>>,
    pub updated_at: Option<DateTime<Utc>>,
}

/// The unique index a second contact with the same phone runs into.
pub const PHONE_CONSTRAINT: &str = "whatsapp_contacts_phone_normalized_key";

/// `SELECT … FROM whatsapp_contacts c` with consent, ready for conditions.
fn select_listed() -> Sql {
    let mut sql = Sql::default();
    sql.push(&format!(
        "SELECT c.*, {} FROM whatsapp_contacts c \
         LEFT JOIN marketing_consent mc ON mc.phone = c.phone_normalized WHERE true",
        phone_consent::columns("c.phone_normalized")
    ));
    sql
}

pub async fn insert(
    conn: &mut AsyncPgConnection,
    new: NewWhatsappContact,
) -> StoreResult<ListedWhatsappContact> {
    let id = diesel::insert_into(whatsapp_contacts::table)
        .values(new)
        .returning(whatsapp_contacts::id)
        .get_result(conn)
        .await?;
    find(conn, id).await
}

pub async fn find(conn: &mut AsyncPgConnection, id: Uuid) -> StoreResult<ListedWhatsappContact> {
    let mut sql = select_listed();
    sql.push(" AND c.id = ").bind(Bind::Uuid(id));
    Ok(sql.into_query().get_result(conn).await?)
}

/// The contact holding this normalised phone, if any.
pub async fn find_by_phone(
    conn: &mut AsyncPgConnection,
    phone_normalized: &str,
) -> StoreResult<Option<Uuid>> {
    Ok(whatsapp_contacts::table
        .filter(whatsapp_contacts::phone_normalized.eq(phone_normalized))
        .select(whatsapp_contacts::id)
        .first(conn)
        .await
        .optional()?)
}

/// The contact id of each phone that has one (leads and contacts link by phone).
pub async fn ids_by_phone(
    conn: &mut AsyncPgConnection,
    phones: Vec<String>,
) -> StoreResult<HashMap<String, Uuid>> {
    if phones.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(String, Uuid)> = whatsapp_contacts::table
        .filter(whatsapp_contacts::phone_normalized.eq_any(phones))
        .select((whatsapp_contacts::phone_normalized, whatsapp_contacts::id))
        .load(conn)
        .await?;
    Ok(rows.into_iter().collect())
}

/// Newest first, keyset-paged.
pub async fn list(
    conn: &mut AsyncPgConnection,
    filter: &WhatsappContactFilter,
    page: PageRequest,
) -> StoreResult<Page<ListedWhatsappContact>> {
    let mut sql = select_listed();
    push_whatsapp_contact_conditions(&mut sql, filter);
    if let Some(after) = page.after {
        sql.push(" AND c.id < ").bind(Bind::Uuid(after));
    }
    sql.push(" ORDER BY c.id DESC LIMIT ")
        .bind(Bind::BigInt(page.limit + 1));
    let rows = sql.into_query().load(conn).await?;
    Ok(Page::from_rows(
        rows,
        page,
        |row: &ListedWhatsappContact| row.contact.id,
    ))
}

/// How many contacts match, and how many of those are in each consent state.
#[derive(Debug, Clone, QueryableByName)]
pub struct WhatsappContactCounts {
    #[diesel(sql_type = BigInt)]
    pub total: i64,
    #[diesel(sql_type = BigInt)]
    pub subscribed: i64,
    #[diesel(sql_type = BigInt)]
    pub opted_out: i64,
    #[diesel(sql_type = BigInt)]
    pub unknown: i64,
    #[diesel(sql_type = BigInt)]
    pub blocked: i64,
}

/// `total` honours every condition of `filter`; the per-state counts take
/// all but its `consent` (they say how the matching contacts split).
pub async fn count(
    conn: &mut AsyncPgConnection,
    filter: &WhatsappContactFilter,
) -> StoreResult<WhatsappContactCounts> {
    let total = match filter.consent {
        None => "count(*)",
        Some(ConsentFilter::Subscribed) => "count(*) FILTER (WHERE mc.state = 'subscribed')",
        Some(ConsentFilter::OptedOut) => "count(*) FILTER (WHERE mc.state = 'opted_out')",
        Some(ConsentFilter::Unknown) => "count(*) FILTER (WHERE mc.state IS NULL)",
        Some(ConsentFilter::Blocked) => "count(*) FILTER (WHERE b.phone IS NOT NULL)",
    };
    let mut sql = Sql::default();
    sql.push(&format!(
        "SELECT {total} AS total, \
           count(*) FILTER (WHERE mc.state = 'subscribed') AS subscribed, \
           count(*) FILTER (WHERE mc.state = 'opted_out') AS opted_out, \
           count(*) FILTER (WHERE mc.state IS NULL) AS unknown, \
           count(*) FILTER (WHERE b.phone IS NOT NULL) AS blocked \
         FROM whatsapp_contacts c \
         LEFT JOIN marketing_consent mc ON mc.phone = c.phone_normalized \
         LEFT JOIN blocklist b ON b.phone = c.phone_normalized WHERE true"
    ));
    push_whatsapp_contact_conditions(&mut sql, &filter.without_consent());
    Ok(sql.into_query().get_result(conn).await?)
}

/// Every custom-field key the matching contacts use, sorted (the export's columns).
pub async fn custom_field_keys(
    conn: &mut AsyncPgConnection,
    filter: &WhatsappContactFilter,
) -> StoreResult<Vec<String>> {
    #[derive(QueryableByName)]
    struct Key {
        #[diesel(sql_type = Text)]
        key: String,
    }
    let mut sql = Sql::default();
    sql.push(
        "SELECT DISTINCT jsonb_object_keys(c.custom_fields) AS key FROM whatsapp_contacts c WHERE true",
    );
    push_whatsapp_contact_conditions(&mut sql, filter);
    sql.push(" ORDER BY key");
    let keys: Vec<Key> = sql.into_query().load(conn).await?;
    Ok(keys.into_iter().map(|k| k.key).collect())
}

pub async fn update(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    mut changes: WhatsappContactChanges,
) -> StoreResult<ListedWhatsappContact> {
    changes.updated_at = Some(Utc::now());
    let id = diesel::update(whatsapp_contacts::table.find(id))
        .set(changes)
        .returning(whatsapp_contacts::id)
        .get_result(conn)
        .await?;
    find(conn, id).await
}

pub async fn delete(conn: &mut AsyncPgConnection, id: Uuid) -> StoreResult<()> {
    match diesel::delete(whatsapp_contacts::table.find(id))
        .execute(conn)
        .await?
    {
        0 => Err(StoreError::NotFound),
        _ => Ok(()),
    }
}
