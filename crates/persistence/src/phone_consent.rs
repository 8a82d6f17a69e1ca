//! What records show of a phone's marketing consent and blocklist entry
//! (read-only here; `consent` and the blocklist routes write them).

use chrono::{DateTime, Utc};
use diesel::QueryableByName;
use diesel::sql_types::{Bool, Nullable, Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::error::StoreResult;

/// The columns [`SELECT_FOR`] adds for the phone expression it is given.
#[derive(Debug, Clone, Default, QueryableByName)]
pub struct PhoneConsent {
    /// `subscribed` or `opted_out`; `None`: never stated (unknown).
    #[diesel(sql_type = Nullable<Text>)]
    pub consent_state: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub consent_reason: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub consent_source: Option<String>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub consent_changed_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Bool)]
    pub blocked: bool,
}

/// The select-list of [`PhoneConsent`] for the phone expression `{phone}`,
/// read through `LEFT JOIN marketing_consent mc ON mc.phone = {phone}`.
pub fn columns(phone: &str) -> String {
    format!(
        "mc.state AS consent_state, mc.reason AS consent_reason, mc.source AS consent_source, \
         mc.changed_at AS consent_changed_at, \
         EXISTS (SELECT 1 FROM blocklist b WHERE b.phone = {phone}) AS blocked"
    )
}

#[derive(QueryableByName)]
struct PhoneRow {
    #[diesel(sql_type = Text)]
    phone: String,
    #[diesel(embed)]
    consent: PhoneConsent,
}

/// Each phone's state, in one query (a page of conversations).
pub async fn of_phones(
    conn: &mut AsyncPgConnection,
    phones: Vec<String>,
) -> StoreResult<std::collections::HashMap<String, PhoneConsent>> {
    if phones.is_empty() {
        return Ok(std::collections::HashMap::new());
    }
    let rows: Vec<PhoneRow> = diesel::sql_query(format!(
        "SELECT p.phone, {} FROM unnest($1::text[]) AS p(phone) \
         LEFT JOIN marketing_consent mc ON mc.phone = p.phone",
        columns("p.phone")
    ))
    .bind::<diesel::sql_types::Array<Text>, _>(phones)
    .load(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| (row.phone, row.consent))
        .collect())
}
