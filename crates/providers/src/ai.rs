//! Large-language-model answers for AI bots: OpenAI's chat completions and
//! Google's Gemini `generateContent`, at a configurable base URL, with the
//! conversation's recent history as context. Calls are logged like any
//! provider call (keys never recorded).

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::call::{Auth, CallLog, Outcome, Request, endpoint};
use crate::error::ProviderError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AiProvider {
    Openai,
    Gemini,
}

impl AiProvider {
    pub fn default_base_url(self) -> &'static str {
        match self {
            Self::Openai => "https://api.openai.com",
            Self::Gemini => "https://generativelanguage.googleapis.com",
        }
    }
}

/// Who said a line of the conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Speaker {
    Customer,
    Business,
}

#[derive(Debug, Clone)]
pub struct Turn {
    pub speaker: Speaker,
    pub text: String,
}

pub struct AiClient<'a> {
    pub http: &'a crate::egress::HttpClient,
    pub provider: AiProvider,
    pub base_url: &'a str,
    pub model: &'a str,
    pub api_key: &'a str,
}

impl AiClient<'_> {
    /// The model's reply to `history` (oldest first, ending with the customer's
    /// message), steered by `instructions`.
    pub async fn reply(&self, instructions: &str, history: &[Turn]) -> Outcome<String> {
        let mut log = CallLog::new(self.http);
        let result = match self.provider {
            AiProvider::Openai => self.openai(&mut log, instructions, history).await,
            AiProvider::Gemini => self.gemini(&mut log, instructions, history).await,
        };
        log.finish(result)
    }

    async fn openai(
        &self,
        log: &mut CallLog<'_>,
        instructions: &str,
        history: &[Turn],
    ) -> Result<String, ProviderError> {
        let url = endpoint(self.base_url, &["v1", "chat", "completions"])?;
        let mut messages = vec![json!({"role": "system", "content": instructions})];
        messages.extend(history.iter().map(|turn| {
            let role = match turn.speaker {
                Speaker::Customer => "user",
                Speaker::Business => "assistant",
            };
            json!({"role": role, "content": turn.text})
        }));
        let body = json!({"model": self.model, "messages": messages});
        let answer = log
            .call(Request::post(url, Auth::Bearer(self.api_key), body))
            .await?;
        if !answer.is_success() {
            return Err(refused(&answer.body, answer.status, answer.retry_after));
        }
        text_at(&answer.body, &["choices", "0", "message", "content"])
    }

    async fn gemini(
        &self,
        log: &mut CallLog<'_>,
        instructions: &str,
        history: &[Turn],
    ) -> Result<String, ProviderError> {
        // The key goes in a header, not in `?key=`, so it never sits in a URL.
        let model = format!("{}:generateContent", self.model);
        let url = endpoint(self.base_url, &["v1beta", "models", &model])?;
        let contents: Vec<Value> = history
            .iter()
            .map(|turn| {
                let role = match turn.speaker {
                    Speaker::Customer => "user",
                    Speaker::Business => "model",
                };
                json!({"role": role, "parts": [{"text": turn.text}]})
            })
            .collect();
        let body =
            json!({"systemInstruction": {"parts": [{"text": instructions}]}, "contents": contents});
        let answer = log
            .call(Request::post(
                url,
                Auth::Header("x-goog-api-key", self.api_key),
                body,
            ))
            .await?;
        if !answer.is_success() {
            return Err(refused(&answer.body, answer.status, answer.retry_after));
        }
        text_at(
            &answer.body,
            &["candidates", "0", "content", "parts", "0", "text"],
        )
    }
}

fn refused(
    body: &Value,
    status: reqwest::StatusCode,
    retry_after: Option<std::time::Duration>,
) -> ProviderError {
    let mut error = ProviderError::from_status(status, retry_after);
    let detail = body.pointer("/error/message").and_then(Value::as_str);
    if let (
        Some(detail),
        ProviderError::Permanent { message, .. }
        | ProviderError::Retryable { message, .. }
        | ProviderError::Auth { message, .. },
    ) = (detail, &mut error)
    {
        *message = format!("{message}: {detail}");
    }
    error
}

fn text_at(body: &Value, path: &[&str]) -> Result<String, ProviderError> {
    let pointer = format!("/{}", path.join("/"));
    body.pointer(&pointer)
        .and_then(Value::as_str)
        .map(|text| text.trim().to_owned())
        .filter(|text| !text.is_empty())
        .ok_or_else(|| ProviderError::Permanent {
            code: None,
            message: "the model gave no answer".into(),
        })
}
