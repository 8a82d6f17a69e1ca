//! Every real Meta webhook example we could collect (Meta's documentation and the
//! test data of public SDKs: pywa, netflie/whatsapp-cloud-api, whatsapp-api-js; see
//! `tests/fixtures/meta/README.md`), posted signed to the server and processed: no
//! event fails, every inbound message shows in the inbox with its content, and every
//! status is applied or kept in the history.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{Inbox, hmac_hex};
use crate::harness::TestApp;

const APP_SECRET: &str = "meta-app-secret";

fn fixtures() -> Vec<(String, Value)> {
    fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, found);
            } else if path.extension().is_some_and(|ext| ext == "json") {
                found.push(path);
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/meta");
    let mut paths = Vec::new();
    walk(&root, &mut paths);
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let name = path.strip_prefix(&root).unwrap().display().to_string();
            let body = serde_json::from_slice(&std::fs::read(&path).unwrap())
                .unwrap_or_else(|error| panic!("{name}: {error}"));
            (name, body)
        })
        .collect()
}

/// Each change's `(field, value)` for the given field.
fn values<'a>(body: &'a Value, field: &'a str) -> impl Iterator<Item = (&'a str, &'a Value)> {
    list(body, "entry")
        .iter()
        .flat_map(|entry| list(entry, "changes"))
        .filter(move |change| change["field"] == field)
        .map(move |change| (field, &change["value"]))
}

fn list<'a>(value: &'a Value, key: &str) -> &'a [Value] {
    value
        .get(key)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// The ids under which a body's messages (and Business app echoes) must be found:
/// its own id, or for an edit, the edit's id when the original is not ours. A revoke
/// has nothing to show.
fn expected_messages(body: &Value) -> Vec<String> {
    let messages = values(body, "messages").flat_map(|(_, value)| list(value, "messages"));
    let echoes =
        values(body, "smb_message_echoes").flat_map(|(_, value)| list(value, "message_echoes"));
    messages
        .chain(echoes)
        .filter(|message| message["type"] != "revoke" && message.get("from").is_some())
        .filter_map(|message| message["id"].as_str().map(str::to_owned))
        .collect()
}

fn expected_statuses(body: &Value) -> Vec<String> {
    values(body, "messages")
        .flat_map(|(_, value)| list(value, "statuses"))
        .filter(|status| {
            let name = status["status"].as_str().unwrap_or_default();
            ["sent", "delivered", "read", "failed", "played", "deleted"]
                .contains(&name.to_ascii_lowercase().as_str())
        })
        .filter_map(|status| status["id"].as_str().map(str::to_owned))
        .collect()
}

async fn all_messages(inbox: &Inbox) -> HashMap<String, Value> {
    let mut found = HashMap::new();
    for conversation in inbox.conversations("?limit=200").await {
        let id = conversation["id"].as_str().unwrap();
        let answer = inbox
            .app
            .get(
                &format!("/api/v1/conversations/{id}/messages?limit=200"),
                &inbox.admin,
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        for message in answer.body["items"].as_array().unwrap() {
            if let Some(wamid) = message["provider_message_id"].as_str() {
                found.insert(wamid.to_owned(), message.clone());
            }
        }
    }
    found
}

#[tokio::test]
async fn every_published_meta_example_is_processed_and_shows_in_the_inbox() {
    let corpus = fixtures();
    assert!(corpus.len() >= 100, "only {} examples", corpus.len());
    let inbox = Inbox::with_app(
        TestApp::spawn().await,
        "meta",
        json!({"access_token": "EAAG-test-token", "app_secret": APP_SECRET, "verify_token": "verify-me", "waba_id": "102290129340398"}),
        json!({"phone": "+1 555 078 3881", "provider_number_id": "106540352242922", "is_default": true}),
    )
    .await;

    // A business number for every phone number id the examples name.
    let mut number_ids = BTreeMap::new();
    for (_, body) in &corpus {
        for field in ["messages", "smb_message_echoes", "user_preferences"] {
            for (_, value) in values(body, field) {
                if let Some(id) = value["metadata"]["phone_number_id"].as_str() {
                    number_ids.insert(id.to_owned(), ());
                }
            }
        }
    }
    number_ids.remove("106540352242922");
    for (index, id) in number_ids.keys().enumerate() {
        let created = inbox
            .app
            .post(
                "/api/v1/numbers",
                &inbox.admin,
                json!({"connection_id": inbox.connection["id"], "phone": format!("+1202555{index:04}"), "provider_number_id": id}),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    }

    for (name, body) in &corpus {
        let bytes = serde_json::to_vec(body).unwrap();
        let signature = format!("sha256={}", hmac_hex(APP_SECRET, &bytes));
        let answer = inbox
            .app
            .post_raw(
                &inbox.webhook_path(),
                &bytes,
                &[("x-hub-signature-256", &signature)],
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{name}: {}", answer.body);
        inbox.app.run_jobs().await;
    }

    // No event failed.
    let failed = inbox.webhook_events("failed").await;
    let unexpected: Vec<String> = failed
        .iter()
        .map(|event| format!("{}: {}", event["body"], event["error"]))
        .collect();
    assert!(
        unexpected.is_empty(),
        "failed events:\n{}",
        unexpected.join("\n")
    );
    assert!(inbox.webhook_events("pending").await.is_empty());

    // Every message is in the inbox with something to show.
    let shown = all_messages(&inbox).await;
    let mut missing = Vec::new();
    for (name, body) in &corpus {
        for wamid in expected_messages(body) {
            match shown.get(&wamid) {
                Some(message)
                    if !message["body"]
                        .as_str()
                        .unwrap_or_default()
                        .trim()
                        .is_empty()
                        || !message["media"].is_null() => {}
                Some(message) => missing.push(format!("{name}: {wamid} is empty: {message}")),
                None => missing.push(format!("{name}: {wamid} is not in the inbox")),
            }
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));

    // Every status is applied to its message, or kept in the history when the
    // message is not one of ours.
    use wacrm_persistence::schema::message_status_events as events;
    let mut db = inbox.app.db().await;
    let recorded: Vec<String> = events::table
        .select(events::provider_message_id)
        .load(&mut db)
        .await
        .unwrap();
    for (name, body) in &corpus {
        for wamid in expected_statuses(body) {
            assert!(
                recorded.contains(&wamid),
                "{name}: the status of {wamid} was lost"
            );
        }
    }
}
