//! The connection pool every node uses: deadpool over diesel-async, with timeouts
//! so a saturated database turns into a quick error instead of a hung request.

use std::time::Duration;

use diesel_async::AsyncPgConnection;
use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};

use crate::error::{StoreError, StoreResult};

pub type PgPool = Pool<AsyncPgConnection>;
pub type PooledConnection = Object<AsyncPgConnection>;

/// How long PostgreSQL lets a session sit idle inside a transaction before it
/// ends the session. No code of ours waits between two statements of a
/// transaction for anything but the database, so this only ends sessions
/// whose task was stopped mid-transaction (a job attempt aborted at its
/// timeout or when its lease was taken over) and whose connection went back
/// to the pool with the transaction open: their row locks would otherwise
/// stay until the pool hands that connection out again.
pub const IDLE_IN_TRANSACTION_TIMEOUT: Duration = Duration::from_secs(60);

/// Pool of `max_size` connections to `database_url` (a URL or a libpq-style
/// `key=value` string; unix sockets are `host=/dir`).
pub fn connect(database_url: &str, max_size: usize) -> StoreResult<PgPool> {
    connect_with_timeout(database_url, max_size, None)
}

/// [`connect`], every statement on its connections cancelled by PostgreSQL
/// after `statement_timeout` (the API's pool: one slow search must not hold a
/// connection for long, nor can many of them drain the pool).
pub fn connect_with_timeout(
    database_url: &str,
    max_size: usize,
    statement_timeout: Option<Duration>,
) -> StoreResult<PgPool> {
    // `Fast` recycling skips the `SELECT 1` on every checkout (one extra round
    // trip per job, measured by bench/ingest); a dead connection fails its
    // first query instead, and the job or request is retried.
    let mut config = ManagerConfig::default();
    config.recycling_method = RecyclingMethod::Fast;
    let settings = session_settings(statement_timeout);
    config.custom_setup =
        Box::new(move |url| Box::pin(establish_with(url.to_owned(), settings.clone())));
    let manager =
        AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(database_url, config);
    let timeout = Some(Duration::from_secs(5));
    Pool::builder(manager)
        .max_size(max_size)
        .wait_timeout(timeout)
        .create_timeout(timeout)
        .recycle_timeout(timeout)
        .runtime(deadpool::Runtime::Tokio1)
        .build()
        .map_err(|error| StoreError::Pool(error.to_string()))
}

/// A connection of its own (not pooled) to `database_url`, with the settings
/// every pooled connection has.
pub async fn establish(database_url: &str) -> diesel::ConnectionResult<AsyncPgConnection> {
    establish_with(database_url.to_owned(), session_settings(None)).await
}

async fn establish_with(
    url: String,
    settings: String,
) -> diesel::ConnectionResult<AsyncPgConnection> {
    use diesel_async::{AsyncConnection as _, RunQueryDsl as _};
    let mut conn = AsyncPgConnection::establish(&url).await?;
    diesel::sql_query(settings)
        .execute(&mut conn)
        .await
        .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
    Ok(conn)
}

/// The statement that sets up a session, once per connection at connect (no
/// round trip per request).
///
/// JIT compilation is off. PostgreSQL compiles a statement whose estimated
/// cost passes `jit_above_cost`, and every statement here is a short one
/// that runs in milliseconds: the bots' batched history read (a few hundred
/// index lookups, estimated far above the threshold) spent 60-85 ms of its
/// 75-110 ms compiling, on every call (measured with `EXPLAIN ANALYZE` on
/// bench/ingest's backlog). The setting is ours to choose per session, so a
/// server configured otherwise keeps it for its other users.
fn session_settings(statement_timeout: Option<Duration>) -> String {
    let mut settings = format!(
        "SELECT set_config('idle_in_transaction_session_timeout', '{}', false), \
                set_config('jit', 'off', false)",
        IDLE_IN_TRANSACTION_TIMEOUT.as_millis()
    );
    if let Some(timeout) = statement_timeout {
        settings += &format!(
            ", set_config('statement_timeout', '{}', false)",
            timeout.as_millis()
        );
    }
    settings
}
