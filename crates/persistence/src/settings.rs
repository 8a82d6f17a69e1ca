//! Named settings stored as JSON documents; each setting's type owns its defaults.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{StoreError, StoreResult};
use crate::schema::settings;

/// The stored value of `key`, or `T::default()` when none was saved.
pub async fn load<T: DeserializeOwned + Default>(
    conn: &mut AsyncPgConnection,
    key: &str,
) -> StoreResult<T> {
    let stored: Option<serde_json::Value> = settings::table
        .find(key)
        .select(settings::value)
        .first(conn)
        .await
        .optional()?;
    match stored {
        None => Ok(T::default()),
        Some(value) => serde_json::from_value(value)
            .map_err(|error| StoreError::Corrupt(format!("setting {key}: {error}"))),
    }
}

pub async fn save<T: Serialize>(
    conn: &mut AsyncPgConnection,
    key: &str,
    value: &T,
) -> StoreResult<()> {
    let value =
        serde_json::to_value(value).map_err(|error| StoreError::Corrupt(error.to_string()))?;
    diesel::insert_into(settings::table)
        .values((settings::key.eq(key), settings::value.eq(&value)))
        .on_conflict(settings::key)
        .do_update()
        .set((
            settings::value.eq(&value),
            settings::updated_at.eq(chrono::Utc::now()),
        ))
        .execute(conn)
        .await?;
    Ok(())
}
