//! Embedded migrations, applied at start under an advisory lock so that many
//! nodes starting at once apply each migration exactly once.

use std::collections::BTreeSet;

use diesel::migration::MigrationSource;
use diesel::pg::Pg;
use diesel::sql_types::BigInt;
use diesel::{Connection, sql_query};
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::error::{StoreError, StoreResult};

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations");

/// Arbitrary but fixed: the advisory lock id all wacrm nodes agree on.
const MIGRATION_LOCK: i64 = 0x7761_6372_6d00_0001;

/// Applies pending migrations; a no-op (without taking the lock) when none are.
pub async fn run_pending(database_url: &str) -> StoreResult<usize> {
    let url = database_url.to_owned();
    // diesel_migrations is synchronous: run it on a blocking thread through the
    // async connection wrapper (no libpq needed).
    tokio::task::spawn_blocking(move || -> StoreResult<usize> {
        let mut conn = AsyncConnectionWrapper::<AsyncPgConnection>::establish(&url)
            .map_err(|error| StoreError::Migration(error.to_string()))?;
        let failed = |error: Box<dyn std::error::Error + Send + Sync>| {
            StoreError::Migration(error.to_string())
        };
        if !conn.has_pending_migration(MIGRATIONS).map_err(failed)? {
            return Ok(0);
        }
        let lock = sql_query("SELECT pg_advisory_lock($1)").bind::<BigInt, _>(MIGRATION_LOCK);
        diesel::RunQueryDsl::execute(lock, &mut conn)?;
        let applied = conn
            .run_pending_migrations(MIGRATIONS)
            .map(|done| done.len());
        let unlock = sql_query("SELECT pg_advisory_unlock($1)").bind::<BigInt, _>(MIGRATION_LOCK);
        diesel::RunQueryDsl::execute(unlock, &mut conn)?;
        applied.map_err(failed)
    })
    .await
    .map_err(|error| StoreError::Migration(error.to_string()))?
}

#[derive(diesel::QueryableByName)]
struct AppliedVersion {
    #[diesel(sql_type = diesel::sql_types::Text)]
    version: String,
}

/// True when every embedded migration is recorded as applied.
pub async fn all_applied(conn: &mut AsyncPgConnection) -> StoreResult<bool> {
    let embedded: BTreeSet<String> = MigrationSource::<Pg>::migrations(&MIGRATIONS)
        .map_err(|error| StoreError::Migration(error.to_string()))?
        .iter()
        .map(|migration| migration.name().version().to_string())
        .collect();
    let applied: BTreeSet<String> = sql_query("SELECT version FROM __diesel_schema_migrations")
        .load::<AppliedVersion>(conn)
        .await?
        .into_iter()
        .map(|row| row.version)
        .collect();
    Ok(embedded.is_subset(&applied))
}
