//! Marketing consent: each phone's current state (`marketing_consent`) and every
//! change reported for it (`consent_history`, append-only).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Nullable, Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::error::StoreResult;
use crate::schema::{consent_history, marketing_consent};

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

/// A phone's changes, oldest first.
pub async fn history(conn: &mut AsyncPgConnection, phone: &str) -> StoreResult<Vec<ConsentChange>> {
    Ok(consent_history::table
        .filter(consent_history::phone.eq(phone))
        .order((consent_history::occurred_at, consent_history::id))
        .select(ConsentChange::as_select())
        .load(conn)
        .await?)
}
