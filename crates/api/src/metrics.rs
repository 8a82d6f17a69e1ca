//! Prometheus metrics: requests by route and status and their latency (from
//! actix-web-prom's middleware) and the database pool's gauges, read at scrape time.

use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{IntGauge, Opts, Registry};
use wacrm_persistence::PgPool;

pub fn registry(pool: PgPool) -> anyhow::Result<Registry> {
    let registry = Registry::new();
    registry.register(Box::new(PoolCollector::new(pool)?))?;
    Ok(registry)
}

struct PoolCollector {
    pool: PgPool,
    size: IntGauge,
    available: IntGauge,
    waiting: IntGauge,
    max_size: IntGauge,
}

impl PoolCollector {
    fn new(pool: PgPool) -> prometheus::Result<Self> {
        let gauge =
            |name: &str, help: &str| IntGauge::with_opts(Opts::new(name, help).namespace("wacrm"));
        Ok(Self {
            pool,
            size: gauge("db_pool_connections", "connections open in the pool")?,
            available: gauge("db_pool_idle_connections", "open connections not in use")?,
            waiting: gauge("db_pool_waiting", "requests waiting for a connection")?,
            max_size: gauge("db_pool_max_connections", "the pool's limit")?,
        })
    }

    fn gauges(&self) -> [&IntGauge; 4] {
        [&self.size, &self.available, &self.waiting, &self.max_size]
    }
}

impl Collector for PoolCollector {
    fn desc(&self) -> Vec<&Desc> {
        self.gauges()
            .into_iter()
            .flat_map(|gauge| gauge.desc())
            .collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let status = self.pool.status();
        let as_i64 = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        self.size.set(as_i64(status.size));
        self.available.set(as_i64(status.available));
        self.waiting.set(as_i64(status.waiting));
        self.max_size.set(as_i64(status.max_size));
        self.gauges()
            .into_iter()
            .flat_map(|gauge| gauge.collect())
            .collect()
    }
}
