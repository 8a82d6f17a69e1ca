//! Business numbers: the WhatsApp numbers a connection sends and receives on.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::error::{StoreError, StoreResult};
use crate::page::{Page, PageRequest};
use crate::prepared::PreparedExt as _;
use crate::schema::numbers;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = numbers)]
pub struct Number {
    pub id: Uuid,
    pub connection_id: Uuid,
    pub phone: String,
    pub phone_normalized: String,
    pub provider_number_id: Option<String>,
    pub is_default: bool,
    pub messages_per_second: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Distinct customers it may message first per moving 24 hours (its
    /// messaging-limit tier); `None`: unlimited.
    pub daily_recipient_limit: Option<i32>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = numbers)]
pub struct NewNumber {
    pub id: Uuid,
    pub connection_id: Uuid,
    pub phone: String,
    pub phone_normalized: String,
    pub provider_number_id: Option<String>,
    pub is_default: bool,
    pub messages_per_second: i32,
    pub daily_recipient_limit: Option<i32>,
}

#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = numbers)]
pub struct NumberChanges {
    pub phone: Option<String>,
    pub phone_normalized: Option<String>,
    pub provider_number_id: Option<Option<String>>,
    pub is_default: Option<bool>,
    pub messages_per_second: Option<i32>,
    pub daily_recipient_limit: Option<Option<i32>>,
    pub updated_at: Option<DateTime<Utc>>,
}

/// Inserts; a default number takes the default flag from its siblings (call in a transaction).
pub async fn insert(conn: &mut AsyncPgConnection, new: NewNumber) -> StoreResult<Number> {
    if new.is_default {
        clear_default(conn, new.connection_id).await?;
    }
    Ok(diesel::insert_into(numbers::table)
        .values(new)
        .returning(Number::as_returning())
        .get_result(conn)
        .await?)
}

pub async fn find(conn: &mut AsyncPgConnection, id: Uuid) -> StoreResult<Number> {
    Ok(numbers::table
        .find(id)
        .select(Number::as_select())
        .first(conn)
        .await?)
}

pub async fn list(
    conn: &mut AsyncPgConnection,
    connection_id: Option<Uuid>,
    page: PageRequest,
) -> StoreResult<Page<Number>> {
    let mut query = numbers::table.select(Number::as_select()).into_boxed();
    if let Some(connection_id) = connection_id {
        query = query.filter(numbers::connection_id.eq(connection_id));
    }
    let rows = crate::paginate!(query, numbers::id, page)
        .load(conn)
        .await?;
    Ok(Page::from_rows(rows, page, |number| number.id))
}

/// Updates; making a number default takes the flag from its siblings (call in a transaction).
pub async fn update(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    mut changes: NumberChanges,
) -> StoreResult<Number> {
    if changes.is_default == Some(true) {
        let connection_id = find(conn, id).await?.connection_id;
        clear_default(conn, connection_id).await?;
    }
    changes.updated_at = Some(Utc::now());
    Ok(diesel::update(numbers::table.find(id))
        .set(changes)
        .returning(Number::as_returning())
        .get_result(conn)
        .await?)
}

pub async fn delete(conn: &mut AsyncPgConnection, id: Uuid) -> StoreResult<()> {
    match diesel::delete(numbers::table.find(id))
        .execute(conn)
        .await?
    {
        0 => Err(StoreError::NotFound),
        _ => Ok(()),
    }
}

async fn clear_default(conn: &mut AsyncPgConnection, connection_id: Uuid) -> StoreResult<()> {
    diesel::update(
        numbers::table
            .filter(numbers::connection_id.eq(connection_id))
            .filter(numbers::is_default),
    )
    .set(numbers::is_default.eq(false))
    .execute(conn)
    .await?;
    Ok(())
}

