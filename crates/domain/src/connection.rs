//! A provider connection's credentials, and which of them each provider needs.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::provider::Provider;

/// Every credential any provider uses; each provider needs a subset. Kept flat
/// so partial updates merge field by field. `Debug` never prints a value.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    pub access_token: Option<String>,
    pub app_secret: Option<String>,
    pub verify_token: Option<String>,
    pub waba_id: Option<String>,
    pub api_key: Option<String>,
    pub signing_secret: Option<String>,
    pub verification_token: Option<String>,
    /// The secret in the webhook URL of providers that do not sign (generated).
    pub webhook_token: Option<String>,
    /// The token a rotation replaced, still accepted until `previous_webhook_token_until`
    /// so the provider can be pointed at the new URL without losing webhooks.
    #[serde(default)]
    pub previous_webhook_token: Option<String>,
    #[serde(default)]
    pub previous_webhook_token_until: Option<chrono::DateTime<chrono::Utc>>,
}

impl Credentials {
    /// The fields `provider` cannot work without.
    pub fn required(provider: Provider) -> &'static [&'static str] {
        match provider {
            Provider::Meta => &["access_token", "app_secret", "verify_token", "waba_id"],
            Provider::Lipachat | Provider::Tata => &["api_key"],
            Provider::Whats91 => &["api_key", "signing_secret"],
        }
    }

    /// The fields `provider` understands (required or optional).
    pub fn accepted(provider: Provider) -> &'static [&'static str] {
        match provider {
            Provider::Whats91 => &["api_key", "signing_secret", "verification_token"],
            other => Self::required(other),
        }
    }

    pub fn get(&self, field: &str) -> Option<&str> {
        match field {
            "access_token" => self.access_token.as_deref(),
            "app_secret" => self.app_secret.as_deref(),
            "verify_token" => self.verify_token.as_deref(),
            "waba_id" => self.waba_id.as_deref(),
            "api_key" => self.api_key.as_deref(),
            "signing_secret" => self.signing_secret.as_deref(),
            "verification_token" => self.verification_token.as_deref(),
            "webhook_token" => self.webhook_token.as_deref(),
            _ => None,
        }
        .filter(|value| !value.is_empty())
    }

    /// Required fields `provider` lacks.
    pub fn missing(&self, provider: Provider) -> Vec<&'static str> {
        Self::required(provider)
            .iter()
            .copied()
            .filter(|field| self.get(field).is_none())
            .collect()
    }

    /// The webhook URL tokens accepted at `now`: the current one, and the one a
    /// rotation replaced while its grace period lasts.
    pub fn webhook_tokens(&self, now: chrono::DateTime<chrono::Utc>) -> Vec<&str> {
        let previous = self.previous_webhook_token.as_deref().filter(|_| {
            self.previous_webhook_token_until
                .is_some_and(|until| now < until)
        });
        self.get("webhook_token")
            .into_iter()
            .chain(previous.filter(|token| !token.is_empty()))
            .collect()
    }

    /// Fields in `changes` replace ours; the others stay.
    pub fn merge(&mut self, changes: Credentials) {
        let Credentials {
            access_token,
            app_secret,
            verify_token,
            waba_id,
            api_key,
            signing_secret,
            verification_token,
            webhook_token,
            previous_webhook_token,
            previous_webhook_token_until,
        } = changes;
        let keep = |new: Option<String>, old: &mut Option<String>| {
            if new.is_some() {
                *old = new;
            }
        };
        keep(access_token, &mut self.access_token);
        keep(app_secret, &mut self.app_secret);
        keep(verify_token, &mut self.verify_token);
        keep(waba_id, &mut self.waba_id);
        keep(api_key, &mut self.api_key);
        keep(signing_secret, &mut self.signing_secret);
        keep(verification_token, &mut self.verification_token);
        keep(webhook_token, &mut self.webhook_token);
        keep(previous_webhook_token, &mut self.previous_webhook_token);
        if previous_webhook_token_until.is_some() {
            self.previous_webhook_token_until = previous_webhook_token_until;
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Credentials { .. }")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_provider_names_what_it_lacks() {
        let creds = Credentials {
            api_key: Some("k".into()),
            ..Default::default()
        };
        assert!(creds.missing(Provider::Lipachat).is_empty());
        assert_eq!(creds.missing(Provider::Whats91), ["signing_secret"]);
        assert_eq!(creds.missing(Provider::Meta).len(), 4);
    }

    #[test]
    fn merging_replaces_only_given_fields() {
        let mut creds = Credentials {
            api_key: Some("old".into()),
            signing_secret: Some("s".into()),
            ..Default::default()
        };
        creds.merge(Credentials {
            api_key: Some("new".into()),
            ..Default::default()
        });
        assert_eq!(creds.get("api_key"), Some("new"));
        assert_eq!(creds.get("signing_secret"), Some("s"));
    }

    #[test]
    fn debug_never_shows_a_secret() {
        let creds = Credentials {
            access_token: Some("EAAG-secret".into()),
            ..Default::default()
        };
        assert!(!format!("{creds:?}").contains("EAAG"));
    }
}
