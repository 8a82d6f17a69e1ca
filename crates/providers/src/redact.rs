//! Masks credentials in what the activity log keeps of a provider call.
//!
//! Three nets, because a secret can hide in more than one place: values of keys that
//! name a secret (`access_token`, `apiKey`, `authorization`, `password`…, matched
//! case-insensitively and ignoring `_`/`-`); URLs that carry one (a query parameter
//! such as Meta's `paging.next?access_token=…`, or a signed Meta media URL, which
//! works for anyone who holds it); and, last, every literal occurrence of the
//! credentials we sent, wherever the provider echoed them.

use serde_json::{Map, Value};

/// What replaces a masked value.
pub const MASK: &str = "[redacted]";
/// The most of one body the log keeps.
pub const MAX_RECORDED_BYTES: usize = 16 * 1024;

/// Hosts whose URLs are short-lived signed links to Meta-hosted media.
const META_MEDIA_HOSTS: [&str; 3] = ["fbsbx.com", "fbcdn.net", "whatsapp.net"];

/// Shorter strings are not worth masking literally: they would mask innocent text.
const MIN_LITERAL_SECRET: usize = 6;

pub(crate) struct Redactor {
    secrets: Vec<String>,
}

impl Redactor {
    pub(crate) fn new<'a>(secrets: impl IntoIterator<Item = &'a str>) -> Self {
        let secrets = secrets
            .into_iter()
            .filter(|secret| secret.len() >= MIN_LITERAL_SECRET)
            .map(str::to_owned)
            .collect();
        Self { secrets }
    }

    /// The JSON, masked, serialised and truncated.
    pub(crate) fn json(&self, value: &Value) -> String {
        let masked = self.value(value);
        let text = serde_json::to_string(&masked).unwrap_or_default();
        truncate(self.literals(text))
    }

    /// A body that is not JSON: only the literal secrets can be found in it.
    pub(crate) fn text(&self, text: &str) -> String {
        truncate(self.literals(text.to_owned()))
    }

    fn value(&self, value: &Value) -> Value {
        match value {
            Value::Object(fields) => {
                let masked: Map<String, Value> = fields
                    .iter()
                    .map(|(key, value)| {
                        let value = if is_secret_key(key) && !value.is_null() {
                            Value::String(MASK.to_owned())
                        } else {
                            self.value(value)
                        };
                        (key.clone(), value)
                    })
                    .collect();
                Value::Object(masked)
            }
            Value::Array(items) => {
                Value::Array(items.iter().map(|item| self.value(item)).collect())
            }
            Value::String(text) => Value::String(mask_url(text)),
            other => other.clone(),
        }
    }

    fn literals(&self, mut text: String) -> String {
        for secret in &self.secrets {
            if text.contains(secret.as_str()) {
                text = text.replace(secret.as_str(), MASK);
            }
        }
        text
    }
}

fn is_secret_key(key: &str) -> bool {
    let normalized: String = key
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    normalized == "token"
        || normalized.ends_with("token")
        || normalized.contains("apikey")
        || normalized.contains("secret")
        || normalized.contains("password")
        || normalized == "authorization"
        || normalized == "auth"
}

/// A URL on a Meta media host is masked whole; elsewhere only the values of query
/// parameters that name a secret. Anything that is not a URL is left as it is.
fn mask_url(text: &str) -> String {
    let looks_like_url = text.starts_with("https://") || text.starts_with("http://");
    let Some(mut url) = looks_like_url.then(|| url::Url::parse(text).ok()).flatten() else {
        return text.to_owned();
    };
    let on_meta_media_host = url.host_str().is_some_and(|host| {
        META_MEDIA_HOSTS
            .iter()
            .any(|media| host == *media || host.ends_with(&format!(".{media}")))
    });
    if on_meta_media_host {
        return MASK.to_owned();
    }
    if !url.query_pairs().any(|(key, _)| is_secret_key(&key)) {
        return text.to_owned();
    }
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(key, value)| {
            let value = if is_secret_key(&key) {
                MASK.to_owned()
            } else {
                value.into_owned()
            };
            (key.into_owned(), value)
        })
        .collect();
    url.query_pairs_mut().clear().extend_pairs(pairs);
    url.to_string()
}

fn truncate(mut text: String) -> String {
    if text.len() <= MAX_RECORDED_BYTES {
        return text;
    }
    let total = text.len();
    let mut cut = MAX_RECORDED_BYTES;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    text.truncate(cut);
    text.push_str(&format!("… [truncated: {total} bytes in all]"));
    text
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn keys_that_name_a_secret_are_masked_at_any_depth() {
        let redactor = Redactor::new([]);
        let body = json!({
            "to": "254700000001",
            "apiKey": "lip-123",
            "nested": {"Access_Token": "EAAG", "verify-token": "v", "authToken": "w91",
                       "list": [{"password": "p", "client_secret": "s", "Authorization": "Bearer x"}]},
            "token_count": 3,
            "empty": {"api_key": null}
        });
        let masked: Value = serde_json::from_str(&redactor.json(&body)).unwrap();
        assert_eq!(
            masked,
            json!({
                "to": "254700000001",
                "apiKey": MASK,
                "nested": {"Access_Token": MASK, "verify-token": MASK, "authToken": MASK,
                           "list": [{"password": MASK, "client_secret": MASK, "Authorization": MASK}]},
                "token_count": 3,
                "empty": {"api_key": null}
            })
        );
    }

    #[test]
    fn urls_lose_their_tokens_and_meta_media_links_entirely() {
        let redactor = Redactor::new([]);
        let body = json!({
            "paging": {"next": "https://graph.facebook.com/v25.0/1/message_templates?access_token=EAAGsecret&limit=100&after=QVFI"},
            "url": "https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1&hash=abc",
            "header_handle": ["https://scontent.whatsapp.net/v/t61/1.jpg?oh=sig"],
            "button": {"url": "https://shop.example/track/{{1}}"},
            "note": "see https://example.com/?a=1"
        });
        let masked: Value = serde_json::from_str(&redactor.json(&body)).unwrap();
        assert_eq!(
            masked["paging"]["next"],
            "https://graph.facebook.com/v25.0/1/message_templates?access_token=%5Bredacted%5D&limit=100&after=QVFI"
        );
        assert_eq!(masked["url"], MASK);
        assert_eq!(masked["header_handle"][0], MASK);
        assert_eq!(masked["button"]["url"], "https://shop.example/track/{{1}}");
        assert_eq!(masked["note"], "see https://example.com/?a=1");
    }

    #[test]
    fn the_credentials_we_sent_are_masked_wherever_they_appear() {
        let redactor = Redactor::new(["w91_live_abcdef", "abc"]);
        assert_eq!(
            redactor.text("bad token w91_live_abcdef for abc"),
            "bad token [redacted] for abc"
        );
        assert_eq!(
            redactor.json(&json!({"echo": "w91_live_abcdef"})),
            r#"{"echo":"[redacted]"}"#
        );
    }

    #[test]
    fn long_bodies_are_cut_on_a_character_boundary() {
        let redactor = Redactor::new([]);
        let long = "é".repeat(MAX_RECORDED_BYTES);
        let kept = redactor.text(&long);
        assert!(kept.starts_with("éé"));
        assert!(kept.ends_with(&format!("[truncated: {} bytes in all]", long.len())));
        assert!(kept.len() < MAX_RECORDED_BYTES + 64);
    }
}