/// The number of `connection_id` with the provider's id for it (Meta's `phone_number_id`).
pub async fn find_by_provider_id(
    conn: &mut AsyncPgConnection,
    connection_id: Uuid,
    provider_number_id: &str,
) -> StoreResult<Option<Number>> {
    Ok(numbers::table
        .filter(numbers::connection_id.eq(connection_id))
        .filter(numbers::provider_number_id.eq(provider_number_id))
        .select(Number::as_select())
        .first(conn)
        .await
        .optional()?)
}

/// The number of `connection_id` with these E.164 digits.
pub async fn find_by_phone(
    conn: &mut AsyncPgConnection,
    connection_id: Uuid,
    phone_normalized: &str,
) -> StoreResult<Option<Number>> {
    Ok(numbers::table
        .filter(numbers::connection_id.eq(connection_id))
        .filter(numbers::phone_normalized.eq(phone_normalized))
        .select(Number::as_select())
        .first(conn)
        .await
        .optional()?)
}

/// The connection's default number, or its only number.
pub async fn find_default(
    conn: &mut AsyncPgConnection,
    connection_id: Uuid,
) -> StoreResult<Option<Number>> {
    let mut found: Vec<Number> = numbers::table
        .filter(numbers::connection_id.eq(connection_id))
        .order((numbers::is_default.desc(), numbers::id))
        .limit(2)
        .select(Number::as_select())
        .load(conn)
        .await?;
    let sole = found.len() == 1;
    Ok(found
        .drain(..)
        .next()
        .filter(|number| number.is_default || sole))
}

/// The number to send from when none is named: a default number of a healthy
/// connection, else any number of a healthy connection.
pub async fn sending_default(conn: &mut AsyncPgConnection) -> StoreResult<Option<Number>> {
    use crate::schema::connections;
    Ok(numbers::table
        .inner_join(connections::table)
        .filter(connections::is_healthy)
        .order((numbers::is_default.desc(), numbers::id))
        .select(Number::as_select())
        .first(conn)
        .await
        .optional()?)
}

/// The messages per second of every number together: what the deliveries'
/// concurrency is sized from.
pub async fn total_rate(conn: &mut AsyncPgConnection) -> StoreResult<i64> {
    let total: Option<i64> = numbers::table
        .select(diesel::dsl::sum(numbers::messages_per_second))
        .first(conn)
        .await?;
    Ok(total.unwrap_or(0))
}

/// Reserves the next `count` send slots of `number`, `interval` seconds
/// apart, in the table every worker node shares (`number_send_slots`);
/// returns how many seconds from now the first one is (0 when the number has
/// been idle). The slots are the caller's alone: nodes reserving at once get
/// consecutive runs of slots, so together they keep the number's rate.
pub async fn reserve_send_slots(
    conn: &mut AsyncPgConnection,
    number: Uuid,
    count: i32,
    interval: f64,
) -> StoreResult<f64> {
    #[derive(QueryableByName)]
    struct Reserved {
        #[diesel(sql_type = diesel::sql_types::Double)]
        wait: f64,
    }
    // `statement_timestamp()` is one instant for the whole statement: the
    // first slot is the later of the stored one and now.
    let reserved: Reserved = diesel::sql_query(
        "INSERT INTO number_send_slots AS s (number_id, next_slot) \
         VALUES ($1, statement_timestamp() + make_interval(secs => $2 * $3)) \
         ON CONFLICT (number_id) DO UPDATE \
           SET next_slot = greatest(s.next_slot, statement_timestamp()) + make_interval(secs => $2 * $3) \
         RETURNING extract(epoch FROM s.next_slot - statement_timestamp())::float8 - $2 * $3 AS wait",
    )
    .bind::<diesel::sql_types::Uuid, _>(number)
    .bind::<diesel::sql_types::Double, _>(f64::from(count))
    .bind::<diesel::sql_types::Double, _>(interval)
    .prepared()
    .get_result(conn)
    .await?;
    Ok(reserved.wait.max(0.0))
}
