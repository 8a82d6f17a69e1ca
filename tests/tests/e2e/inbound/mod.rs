//! Webhooks from each provider, through the HTTP endpoints and the jobs, into
//! the inbox as the API shows it.

mod admin;
mod concurrent;
mod lipachat;
mod media;
mod media_headers;
mod meta;
mod meta_corpus;
mod meta_events;
mod poison;
mod rotation;
mod scoping;
mod stream;
mod tata;
mod whats91;

use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::Sha256;

use crate::harness::{Answer, TestApp};

/// An app with one provider connection and one business number.
pub struct Inbox {
    pub app: TestApp,
    pub admin: String,
    pub connection: Value,
    pub number_id: String,
    /// What the connection was created with: a new base URL needs it again.
    credentials: Value,
}

impl Inbox {
    pub async fn new(provider: &str, credentials: Value, number: Value) -> Self {
        Self::with_app(TestApp::spawn().await, provider, credentials, number).await
    }

    pub async fn with_app(app: TestApp, provider: &str, credentials: Value, number: Value) -> Self {
        let admin = app.admin_token().await;
        let connection = app
            .post(
                "/api/v1/connections",
                &admin,
                json!({"provider": provider, "name": provider, "credentials": &credentials}),
            )
            .await;
        assert_eq!(
            connection.status,
            StatusCode::CREATED,
            "{}",
            connection.body
        );
        let mut number = number;
        number["connection_id"] = connection.body["id"].clone();
        let created = app.post("/api/v1/numbers", &admin, number).await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        Self {
            number_id: created.body["id"].as_str().unwrap().to_owned(),
            connection: connection.body,
            app,
            admin,
            credentials,
        }
    }

    /// Points the connection at `base_url` (a fake provider), with its credentials
    /// again, as a change of host requires.
    pub async fn point_at(&self, base_url: &str) {
        let id = self.connection["id"].as_str().unwrap();
        let patched = self
            .app
            .patch(
                &format!("/api/v1/connections/{id}"),
                &self.admin,
                json!({"base_url": base_url, "credentials": self.credentials}),
            )
            .await;
        assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    }

    /// The webhook path wacrm told us to register (with its token, if any).
    /// Posts `payload` to the connection's webhook URL signed as Meta signs
    /// it: `X-Hub-Signature-256: sha256=<HMAC-SHA256(app secret, body)>`.
    pub async fn post_meta(&self, app_secret: &str, payload: &Value) -> Answer {
        let body = payload.to_string().into_bytes();
        let signature = format!("sha256={}", hmac_hex(app_secret, &body));
        self.app
            .post_raw(
                &self.webhook_path(),
                &body,
                &[("x-hub-signature-256", &signature)],
            )
            .await
    }

    pub fn webhook_path(&self) -> String {
        let url = self.connection["webhook_url"].as_str().unwrap();
        url[url.find("/webhooks/").unwrap()..].to_owned()
    }

    pub async fn conversations(&self, query: &str) -> Vec<Value> {
        let answer = self
            .app
            .get(&format!("/api/v1/conversations{query}"), &self.admin)
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        answer.body["items"].as_array().unwrap().clone()
    }

    /// The one conversation there is, with its messages (newest first).
    pub async fn only_conversation(&self) -> (Value, Vec<Value>) {
        let conversations = self.conversations("").await;
        assert_eq!(conversations.len(), 1, "{conversations:?}");
        let conversation = conversations[0].clone();
        let messages = self
            .app
            .get(
                &format!(
                    "/api/v1/conversations/{}/messages",
                    conversation["id"].as_str().unwrap()
                ),
                &self.admin,
            )
            .await;
        (
            conversation,
            messages.body["items"].as_array().unwrap().clone(),
        )
    }

    pub async fn webhook_events(&self, status: &str) -> Vec<Value> {
        let answer = self
            .app
            .get(
                &format!("/api/v1/admin/webhook-events?status={status}"),
                &self.admin,
            )
            .await;
        answer.body["items"].as_array().unwrap().clone()
    }
}

pub fn hmac_hex(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}
