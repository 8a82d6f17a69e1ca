//! The HTTP side: an admin session against one wacrm, with timed GETs.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// An admin session; logs in again when the 15-minute access token runs out.
pub struct Api {
    client: reqwest::Client,
    base: String,
    email: String,
    password: String,
    token: Mutex<String>,
}

/// What one call answered.
pub struct Answer {
    pub status: StatusCode,
    pub body: Value,
    /// From sending the request to having read the whole body.
    pub elapsed: Duration,
}

impl Api {
    pub async fn login(base: &str, email: &str, password: &str) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .no_proxy()
            .http1_only()
            .pool_max_idle_per_host(256)
            .timeout(Duration::from_secs(120))
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
        let answer = self
            .send(
                Method::POST,
                "/api/v1/auth/login",
                Some(&json!({"email": self.email, "password": self.password})),
                false,
            )
            .await?;
        if answer.status != StatusCode::OK {
            bail!(
                "POST /api/v1/auth/login answered {}: {}",
                answer.status,
                answer.body
            );
        }
        let token = answer.body["access_token"]
            .as_str()
            .ok_or_else(|| anyhow!("the login answer has no access_token: {}", answer.body))?;
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
        body: Option<&Value>,
        auth: bool,
    ) -> anyhow::Result<Answer> {
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
            request = request.json(body);
        }
        let started = Instant::now();
        let response = request
            .send()
            .await
            .with_context(|| format!("{method} {path}"))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .with_context(|| format!("{method} {path}: reading the body"))?;
        let elapsed = started.elapsed();
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        Ok(Answer {
            status,
            body,
            elapsed,
        })
    }

    /// An authenticated call; logs in again once if the token has expired.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<Answer> {
        let answer = self.send(method.clone(), path, body, true).await?;
        if answer.status == StatusCode::UNAUTHORIZED {
            self.refresh_token().await?;
            return self.send(method, path, body, true).await;
        }
        Ok(answer)
    }

    /// GET expecting 200; anything else is an error naming the request, its
    /// status and body.
    pub async fn get(&self, path: &str) -> anyhow::Result<Answer> {
        let answer = self.call(Method::GET, path, None).await?;
        if answer.status != StatusCode::OK {
            bail!("GET {path} answered {}: {}", answer.status, answer.body);
        }
        Ok(answer)
    }

    /// `method` expecting `expected`.
    pub async fn expect(
        &self,
        method: Method,
        path: &str,
        body: &Value,
        expected: StatusCode,
    ) -> anyhow::Result<Value> {
        let answer = self.call(method.clone(), path, Some(body)).await?;
        if answer.status != expected {
            bail!(
                "{method} {path} {body} answered {}: {}",
                answer.status,
                answer.body
            );
        }
        Ok(answer.body)
    }
}

pub fn string_field(value: &Value, field: &str) -> anyhow::Result<String> {
    value[field]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("no `{field}` in {value}"))
}
