//! Marketing consent: each phone's current state (`marketing_consent`), the
//! blocklist, and every change of either (`consent_history`, append-only: the
//! audit trail of who changed what, when and why).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Nullable, Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use wacrm_domain::consent::{MarketingState, Standing};

use crate::error::StoreResult;
use crate::page::{Page, PageRequest};
use crate::prepared::PreparedExt as _;
use crate::schema::{blocklist, consent_history, marketing_consent};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = marketing_consent)]
pub struct MarketingConsent {
    pub phone: String,
    pub state: String,
    pub reason: Option<String>,
    pub source: String,
    pub changed_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = consent_history)]
pub struct ConsentChange {
    pub id: Uuid,
    pub phone: String,
    pub state: String,
    pub reason: Option<String>,
    pub source: String,
    pub occurred_at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
    pub changed_by: Option<Uuid>,
}

/// A reported change of a phone's marketing state.
#[derive(Debug, Clone)]
pub struct NewConsentChange {
    /// Normalised digits (E.164 without `+`).
    pub phone: String,
    pub state: String,
    pub reason: Option<String>,
    pub source: String,
    pub occurred_at: DateTime<Utc>,
    /// The staff member who made it; `None` for the customer or the provider.
    pub changed_by: Option<Uuid>,
}

/// Appends the change to the history (once, however often it is reported) and moves
/// the current state to it unless a later change is already there: reports may come
/// out of order, and the newest one is what the customer chose last.
pub async fn record(conn: &mut AsyncPgConnection, change: NewConsentChange) -> StoreResult<()> {
    diesel::insert_into(consent_history::table)
        .values((
            consent_history::id.eq(Uuid::now_v7()),
            consent_history::phone.eq(&change.phone),
            consent_history::state.eq(&change.state),
            consent_history::reason.eq(&change.reason),
            consent_history::source.eq(&change.source),
            consent_history::occurred_at.eq(change.occurred_at),
            consent_history::changed_by.eq(change.changed_by),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    diesel::sql_query(
        "INSERT INTO marketing_consent (phone, state, reason, source, changed_at)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (phone) DO UPDATE
            SET state = EXCLUDED.state, reason = EXCLUDED.reason, source = EXCLUDED.source,
                changed_at = EXCLUDED.changed_at, updated_at = now()
          WHERE marketing_consent.changed_at <= EXCLUDED.changed_at",
    )
    .bind::<Text, _>(&change.phone)
    .bind::<Text, _>(&change.state)
    .bind::<Nullable<Text>, _>(&change.reason)
    .bind::<Text, _>(&change.source)
    .bind::<Timestamptz, _>(change.occurred_at)
    .prepared()
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn find(
    conn: &mut AsyncPgConnection,
    phone: &str,
) -> StoreResult<Option<MarketingConsent>> {
    Ok(marketing_consent::table
        .find(phone)
        .select(MarketingConsent::as_select())
        .first(conn)
        .await
        .optional()?)
}

/// A phone's latest `limit` changes, oldest first.
pub async fn history(
    conn: &mut AsyncPgConnection,
    phone: &str,
    limit: i64,
) -> StoreResult<Vec<ConsentChange>> {
    let mut changes: Vec<ConsentChange> = consent_history::table
        .filter(consent_history::phone.eq(phone))
        .order((
            consent_history::occurred_at.desc(),
            consent_history::id.desc(),
        ))
        .limit(limit)
        .select(ConsentChange::as_select())
        .load(conn)
        .await?;
    changes.reverse();
    Ok(changes)
}

/// What the outbox needs to know about `phone`: its marketing state and whether
/// it is blocklisted, in one round trip.
pub async fn standing(conn: &mut AsyncPgConnection, phone: &str) -> StoreResult<Standing> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Nullable<Text>)]
        state: Option<String>,
        #[diesel(sql_type = diesel::sql_types::Bool)]
        blocked: bool,
    }
    let row: Row = diesel::sql_query(
        "SELECT (SELECT state FROM marketing_consent WHERE phone = $1) AS state,
                EXISTS (SELECT 1 FROM blocklist WHERE phone = $1) AS blocked",
    )
    .bind::<Text, _>(phone)
    .prepared()
    .get_result(conn)
    .await?;
    Ok(Standing {
        marketing: row.state.as_deref().and_then(MarketingState::parse),
        blocked: row.blocked,
    })
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = blocklist)]
pub struct BlockedPhone {
    pub id: Uuid,
    pub phone: String,
    pub reason: Option<String>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

/// Blocklists `phone`, recording it in the history; `None` when it already was.
pub async fn block(
    conn: &mut AsyncPgConnection,
    phone: &str,
    reason: Option<&str>,
    by: Option<Uuid>,
    now: DateTime<Utc>,
) -> StoreResult<Option<BlockedPhone>> {
    let added = diesel::insert_into(blocklist::table)
        .values((
            blocklist::id.eq(Uuid::now_v7()),
            blocklist::phone.eq(phone),
            blocklist::reason.eq(reason),
            blocklist::created_by.eq(by),
            blocklist::created_at.eq(now),
        ))
        .on_conflict(blocklist::phone)
        .do_nothing()
        .returning(BlockedPhone::as_returning())
        .get_result(conn)
        .await
        .optional()?;
    if added.is_some() {
        append(conn, phone, "blocked", reason, by, now).await?;
    }
    Ok(added)
}

/// Takes `phone` off the blocklist; whether it was on it.
pub async fn unblock(
    conn: &mut AsyncPgConnection,
    phone: &str,
    by: Option<Uuid>,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    let removed = diesel::delete(blocklist::table.filter(blocklist::phone.eq(phone)))
        .execute(conn)
        .await?
        > 0;
    if removed {
        append(conn, phone, "unblocked", None, by, now).await?;
    }
    Ok(removed)
}

pub async fn find_blocked(
    conn: &mut AsyncPgConnection,
    phone: &str,
) -> StoreResult<Option<BlockedPhone>> {
    Ok(blocklist::table
        .filter(blocklist::phone.eq(phone))
        .select(BlockedPhone::as_select())
        .first(conn)
        .await
        .optional()?)
}

/// The blocklist, newest first.
pub async fn list_blocked(
    conn: &mut AsyncPgConnection,
    page: PageRequest,
) -> StoreResult<Page<BlockedPhone>> {
    let query = blocklist::table
        .select(BlockedPhone::as_select())
        .into_boxed();
    let rows = crate::paginate!(query, blocklist::id, page)
        .load(conn)
        .await?;
    Ok(Page::from_rows(rows, page, |blocked| blocked.id))
}

/// A blocklist change in the history (it does not move the marketing state).
async fn append(
    conn: &mut AsyncPgConnection,
    phone: &str,
    state: &str,
    reason: Option<&str>,
    by: Option<Uuid>,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    diesel::insert_into(consent_history::table)
        .values((
            consent_history::id.eq(Uuid::now_v7()),
            consent_history::phone.eq(phone),
            consent_history::state.eq(state),
            consent_history::reason.eq(reason),
            consent_history::source.eq(wacrm_domain::consent::source::STAFF),
            consent_history::occurred_at.eq(now),
            consent_history::changed_by.eq(by),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(())
}

/// [`standing`] of many phones in one query (phones never reported either
/// way and not blocked are left out: their standing is the default).
pub async fn standings(
    conn: &mut AsyncPgConnection,
    phones: &[String],
) -> StoreResult<std::collections::HashMap<String, Standing>> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Text)]
        phone: String,
        #[diesel(sql_type = Nullable<Text>)]
        state: Option<String>,
        #[diesel(sql_type = diesel::sql_types::Bool)]
        blocked: bool,
    }
    if phones.is_empty() {
        return Ok(std::collections::HashMap::new());
    }
    let rows: Vec<Row> = diesel::sql_query(
        "SELECT p.phone, mc.state, (b.phone IS NOT NULL) AS blocked \
         FROM unnest($1::text[]) AS p(phone) \
         LEFT JOIN marketing_consent mc ON mc.phone = p.phone \
         LEFT JOIN blocklist b ON b.phone = p.phone \
         WHERE mc.phone IS NOT NULL OR b.phone IS NOT NULL",
    )
    .bind::<diesel::sql_types::Array<Text>, _>(phones)
    .prepared()
    .load(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let standing = Standing {
                marketing: row.state.as_deref().and_then(MarketingState::parse),
                blocked: row.blocked,
            };
            (row.phone, standing)
        })
        .collect())
}
