//! Finding the lead, contact and staff member behind a phone number.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;
use wacrm_domain::matching::Candidates;

use crate::error::StoreResult;
use crate::schema::{contacts, leads, staff};

/// The oldest lead, contact and active staff member whose normalised phone is
/// any of `phones` (the spellings the domain says are the same person).
pub async fn candidates(
    conn: &mut AsyncPgConnection,
    phones: &[String],
) -> StoreResult<Candidates<Uuid>> {
    let lead = leads::table
        .filter(leads::phone_normalized.eq_any(phones))
        .order(leads::id)
        .select(leads::id)
        .first(conn)
        .await
        .optional()?;
    let contact = contacts::table
        .filter(contacts::phone_normalized.eq_any(phones))
        .order(contacts::id)
        .select(contacts::id)
        .first(conn)
        .await
        .optional()?;
    let staff = staff::table
        .filter(staff::phone_normalized.eq_any(phones))
        .filter(staff::is_active)
        .order(staff::id)
        .select(staff::id)
        .first(conn)
        .await
        .optional()?;
    Ok(Candidates {
        lead,
        contact,
        staff,
    })
}
