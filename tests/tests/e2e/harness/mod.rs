//! The end-to-end harness: the real application (the same builder `main`
//! uses) on a random port, over its own fresh database.
//!
//! Background jobs do not run by themselves here: a test calls
//! [`TestApp::run_jobs`] to process everything queued, so it can look at the
//! state before and after. Provider APIs are played by [`fake_provider`].

pub mod database;
pub mod eventually;
pub mod fake_provider;
pub mod stream;

pub use eventually::eventually;
pub use stream::read_stream_until;

use base64::Engine as _;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use wacrm_api::{Application, Config};

pub use database::TestDatabase;

pub const ADMIN_EMAIL: &str = "admin@example.com";
pub const ADMIN_PASSWORD: &str = "admin-password";
pub const JWT_SECRET: &str = "test-jwt-secret";

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    handle: actix_web::dev::ServerHandle,
    worker_context: wacrm_worker::WorkerContext,
    clock: wacrm_domain::Clock,
    // Declared last: dropped after the server is told to stop.
    _data_dir: tempfile::TempDir,
    _database: TestDatabase,
}

/// A response as a test looks at it.
pub struct Answer {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Answer {
    /// The problem `code`, asserting the body is `application/problem+json`.
    pub fn problem_code(&self) -> &str {
        let content_type = self
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        assert_eq!(
            content_type, "application/problem+json",
            "body: {}",
            self.body
        );
        self.body["code"].as_str().unwrap_or_default()
    }
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(&[]).await
    }

