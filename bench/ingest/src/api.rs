//! The few admin calls the benchmark makes: log in, create a Meta connection
//! and a number, and read the job queue and the webhook events.

use std::sync::Mutex;

use anyhow::{Context as _, anyhow, bail};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// An admin session against one wacrm.
pub struct Api {
    client: reqwest::Client,
    base: String,
    email: String,
    password: String,
    token: Mutex<String>,
}

/// The Meta connection and number the webhooks are addressed to.
pub struct Inbox {
    pub connection_id: String,
    /// `/webhooks/meta/{id}`, from the connection's `webhook_url`.
    pub webhook_path: String,
    pub number_id: String,
}

impl Api {
    pub async fn login(base: &str, email: &str, password: &str) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .no_proxy()
            .http1_only()
            .timeout(std::time::Duration::from_secs(60))
            .build()?;
        let api = Self {
            client,
            base: base.trim_end_matches('/').to_owned(),
            email: email.to_owned(),
            password: password.to_owned(),
            token: Mutex::new(String::new()),
        };
        api.refresh_token().await?;
        Ok(api)
    }

    async fn refresh_token(&self) -> anyhow::Result<()> {
        let (status, body) = self
            .send(
                Method::POST,
                "/api/v1/auth/login",
                Some(json!({"email": self.email, "password": self.password})),
                false,
            )
            .await?;
        if status != StatusCode::OK {
            bail!("POST /api/v1/auth/login answered {status}: {body}");
        }
        let token = body["access_token"]
            .as_str()
            .ok_or_else(|| anyhow!("the login answer has no access_token: {body}"))?;
        *self
            .token
            .lock()
            .map_err(|_| anyhow!("token lock poisoned"))? = token.to_owned();
        Ok(())
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        auth: bool,
    ) -> anyhow::Result<(StatusCode, Value)> {
        let mut request = self
            .client
            .request(method.clone(), format!("{}{path}", self.base));
        if auth {
            let token = self
                .token
                .lock()
                .map_err(|_| anyhow!("token lock poisoned"))?
                .clone();
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("{method} {path}"))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .with_context(|| format!("{method} {path}: reading the body"))?;
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        Ok((status, body))
    }

    /// An authenticated call; logs in again once if the token has expired.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<(StatusCode, Value)> {
        let answer = self.send(method.clone(), path, body.clone(), true).await?;
        if answer.0 == StatusCode::UNAUTHORIZED {
            self.refresh_token().await?;
            return self.send(method, path, body, true).await;
        }
        Ok(answer)
    }

    /// GET expecting 200; anything else is an error naming the request.
    pub async fn get(&self, path: &str) -> anyhow::Result<Value> {
        let (status, body) = self.call(Method::GET, path, None).await?;
        if status != StatusCode::OK {
            bail!("GET {path} answered {status}: {body}");
        }
        Ok(body)
    }

    /// POST expecting 201.
    async fn create(&self, path: &str, body: Value) -> anyhow::Result<Value> {
        let (status, answer) = self.call(Method::POST, path, Some(body.clone())).await?;
        if status != StatusCode::CREATED {
            bail!("POST {path} {body} answered {status}: {answer}");
        }
        Ok(answer)
    }

    /// A Meta connection with `app_secret`, and a default number whose
    /// `provider_number_id` is `phone_number_id`.
    pub async fn create_meta_inbox(
        &self,
        name: &str,
        app_secret: &str,
        waba_id: &str,
        phone_number_id: &str,
    ) -> anyhow::Result<Inbox> {
        let connection = self
            .create(
                "/api/v1/connections",
                json!({
                    "provider": "meta",
                    "name": name,
                    "credentials": {
                        "access_token": "EAAG-bench-token",
                        "app_secret": app_secret,
                        "verify_token": "bench-verify",
                        "waba_id": waba_id,
                    }
                }),
            )
            .await?;
        let connection_id = string_field(&connection, "id")?;
        let webhook_url = string_field(&connection, "webhook_url")?;
        let webhook_path = webhook_url
            .find("/webhooks/")
            .map(|at| webhook_url[at..].to_owned())
            .ok_or_else(|| anyhow!("webhook_url {webhook_url} has no /webhooks/ path"))?;
        let number = self
            .create(
                "/api/v1/numbers",
                json!({
                    "connection_id": connection_id,
                    "phone": "+1 555 010 0999",
                    "provider_number_id": phone_number_id,
                    "is_default": true,
                }),
            )
            .await?;
        Ok(Inbox {
            connection_id,
            webhook_path,
            number_id: string_field(&number, "id")?,
        })
    }

    /// An active bot whose keyword no benchmark message contains: it is
    /// evaluated for every message and never answers.
    pub async fn create_idle_bot(&self, name: &str) -> anyhow::Result<()> {
        self.create(
            "/api/v1/bots",
            json!({
                "name": name,
                "trigger": {"type": "keyword", "keywords": ["zzz-never-sent"]},
                "response": {"type": "text", "text": "unused"},
            }),
        )
        .await?;
        Ok(())
    }

    /// The first page's items of a list endpoint.
    pub async fn items(&self, path: &str) -> anyhow::Result<Vec<Value>> {
        let body = self.get(path).await?;
        body["items"]
            .as_array()
            .cloned()
            .ok_or_else(|| anyhow!("GET {path}: no items in {body}"))
    }

    /// Counts a list's items by following `next_cursor`, up to `max_pages`
    /// pages of 200; `None` when there were more.
    pub async fn count_all(&self, path: &str, max_pages: usize) -> anyhow::Result<Option<usize>> {
        let separator = if path.contains('?') { '&' } else { '?' };
        let mut cursor: Option<String> = None;
        let mut total = 0;
        for _ in 0..max_pages {
            let page_path = match &cursor {
                Some(cursor) => format!("{path}{separator}limit=200&cursor={cursor}"),
                None => format!("{path}{separator}limit=200"),
            };
            let body = self.get(&page_path).await?;
            total += body["items"].as_array().map_or(0, Vec::len);
            match body["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => return Ok(Some(total)),
            }
        }
        Ok(None)
    }
}

fn string_field(value: &Value, field: &str) -> anyhow::Result<String> {
    value[field]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("no `{field}` in {value}"))
}
