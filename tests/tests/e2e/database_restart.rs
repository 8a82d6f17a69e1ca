//! PostgreSQL restarts under a running service taking webhooks: readiness and
//! processing come back by themselves (pooled connections recycled, the job
//! listener reconnected), and every webhook acknowledged is processed.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use diesel::sql_types::Text;
use diesel_async::{AsyncConnection as _, AsyncPgConnection};
use reqwest::StatusCode;
use serde_json::json;
use wacrm_persistence::embedded::EmbeddedPostgres;

use crate::harness::{TestApp, eventually};
use crate::inbound::Inbox;

/// Posts Lipachat webhooks one after another until stopped, keeping the ids
/// of those acknowledged (200) and counting the others.
#[derive(Clone, Default)]
struct Load {
    acknowledged: Arc<Mutex<Vec<String>>>,
    refused: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl Load {
    fn acknowledged(&self) -> usize {
        self.acknowledged.lock().unwrap().len()
    }

    async fn run(self, client: reqwest::Client, url: String) {
        let mut sequence = 0;
        while !self.stop.load(Ordering::SeqCst) {
            sequence += 1;
            let id = uuid::Uuid::now_v7().to_string();
            // Lipachat's inbound message (docs.lipachat.com/crm-workflow).
            let body = json!({
                "messageId": id,
                "from": format!("2547{:08}", sequence % 50),
                "to": "254110090747",
                "profileName": "Load",
                "type": "TEXT",
                "text": format!("message {sequence}")
            });
            let answer = client
                .post(&url)
                .header("content-type", "application/json")
                .body(body.to_string())
                .timeout(Duration::from_secs(10))
                .send()
                .await;
            match answer {
                Ok(answer) if answer.status() == StatusCode::OK => {
                    self.acknowledged.lock().unwrap().push(id);
                }
                _ => {
                    self.refused.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
    }
}

#[derive(diesel::QueryableByName)]
struct Stored {
    #[diesel(sql_type = Text)]
    provider_message_id: String,
}

/// How many of `acknowledged` are not stored as messages.
async fn unprocessed(url: &str, acknowledged: &HashSet<String>) -> usize {
    use diesel_async::RunQueryDsl as _;

    let mut db = AsyncPgConnection::establish(url).await.unwrap();
    let stored: Vec<Stored> =
        diesel::sql_query("SELECT provider_message_id FROM messages WHERE direction = 'inbound'")
            .load(&mut db)
            .await
            .unwrap();
    let stored: HashSet<String> = stored
        .into_iter()
        .map(|row| row.provider_message_id)
        .collect();
    acknowledged.difference(&stored).count()
}

#[tokio::test]
async fn readiness_and_processing_come_back_after_a_database_restart_and_nothing_is_lost() {
    let root = tempfile::tempdir().unwrap();
    std::fs::set_permissions(
        root.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let cluster = EmbeddedPostgres::start(root.path(), "wacrm").await.unwrap();
    // Stops the cluster if this test dies before it does.
    let _watchdog = cluster.stop_on_exit().unwrap();
    let url = cluster.database_url("wacrm");
    let app = TestApp::spawn_with(&[
        ("DATABASE_URL", url.as_str()),
        ("WACRM_RUN_WORKERS", "true"),
        ("WACRM_DB_POOL_SIZE", "8"),
    ])
    .await;
    let inbox = Inbox::with_app(
        app,
        "lipachat",
        json!({"api_key": "lipa-key"}),
        json!({"phone": "254110090747", "is_default": true}),
    )
    .await;
    let load = Load::default();
    let running = tokio::spawn(load.clone().run(
        inbox.app.client.clone(),
        inbox.app.url(&inbox.webhook_path()),
    ));
    eventually(
        "webhooks are acknowledged",
        Duration::from_secs(30),
        || async { load.acknowledged() >= 20 },
    )
    .await;

    cluster.stop().await.unwrap();
    eventually(
        "webhooks are refused while the database is down",
        Duration::from_secs(30),
        || async { load.refused.load(Ordering::SeqCst) > 0 },
    )
    .await;
    let down = inbox
        .app
        .client
        .get(inbox.app.url("/readyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(down.status(), StatusCode::SERVICE_UNAVAILABLE);

    let cluster = EmbeddedPostgres::start(root.path(), "wacrm").await.unwrap();
    let before = load.acknowledged();
    eventually(
        "/readyz answers 200 again",
        Duration::from_secs(30),
        || async {
            let ready = inbox.app.client.get(inbox.app.url("/readyz")).send().await;
            ready.is_ok_and(|ready| ready.status() == StatusCode::OK)
        },
    )
    .await;
    eventually(
        "webhooks are acknowledged again",
        Duration::from_secs(30),
        || async { load.acknowledged() >= before + 20 },
    )
    .await;
    load.stop.store(true, Ordering::SeqCst);
    running.await.unwrap();

    // Every acknowledged webhook ends as a message, with nobody's help.
    let acknowledged: HashSet<String> = load.acknowledged.lock().unwrap().iter().cloned().collect();
    eventually(
        "every acknowledged webhook is processed",
        Duration::from_secs(30),
        || async { unprocessed(&url, &acknowledged).await == 0 },
    )
    .await;
    assert!(inbox.webhook_events("pending").await.is_empty());
    drop(inbox);
    cluster.stop().await.unwrap();
}
