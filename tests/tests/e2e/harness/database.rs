//! One PostgreSQL database per test, cloned from a template migrated once per
//! run (the crates.io `test_db` pattern). The server is `DATABASE_URL` when set,
//! else an embedded cluster started once per run and stopped when the run ends.
//! Databases left by crashed runs (their process is gone) are swept at start.

use std::sync::atomic::{AtomicUsize, Ordering};

use diesel::sql_types::Text;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use tokio::sync::OnceCell;
use wacrm_persistence::embedded::EmbeddedPostgres;
use wacrm_persistence::migrate;

const PREFIX: &str = "wacrm_t";

struct Server {
    /// Connection string of a maintenance database on the server.
    admin_url: String,
    template: String,
    _cluster: Option<(
        EmbeddedPostgres,
        std::process::ChildStdin,
        tempfile::TempDir,
    )>,
}

static SERVER: OnceCell<Server> = OnceCell::const_new();
static NEXT: AtomicUsize = AtomicUsize::new(0);

/// A fresh, migrated database for one test; dropped with this value.
pub struct TestDatabase {
    pub url: String,
    name: String,
}

impl TestDatabase {
    pub async fn create() -> Self {
        let server = SERVER.get_or_init(start_server).await;
        let name = format!(
            "{PREFIX}{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        execute(
            &server.admin_url,
            &format!(
                "CREATE DATABASE \"{name}\" TEMPLATE \"{}\"",
                server.template
            ),
        )
        .await;
        Self {
            url: database_url(&server.admin_url, &name),
            name,
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some(server) = SERVER.get() else { return };
        let (admin_url, name) = (server.admin_url.clone(), self.name.clone());
        // Drop runs inside the test's runtime, which cannot be blocked on: use
        // a thread with its own. FORCE ends the app's pooled connections.
        let dropper = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime")
                .block_on(execute(
                    &admin_url,
                    &format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
                ));
        });
        let _ = dropper.join();
    }
}

async fn start_server() -> Server {
    let (admin_url, cluster) = match std::env::var("DATABASE_URL") {
        Ok(url) if !url.is_empty() => (url, None),
        _ => {
            let dir = tempfile::Builder::new()
                .prefix("wacrm-test-pg")
                .tempdir()
                .expect("tempdir");
            // The cluster may run as another user (PostgreSQL refuses root).
            let traversable = std::os::unix::fs::PermissionsExt::from_mode(0o755);
            std::fs::set_permissions(dir.path(), traversable).expect("chmod");
            let cluster = EmbeddedPostgres::start(dir.path(), "postgres")
                .await
                .expect("embedded PostgreSQL");
            let watchdog = cluster.stop_on_exit().expect("watchdog");
            (
                cluster.database_url("postgres"),
                Some((cluster, watchdog, dir)),
            )
        }
    };
    sweep_leftovers(&admin_url).await;
    let template = format!("{PREFIX}{}_template", std::process::id());
    execute(&admin_url, &format!("CREATE DATABASE \"{template}\"")).await;
    migrate::run_pending(&database_url(&admin_url, &template))
        .await
        .expect("migrating the template");
    Server {
        admin_url,
        template,
        _cluster: cluster,
    }
}

/// Drops test databases whose creating process no longer exists.
async fn sweep_leftovers(admin_url: &str) {
    #[derive(diesel::QueryableByName)]
    struct Name {
        #[diesel(sql_type = Text)]
        datname: String,
    }
    let mut conn = AsyncPgConnection::establish(admin_url)
        .await
        .expect("connecting");
    let names: Vec<Name> =
        diesel::sql_query("SELECT datname FROM pg_database WHERE datname LIKE 'wacrm\\_t%'")
            .load(&mut conn)
            .await
            .expect("listing databases");
    for Name { datname } in names {
        let pid = datname[PREFIX.len()..]
            .split('_')
            .next()
            .unwrap_or_default();
        if !pid.is_empty() && !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            let _ = diesel::sql_query(format!(
                "DROP DATABASE IF EXISTS \"{datname}\" WITH (FORCE)"
            ))
            .execute(&mut conn)
            .await;
        }
    }
}

async fn execute(admin_url: &str, sql: &str) {
    let mut conn = AsyncPgConnection::establish(admin_url)
        .await
        .expect("connecting to the admin database");
    diesel::sql_query(sql)
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// The same server, another database: URL or `key=value` form.
fn database_url(base: &str, database: &str) -> String {
    with_parameter(base, "dbname", database)
}

/// `base` with a connection parameter set, in its own form: a URL (the
/// database as its path, anything else in the query) or `key=value` pairs.
pub fn with_parameter(base: &str, key: &str, value: &str) -> String {
    match url::Url::parse(base) {
        Ok(mut url) if url.scheme().starts_with("postgres") => {
            if key == "dbname" {
                url.set_path(value);
            } else {
                url.query_pairs_mut().append_pair(key, value);
            }
            url.to_string()
        }
        _ => format!("{base} {key}='{value}'"),
    }
}
