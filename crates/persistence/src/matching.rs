//! Finding the lead, contact and staff member behind a phone number.

use std::collections::HashMap;

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;
use wacrm_domain::matching::Candidates;

use crate::error::StoreResult;
use crate::schema::{contacts, leads, staff};

/// For each person (given by the spellings of their phone that the domain
/// says are the same person), the oldest lead, contact and active staff
/// member with one of those phones; three queries for everyone.
pub async fn candidates_for(
    conn: &mut AsyncPgConnection,
    people: &[Vec<String>],
) -> StoreResult<Vec<Candidates<Uuid>>> {
    let phones: Vec<&str> = people.iter().flatten().map(String::as_str).collect();
    if phones.is_empty() {
        return Ok(people.iter().map(|_| Candidates::default()).collect());
    }
    let leads: Vec<(Uuid, Option<String>)> = leads::table
        .filter(leads::phone_normalized.eq_any(&phones))
        .select((leads::id, leads::phone_normalized))
        .load(conn)
        .await?;
    let contacts: Vec<(Uuid, Option<String>)> = contacts::table
        .filter(contacts::phone_normalized.eq_any(&phones))
        .select((contacts::id, contacts::phone_normalized))
        .load(conn)
        .await?;
    let staff: Vec<(Uuid, Option<String>)> = staff::table
        .filter(staff::phone_normalized.eq_any(&phones))
        .filter(staff::is_active)
        .select((staff::id, staff::phone_normalized))
        .load(conn)
        .await?;
    let (leads, contacts, staff) = (oldest(leads), oldest(contacts), oldest(staff));
    let first = |by_phone: &HashMap<String, Uuid>, spellings: &[String]| {
        spellings
            .iter()
            .filter_map(|phone| by_phone.get(phone))
            .min()
            .copied()
    };
    Ok(people
        .iter()
        .map(|spellings| Candidates {
            lead: first(&leads, spellings),
            contact: first(&contacts, spellings),
            staff: first(&staff, spellings),
        })
        .collect())
}

/// The oldest id (UUIDv7 ids sort by creation) per phone.
fn oldest(rows: Vec<(Uuid, Option<String>)>) -> HashMap<String, Uuid> {
    let mut by_phone: HashMap<String, Uuid> = HashMap::new();
    for (id, phone) in rows {
        let Some(phone) = phone else { continue };
        by_phone
            .entry(phone)
            .and_modify(|known| *known = (*known).min(id))
            .or_insert(id);
    }
    by_phone
}
