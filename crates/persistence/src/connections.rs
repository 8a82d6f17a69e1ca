//! Provider connections. Credentials are sealed with the master key on the way
//! in and opened on the way out; the table only ever holds ciphertext.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;
use wacrm_domain::Provider;
use wacrm_domain::connection::Credentials;

use crate::conversations::Conversation;
use crate::error::{StoreError, StoreResult};
use crate::numbers::Number;
use crate::page::{Page, PageRequest};
use crate::schema::{connections, conversations, numbers};
use crate::secrets::Cipher;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = connections)]
struct Row {
    id: Uuid,
    provider: String,
    name: String,
    base_url: Option<String>,
    credentials: Vec<u8>,
    is_healthy: bool,
    health_error: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

/// A connection with its credentials opened.
#[derive(Debug, Clone)]
pub struct Connection {
    pub id: Uuid,
    pub provider: Provider,
    pub name: String,
    pub base_url: Option<String>,
    pub credentials: Credentials,
    pub is_healthy: bool,
    pub health_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Row {
    fn open(self, cipher: &Cipher) -> StoreResult<Connection> {
        let provider = Provider::parse(&self.provider)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown provider `{}`", self.provider)))?;
        let plaintext = cipher
            .open(self.id, &self.credentials)
            .map_err(|error| StoreError::Corrupt(error.to_string()))?;
        let credentials = serde_json::from_slice(&plaintext)
            .map_err(|error| StoreError::Corrupt(error.to_string()))?;
        Ok(Connection {
            id: self.id,
            provider,
            name: self.name,
            base_url: self.base_url,
            credentials,
            is_healthy: self.is_healthy,
            health_error: self.health_error,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

fn seal(cipher: &Cipher, id: Uuid, credentials: &Credentials) -> StoreResult<Vec<u8>> {
    let json =
        serde_json::to_vec(credentials).map_err(|error| StoreError::Corrupt(error.to_string()))?;
    Ok(cipher.seal(id, &json))
}

pub struct NewConnection {
    pub id: Uuid,
    pub provider: Provider,
    pub name: String,
    pub base_url: Option<String>,
    pub credentials: Credentials,
}

pub async fn insert(
    conn: &mut AsyncPgConnection,
    cipher: &Cipher,
    new: NewConnection,
) -> StoreResult<Connection> {
    let sealed = seal(cipher, new.id, &new.credentials)?;
    diesel::insert_into(connections::table)
        .values((
            connections::id.eq(new.id),
            connections::provider.eq(new.provider.as_str()),
            connections::name.eq(new.name),
            connections::base_url.eq(new.base_url),
            connections::credentials.eq(sealed),
        ))
        .returning(Row::as_returning())
        .get_result(conn)
        .await?
        .open(cipher)
}

pub async fn find(
    conn: &mut AsyncPgConnection,
    cipher: &Cipher,
    id: Uuid,
) -> StoreResult<Connection> {
    connections::table
        .find(id)
        .select(Row::as_select())
        .first(conn)
        .await?
        .open(cipher)
}

/// The provider a connection speaks to (its credentials stay sealed).
pub async fn provider_of(conn: &mut AsyncPgConnection, id: Uuid) -> StoreResult<String> {
    Ok(connections::table
        .find(id)
        .select(connections::provider)
        .first(conn)
        .await?)
}

/// Conversations with the number each is on and that number's connection,
/// in one round trip (what a batch of deliveries needs to call the
/// providers), keyed by conversation; a connection's credentials are opened
/// once however many of the conversations it serves. A conversation that is
/// gone is not in the answer.
pub async fn senders_of(
    conn: &mut AsyncPgConnection,
    cipher: &Cipher,
    conversation_ids: &[Uuid],
) -> StoreResult<HashMap<Uuid, (Conversation, Number, Connection)>> {
    let rows: Vec<(Conversation, Number, Row)> = conversations::table
        .inner_join(numbers::table.inner_join(connections::table))
        .filter(conversations::id.eq_any(conversation_ids))
        .select((
            Conversation::as_select(),
            Number::as_select(),
            Row::as_select(),
        ))
        .load(conn)
        .await?;
    let mut opened: HashMap<Uuid, Connection> = HashMap::new();
    let mut senders = HashMap::with_capacity(rows.len());
    for (conversation, number, row) in rows {
        let connection = match opened.get(&row.id) {
            Some(connection) => connection.clone(),
            None => {
                let connection = row.open(cipher)?;
                opened.insert(connection.id, connection.clone());
                connection
            }
        };
        senders.insert(conversation.id, (conversation, number, connection));
    }
    Ok(senders)
}

pub async fn list(
    conn: &mut AsyncPgConnection,
    cipher: &Cipher,
    page: PageRequest,
) -> StoreResult<Page<Connection>> {
    let query = connections::table.select(Row::as_select()).into_boxed();
    let rows: Vec<Row> = crate::paginate!(query, connections::id, page)
        .load(conn)
        .await?;
    let page = Page::from_rows(rows, page, |row| row.id);
    let items = page
        .items
        .into_iter()
        .map(|row| row.open(cipher))
        .collect::<StoreResult<_>>()?;
    Ok(Page {
        items,
        next: page.next,
    })
}

/// Writes name, base URL and credentials as given (callers merge first).
pub async fn update(
    conn: &mut AsyncPgConnection,
    cipher: &Cipher,
    changed: &Connection,
) -> StoreResult<Connection> {
    let sealed = seal(cipher, changed.id, &changed.credentials)?;
    diesel::update(connections::table.find(changed.id))
        .set((
            connections::name.eq(&changed.name),
            connections::base_url.eq(&changed.base_url),
            connections::credentials.eq(sealed),
            connections::updated_at.eq(Utc::now()),
        ))
        .returning(Row::as_returning())
        .get_result(conn)
        .await?
        .open(cipher)
}

/// Marks the connection healthy again, or unhealthy with the reason.
pub async fn set_health(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    error: Option<&str>,
) -> StoreResult<()> {
    diesel::update(connections::table.find(id))
        .set((
            connections::is_healthy.eq(error.is_none()),
            connections::health_error.eq(error),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Deletes the connection with its numbers, conversations and templates (by
/// foreign key) and its stored webhooks (which have none, for ingest's sake;
/// a rare admin action may scan them).
pub async fn delete(conn: &mut AsyncPgConnection, id: Uuid) -> StoreResult<()> {
    use diesel_async::AsyncConnection as _;
    conn.transaction::<_, StoreError, _>(async |conn| {
        let deleted = diesel::delete(connections::table.find(id))
            .execute(conn)
            .await?;
        if deleted == 0 {
            return Err(StoreError::NotFound);
        }
        diesel::delete(
            crate::schema::webhook_events::table
                .filter(crate::schema::webhook_events::connection_id.eq(id)),
        )
        .execute(conn)
        .await?;
        Ok(())
    })
    .await
}

/// Every connection's id.
pub async fn ids(conn: &mut AsyncPgConnection) -> StoreResult<Vec<Uuid>> {
    Ok(connections::table
        .select(connections::id)
        .order(connections::id)
        .load(conn)
        .await?)
}
