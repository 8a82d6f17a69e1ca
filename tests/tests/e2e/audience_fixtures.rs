//! Arranging consent and blocklist state for the audience tests. The consent
//! and blocklist endpoints are built alongside; until then the rows they write
//! (`marketing_consent`, `blocklist`, migration 000012 and 000019) are written
//! directly, as the worker would after a STOP.

use diesel_async::RunQueryDsl as _;

use crate::harness::TestApp;

/// `phone` (normalised digits) said `state` (`subscribed` or `opted_out`).
pub async fn set_consent(app: &TestApp, phone: &str, state: &str) {
    let mut db = app.db().await;
    diesel::sql_query(
        "INSERT INTO marketing_consent (phone, state, reason, source, changed_at)
         VALUES ($1, $2, 'STOP', 'test', now())
         ON CONFLICT (phone) DO UPDATE SET state = EXCLUDED.state",
    )
    .bind::<diesel::sql_types::Text, _>(phone)
    .bind::<diesel::sql_types::Text, _>(state)
    .execute(&mut db)
    .await
    .unwrap();
}

/// `phone` (normalised digits) is on the blocklist.
pub async fn block(app: &TestApp, phone: &str) {
    let mut db = app.db().await;
    diesel::sql_query("INSERT INTO blocklist (phone, reason) VALUES ($1, 'abuse')")
        .bind::<diesel::sql_types::Text, _>(phone)
        .execute(&mut db)
        .await
        .unwrap();
}
