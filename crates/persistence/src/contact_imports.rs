//! CSV imports of WhatsApp contacts: the uploaded file in chunks, the import's
//! options and cursor, its row errors, and the batch writes of the import job.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, Jsonb, Nullable, Text, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Serialize;
use uuid::Uuid;

use crate::error::StoreResult;
use crate::schema::{
    contact_import_chunks, contact_import_errors, contact_import_phones, contact_imports,
    whatsapp_groups,
};

/// Size of the stored file's chunks (the last one may be shorter): byte `n`
/// of the file is in chunk `n / CHUNK_BYTES`. The header row must end within
/// the first. Kept small because a pooled connection may keep buffers the
/// size of the largest message it carried, on every connection of the pool.
pub const CHUNK_BYTES: usize = 256 * 1024;

/// Row errors kept per import; later ones are only counted (`error_count`).
pub const MAX_KEPT_ERRORS: i64 = 10_000;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = contact_imports)]
pub struct ContactImport {
    pub id: Uuid,
    pub status: String,
    pub file_bytes: i64,
    pub mapping: serde_json::Value,
    pub default_country: Option<String>,
    pub on_duplicate: String,
    pub label_separator: String,
    pub group_id: Option<Uuid>,
    pub dry_run: bool,
    pub byte_offset: i64,
    pub next_row: i64,
    pub rows_done: i64,
    pub created: i64,
    pub updated: i64,
    pub skipped: i64,
    pub duplicates: i64,
    pub failed: i64,
    pub error_count: i64,
    pub failure: Option<String>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// What the upload decided once the whole file was stored.
#[derive(Debug, AsChangeset)]
#[diesel(table_name = contact_imports)]
pub struct QueuedImport {
    pub status: &'static str,
    pub file_bytes: i64,
    pub mapping: serde_json::Value,
    pub default_country: Option<String>,
    pub on_duplicate: &'static str,
    pub label_separator: String,
    pub group_id: Option<Uuid>,
    pub dry_run: bool,
    /// The first data row.
    pub byte_offset: i64,
}

/// What one batch did, added to the import's counts with its cursor.
#[derive(Debug, Default, Clone, Copy)]
pub struct Progress {
    pub rows: i64,
    pub created: i64,
    pub updated: i64,
    pub skipped: i64,
    pub duplicates: i64,
    pub failed: i64,
    pub errors: i64,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = contact_import_errors)]
pub struct ImportError {
    pub id: i64,
    pub row: i64,
    pub column: Option<String>,
    pub reason: String,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = contact_import_errors)]
pub struct NewImportError {
    pub import_id: Uuid,
    pub row: i64,
    pub column: Option<String>,
    pub reason: String,
}

/// A contact as a batch writes it (sent to PostgreSQL as one JSON array).
#[derive(Debug, Clone, Serialize)]
pub struct ContactValues {
    pub id: Uuid,
    pub phone: String,
    pub phone_normalized: String,
    pub name: Option<String>,
    pub language: Option<String>,
    /// The row's own zone; `None` keeps a stored contact's.
    pub time_zone: Option<String>,
    /// A new contact's zone when the row has none.
    pub default_time_zone: String,
    pub labels: Vec<String>,
    pub custom_fields: std::collections::BTreeMap<String, String>,
}

