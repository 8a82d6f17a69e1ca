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
    if let Some(timeout) = statement_timeout {
        // Set once per connection, at connect: no round trip per request.
        let set = format!("SET statement_timeout = {}", timeout.as_millis());
        config.custom_setup = Box::new(move |url| {
            let set = set.clone();
            Box::pin(async move {
                use diesel_async::{AsyncConnection as _, RunQueryDsl as _};
                let mut conn = AsyncPgConnection::establish(url).await?;
                diesel::sql_query(set)
                    .execute(&mut conn)
                    .await
                    .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
                Ok(conn)
            })
        });
    }
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
