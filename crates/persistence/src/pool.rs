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
    // `Fast` recycling skips the `SELECT 1` on every checkout (one extra round
    // trip per job, measured by bench/ingest); a dead connection fails its
    // first query instead, and the job or request is retried.
    let mut config = ManagerConfig::default();
    config.recycling_method = RecyclingMethod::Fast;
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