/// A new import, `uploading` until its file is stored and checked.
pub async fn create(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    created_by: Option<Uuid>,
) -> StoreResult<()> {
    diesel::insert_into(contact_imports::table)
        .values((
            contact_imports::id.eq(id),
            contact_imports::created_by.eq(created_by),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn append_chunk(
    conn: &mut AsyncPgConnection,
    import_id: Uuid,
    seq: i32,
    data: &[u8],
) -> StoreResult<()> {
    diesel::insert_into(contact_import_chunks::table)
        .values((
            contact_import_chunks::import_id.eq(import_id),
            contact_import_chunks::seq.eq(seq),
            contact_import_chunks::data.eq(data),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Chunk `seq` of the file, `None` past its end.
pub async fn chunk(
    conn: &mut AsyncPgConnection,
    import_id: Uuid,
    seq: i32,
) -> StoreResult<Option<Vec<u8>>> {
    Ok(contact_import_chunks::table
        .find((import_id, seq))
        .select(contact_import_chunks::data)
        .first(conn)
        .await
        .optional()?)
}

/// Forgets an upload that was refused (its chunks go with it).
pub async fn discard(conn: &mut AsyncPgConnection, id: Uuid) -> StoreResult<()> {
    diesel::delete(contact_imports::table.find(id))
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn queue(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    queued: QueuedImport,
) -> StoreResult<ContactImport> {
    Ok(diesel::update(contact_imports::table.find(id))
        .set(queued)
        .returning(ContactImport::as_returning())
        .get_result(conn)
        .await?)
}

pub async fn find(conn: &mut AsyncPgConnection, id: Uuid) -> StoreResult<ContactImport> {
    Ok(contact_imports::table
        .find(id)
        .filter(contact_imports::status.ne("uploading"))
        .select(ContactImport::as_select())
        .first(conn)
        .await?)
}

/// The import, locked for the batch that is about to advance it.
pub async fn lock(conn: &mut AsyncPgConnection, id: Uuid) -> StoreResult<ContactImport> {
    Ok(contact_imports::table
        .find(id)
        .select(ContactImport::as_select())
        .for_update()
        .first(conn)
        .await?)
}

pub async fn group_exists(conn: &mut AsyncPgConnection, id: Uuid) -> StoreResult<bool> {
    Ok(
        diesel::select(diesel::dsl::exists(whatsapp_groups::table.find(id)))
            .get_result(conn)
            .await?,
    )
}

/// Marks the import running (once).
pub async fn start(conn: &mut AsyncPgConnection, id: Uuid) -> StoreResult<()> {
    diesel::update(contact_imports::table.find(id))
        .filter(contact_imports::status.eq("queued"))
        .set((
            contact_imports::status.eq("running"),
            contact_imports::started_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Of `phones`, those the import has already seen in earlier rows.
pub async fn seen(
    conn: &mut AsyncPgConnection,
    import_id: Uuid,
    phones: &[String],
) -> StoreResult<HashSet<String>> {
    let found: Vec<String> = contact_import_phones::table
        .filter(contact_import_phones::import_id.eq(import_id))
        .filter(contact_import_phones::phone_normalized.eq_any(phones))
        .select(contact_import_phones::phone_normalized)
        .load(conn)
        .await?;
    Ok(found.into_iter().collect())
}

pub async fn remember(
    conn: &mut AsyncPgConnection,
    import_id: Uuid,
    phones: &[String],
) -> StoreResult<()> {
    diesel::sql_query(
        "INSERT INTO contact_import_phones (import_id, phone_normalized) \
         SELECT $1, phone FROM unnest($2::text[]) AS phone ON CONFLICT DO NOTHING",
    )
    .bind::<SqlUuid, _>(import_id)
    .bind::<Array<Text>, _>(phones)
    .execute(conn)
    .await?;
    Ok(())
}

/// Of `phones`, those that are WhatsApp contacts already.
pub async fn existing(
    conn: &mut AsyncPgConnection,
    phones: &[String],
) -> StoreResult<HashSet<String>> {
    use crate::schema::whatsapp_contacts;
    let found: Vec<String> = whatsapp_contacts::table
        .filter(whatsapp_contacts::phone_normalized.eq_any(phones))
        .select(whatsapp_contacts::phone_normalized)
        .load(conn)
        .await?;
    Ok(found.into_iter().collect())
}

#[derive(QueryableByName)]
struct Phone {
    #[diesel(sql_type = Text)]
    phone_normalized: String,
}

/// Updates the contacts `rows` name by phone: the row's values replace the
/// stored ones, empty values keep them, labels and custom fields are added.
/// Returns the phones updated.
pub async fn update_contacts(
    conn: &mut AsyncPgConnection,
    rows: &[ContactValues],
) -> StoreResult<HashSet<String>> {
    if rows.is_empty() {
        return Ok(HashSet::new());
    }
    let updated: Vec<Phone> = diesel::sql_query(
        "UPDATE whatsapp_contacts AS c SET \
             phone = r.phone, \
             name = coalesce(r.name, c.name), \
             language = coalesce(r.language, c.language), \
             time_zone = coalesce(r.time_zone, c.time_zone), \
             labels = c.labels || ARRAY(SELECT l FROM unnest(r.labels) AS l WHERE l <> ALL (c.labels)), \
             custom_fields = c.custom_fields || r.custom_fields, \
             updated_at = now() \
         FROM jsonb_to_recordset($1) AS r(phone text, phone_normalized text, name text, \
             language text, time_zone text, labels text[], custom_fields jsonb) \
         WHERE c.phone_normalized = r.phone_normalized \
         RETURNING c.phone_normalized",
    )
    .bind::<Jsonb, _>(to_json(rows))
    .load(conn)
    .await?;
    Ok(updated.into_iter().map(|p| p.phone_normalized).collect())
}

/// Inserts the contacts of `rows` whose phone is no contact yet
/// (`ON CONFLICT DO NOTHING`); returns the phones created.
pub async fn insert_contacts(
    conn: &mut AsyncPgConnection,
    rows: &[ContactValues],
    created_by: Option<Uuid>,
) -> StoreResult<HashSet<String>> {
    if rows.is_empty() {
        return Ok(HashSet::new());
    }
    let created: Vec<Phone> = diesel::sql_query(
        "INSERT INTO whatsapp_contacts (id, name, phone, phone_normalized, language, time_zone, \
             labels, custom_fields, created_by) \
         SELECT r.id, r.name, r.phone, r.phone_normalized, r.language, \
             coalesce(r.time_zone, r.default_time_zone), r.labels, r.custom_fields, $2 \
         FROM jsonb_to_recordset($1) AS r(id uuid, phone text, phone_normalized text, name text, \
             language text, time_zone text, default_time_zone text, labels text[], custom_fields jsonb) \
         ON CONFLICT (phone_normalized) DO NOTHING \
         RETURNING phone_normalized",
    )
    .bind::<Jsonb, _>(to_json(rows))
    .bind::<Nullable<SqlUuid>, _>(created_by)
    .load(conn)
    .await?;
    Ok(created.into_iter().map(|p| p.phone_normalized).collect())
}

/// Adds the contacts with `phones` to `group_id` (those already in it stay).
pub async fn add_members(
    conn: &mut AsyncPgConnection,
    group_id: Uuid,
    phones: &[String],
) -> StoreResult<()> {
    diesel::sql_query(
        "INSERT INTO whatsapp_group_members (group_id, contact_id) \
         SELECT $1, id FROM whatsapp_contacts WHERE phone_normalized = ANY ($2) \
         ON CONFLICT DO NOTHING",
    )
    .bind::<SqlUuid, _>(group_id)
    .bind::<Array<Text>, _>(phones)
    .execute(conn)
    .await?;
    Ok(())
}

/// Keeps the first of `errors` while the import holds fewer than
/// [`MAX_KEPT_ERRORS`]; `already` is its error count before them.
pub async fn record_errors(
    conn: &mut AsyncPgConnection,
    already: i64,
    errors: Vec<NewImportError>,
) -> StoreResult<()> {
    let room = usize::try_from(MAX_KEPT_ERRORS - already).unwrap_or(0);
    let kept: Vec<NewImportError> = errors.into_iter().take(room).collect();
    // One row has a handful of fields: a batch's errors fit in one statement
    // (see `bulk`), in chunks all the same.
    for chunk in kept.chunks(crate::bulk::rows_per_insert(4)) {
        diesel::insert_into(contact_import_errors::table)
            .values(chunk)
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// Moves the cursor past a batch and adds its counts.
pub async fn advance(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    byte_offset: i64,
    next_row: i64,
    progress: Progress,
) -> StoreResult<ContactImport> {
    use contact_imports::dsl as c;
    Ok(diesel::update(c::contact_imports.find(id))
        .set((
            c::byte_offset.eq(byte_offset),
            c::next_row.eq(next_row),
            c::rows_done.eq(c::rows_done + progress.rows),
            c::created.eq(c::created + progress.created),
            c::updated.eq(c::updated + progress.updated),
            c::skipped.eq(c::skipped + progress.skipped),
            c::duplicates.eq(c::duplicates + progress.duplicates),
            c::failed.eq(c::failed + progress.failed),
            c::error_count.eq(c::error_count + progress.errors),
        ))
        .returning(ContactImport::as_returning())
        .get_result(conn)
        .await?)
}

/// Ends the import (`completed`, or `failed` with a reason) and drops what
/// only the run needed: the file and the phones seen.
pub async fn finish(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    failure: Option<&str>,
) -> StoreResult<ContactImport> {
    diesel::delete(contact_import_chunks::table.filter(contact_import_chunks::import_id.eq(id)))
        .execute(conn)
        .await?;
    diesel::delete(contact_import_phones::table.filter(contact_import_phones::import_id.eq(id)))
        .execute(conn)
        .await?;
    Ok(diesel::update(contact_imports::table.find(id))
        .set((
            contact_imports::status.eq(if failure.is_some() {
                "failed"
            } else {
                "completed"
            }),
            contact_imports::failure.eq(failure),
            contact_imports::started_at.eq(diesel::dsl::sql::<
                Nullable<diesel::sql_types::Timestamptz>,
            >("coalesce(started_at, now())")),
            contact_imports::finished_at.eq(diesel::dsl::now),
        ))
        .returning(ContactImport::as_returning())
        .get_result(conn)
        .await?)
}

/// The import's kept errors in file order, after error `after`.
pub async fn list_errors(
    conn: &mut AsyncPgConnection,
    import_id: Uuid,
    after: Option<i64>,
    limit: i64,
) -> StoreResult<Vec<ImportError>> {
    let mut query = contact_import_errors::table
        .filter(contact_import_errors::import_id.eq(import_id))
        .select(ImportError::as_select())
        .order(contact_import_errors::id.asc())
        .limit(limit + 1)
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(contact_import_errors::id.gt(after));
    }
    Ok(query.load(conn).await?)
}

fn to_json(rows: &[ContactValues]) -> serde_json::Value {
    serde_json::to_value(rows).unwrap_or_default()
}