    /// Starts the app with extra environment settings on top of the test defaults.
    pub async fn spawn_with(extra: &[(&str, &str)]) -> Self {
        let database = TestDatabase::create().await;
        let data_dir = tempfile::tempdir().expect("data dir");
        let master_key = base64::engine::general_purpose::STANDARD.encode([42u8; 32]);
        let mut vars: Vec<(String, String)> = [
            ("DATABASE_URL", database.url.as_str()),
            ("WACRM_LISTEN", "127.0.0.1:0"),
            (
                "WACRM_DATA_DIR",
                data_dir.path().to_str().expect("utf-8 path"),
            ),
            ("WACRM_MASTER_KEY", master_key.as_str()),
            ("WACRM_JWT_SECRET", JWT_SECRET),
            ("WACRM_ADMIN_EMAIL", ADMIN_EMAIL),
            ("WACRM_ADMIN_PASSWORD", ADMIN_PASSWORD),
            ("WACRM_HTTP_WORKERS", "1"),
            ("WACRM_DB_POOL_SIZE", "4"),
            ("WACRM_RUN_WORKERS", "false"),
            // Fake providers listen on 127.0.0.1; tests of the egress guard
            // turn this off again.
            ("WACRM_ALLOW_PRIVATE_TARGETS", "true"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let config = Config::from_vars(|name| {
            vars.iter()
                .rev()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        })
        .expect("config");
        let clock = wacrm_domain::Clock::adjustable();
        let app = Application::build_with_clock(config, clock.clone())
            .await
            .expect("building the app");
        let address = format!("http://127.0.0.1:{}", app.port());
        let handle = app.handle();
        let worker_context = app.worker_context();
        tokio::spawn(app.run_until_stopped());
        Self {
            address,
            client: reqwest::Client::new(),
            handle,
            worker_context,
            clock,
            _data_dir: data_dir,
            _database: database,
        }
    }

    /// The app's clock (API and workers): move it forward to make schedules,
    /// retries and reminders fall due without waiting.
    pub fn clock(&self) -> &wacrm_domain::Clock {
        &self.clock
    }

    /// A connection to this test's own database, for arranging state that no
    /// endpoint creates yet.
    pub async fn db(&self) -> wacrm_persistence::AsyncPgConnection {
        use diesel_async::AsyncConnection as _;
        wacrm_persistence::AsyncPgConnection::establish(&self._database.url)
            .await
            .expect("connecting")
    }

    /// Waits (up to 10 s) until a session of this test's database LISTENs on
    /// `channel`: a NOTIFY sent before that is lost.
    pub async fn listening_on(&self, channel: &str) {
        listening_on(&self._database.url, channel, true).await;
    }

    /// Runs every job that is due, as the workers would; returns how many ran.
    pub async fn run_jobs(&self) -> usize {
        self.run_jobs_with(self.runner()).await
    }

    /// Runs only the queued webhook-processing jobs, leaving every other job
    /// queued: e.g. a status processed before the delivery that records the
    /// id it names.
    pub async fn run_webhook_jobs_only(&self) {
        use wacrm_worker::Job as _;
        use wacrm_worker::jobs::ProcessWebhooks;
        let mut db = self.db().await;
        let taken = wacrm_persistence::jobs::take_queued(&mut db, ProcessWebhooks::KIND, 1000)
            .await
            .expect("taking the webhook jobs");
        for payload in taken {
            let job: ProcessWebhooks = serde_json::from_value(payload).expect("a webhook job");
            job.run(&self.worker_context)
                .await
                .expect("processing webhooks");
        }
    }

    /// The runner the workers use, to be adjusted (e.g. fewer slots).
    pub fn runner(&self) -> wacrm_worker::Runner<wacrm_worker::WorkerContext> {
        wacrm_worker::jobs::runner(self.worker_context.clone())
    }

    /// A worker node of its own: the workers' runner over a pool of its own
    /// connections, and the node's connections, to kill it with.
    pub fn worker_node(
        &self,
    ) -> (
        wacrm_worker::Runner<wacrm_worker::WorkerContext>,
        NodeConnections,
    ) {
        let name = format!("wacrm-node-{}", uuid::Uuid::now_v7().simple());
        let url = database::with_parameter(&self._database.url, "application_name", &name);
        let pool = wacrm_persistence::pool::connect(&url, 8).expect("a pool");
        let mut context = self.worker_context.clone();
        context.pool = pool.clone();
        // Its own pacer, as another process has: the nodes share a number's
        // rate through the database alone.
        context.pacer = wacrm_worker::pacer::Pacer::new(pool.clone());
        let connections = NodeConnections {
            pool,
            name,
            database_url: self._database.url.clone(),
        };
        (wacrm_worker::jobs::runner(context), connections)
    }

    /// A pool of `size` connections of its own to the app's database.
    pub fn pool(&self, size: usize) -> wacrm_persistence::PgPool {
        wacrm_persistence::pool::connect(&self._database.url, size).expect("a pool")
    }

    /// Runs every job that is due with `runner`; returns how many ran.
    pub async fn run_jobs_with(
        &self,
        runner: wacrm_worker::Runner<wacrm_worker::WorkerContext>,
    ) -> usize {
        runner.run_until_idle().await.expect("running jobs")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// Sends `body` (if any) as JSON with an optional bearer token.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let mut request = self.client.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        Self::answer(request.send().await.expect("request")).await
    }

    pub async fn answer(response: reqwest::Response) -> Answer {
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("body");
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
        Answer {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str, token: &str) -> Answer {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Answer {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Answer {
        self.call(Method::PATCH, path, Some(token), Some(body))
            .await
    }

    /// POSTs raw bytes as a provider would, with the given extra headers.
    pub async fn post_raw(&self, path: &str, body: &[u8], headers: &[(&str, &str)]) -> Answer {
        let mut request = self
            .client
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(body.to_vec());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        Self::answer(request.send().await.expect("request")).await
    }

    pub async fn delete(&self, path: &str, token: &str) -> Answer {
        self.call(Method::DELETE, path, Some(token), None).await
    }

    /// Logs in and returns the whole token answer.
    pub async fn login(&self, email: &str, password: &str) -> Answer {
        self.call(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"email": email, "password": password})),
        )
        .await
    }

    pub async fn admin_token(&self) -> String {
        let answer = self.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        answer.body["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned()
    }

    /// Creates a staff member holding exactly `permissions`; returns (id, access token).
    pub async fn staff_with(&self, permissions: &[&str]) -> (String, String) {
        let admin = self.admin_token().await;
        let email = format!("agent-{}@example.com", uuid::Uuid::now_v7().simple());
        let created = self
            .post(
                "/api/v1/staff",
                &admin,
                json!({"name": "Agent", "email": email, "password": "agent-password", "permissions": permissions}),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        let login = self.login(&email, "agent-password").await;
        assert_eq!(login.status, StatusCode::OK, "{}", login.body);
        (
            created.body["id"].as_str().expect("id").to_owned(),
            login.body["access_token"]
                .as_str()
                .expect("token")
                .to_owned(),
        )
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Stop accepting work; the database is dropped (FORCE) right after.
        drop(self.handle.stop(false));
    }
}

/// Waits (up to 10 s) until some session of the database at `url` LISTENs on
/// `channel` (`listening`), or until none does (`!listening`).
pub async fn listening_on(url: &str, channel: &str, listening: bool) {
    use diesel::sql_types::{BigInt, Text};
    use diesel_async::{AsyncConnection as _, RunQueryDsl as _};

    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        count: i64,
    }
    let mut conn = wacrm_persistence::AsyncPgConnection::establish(url)
        .await
        .expect("connecting");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let found: Count = diesel::sql_query(
            "SELECT count(*) AS count FROM pg_stat_activity
             WHERE datname = current_database() AND query = 'LISTEN ' || $1",
        )
        .bind::<Text, _>(channel)
        .get_result(&mut conn)
        .await
        .expect("reading pg_stat_activity");
        if (found.count > 0) == listening {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "gave up waiting for LISTEN {channel} to be {}",
            if listening { "there" } else { "gone" }
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// A worker node's database connections (see [`TestApp::worker_node`]).
pub struct NodeConnections {
    pool: wacrm_persistence::PgPool,
    /// Every connection of the node says so as its `application_name`.
    name: String,
    database_url: String,
}

impl NodeConnections {
    /// What `kill -9` does to the node's connections once its tasks are
    /// aborted: the operating system closes its sockets, so PostgreSQL ends
    /// every session of the node and rolls back what they had begun. (Closing
    /// the pool is not enough: a connection handed back to a closed pool may
    /// stay open, holding its transaction's locks.)
    pub async fn kill(self) {
        use diesel_async::{AsyncConnection as _, RunQueryDsl as _};
        self.pool.close();
        let mut db = wacrm_persistence::AsyncPgConnection::establish(&self.database_url)
            .await
            .expect("connecting");
        diesel::sql_query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
        )
        .bind::<diesel::sql_types::Text, _>(&self.name)
        .execute(&mut db)
        .await
        .expect("ending the node's sessions");
    }
}
