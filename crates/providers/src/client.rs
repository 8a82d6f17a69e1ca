//! The one client callers use to reach any provider: send a message, mark one read
//! (and show typing), list templates. It checks what the provider can carry, hands the work to the
//! provider's own module, and returns the result with a record of every HTTP call.
//!
//! Message bodies the provider would refuse are refused here, before any call:
//! content the provider cannot carry is [`Unsupported`], content that breaks
//! WhatsApp's rules fails `OutboundContent::validate`. Both come back as
//! `ProviderError::Permanent` with no calls.

use wacrm_domain::Provider;
use wacrm_domain::connection::Credentials;
use wacrm_domain::outbound::{OutboundContent, OutboundMessage};
use wacrm_domain::provider_id::IdKind;

use crate::call::{CallLog, Outcome};
use crate::error::ProviderError;
use crate::templates::RemoteTemplate;
use crate::{lipachat, meta, tata, whats91};

/// Where and with what to reach a provider. Borrowed: build one per job.
pub struct ProviderClient<'a> {
    pub http: &'a crate::egress::HttpClient,
    pub provider: Provider,
    /// The provider's API root: `hosts::default_base_url` or the connection's override.
    pub base_url: &'a str,
    /// Meta's Graph API version (`hosts::META_GRAPH_VERSION`); unused by the others.
    pub graph_version: &'a str,
    pub credentials: &'a Credentials,
}

/// The business number a message goes out from.
#[derive(Debug, Clone, Copy)]
pub struct SenderNumber<'a> {
    /// E.164 digits, no `+`.
    pub phone: &'a str,
    /// The provider's id for the number (Meta's `phone_number_id`).
    pub provider_number_id: Option<&'a str>,
}

/// A message the provider accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// The id the message is shown with: the one the provider's status updates will
    /// name when the answer has it (Meta's wamid; for Lipachat our own `client_id`),
    /// else the best the answer has (TATA's request id, Whats91's `queueUid`).
    pub provider_message_id: String,
    /// The provider queued it instead of handing it to WhatsApp now (Whats91 while a
    /// number reconnects): accepted, but not yet sent.
    pub queued_by_provider: bool,
    /// Every id the answer gave the message, with what each is (the one above
    /// among them); a status naming any of them is about this message.
    pub ids: Vec<(IdKind, String)>,
}

impl Sent {
    /// A send answered with the id its status reports will name.
    pub fn named(id: impl Into<String>, queued_by_provider: bool) -> Self {
        let id = id.into();
        Self {
            provider_message_id: id.clone(),
            queued_by_provider,
            ids: vec![(IdKind::Message, id)],
        }
    }

    /// A send answered with `ids`, shown by its `Message` id if it has one, else
    /// by the first; `None` when there is no id at all.
    pub fn with_ids(ids: Vec<(IdKind, String)>, queued_by_provider: bool) -> Option<Self> {
        let shown = ids
            .iter()
            .find(|(kind, _)| *kind == IdKind::Message)
            .or_else(|| ids.first())?
            .1
            .clone();
        let mut unique: Vec<(IdKind, String)> = Vec::with_capacity(ids.len());
        for (kind, id) in ids {
            if !unique.iter().any(|(_, known)| *known == id) {
                unique.push((kind, id));
            }
        }
        Some(Self {
            provider_message_id: shown,
            queued_by_provider,
            ids: unique,
        })
    }
}

/// Content a provider has no API for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{provider} cannot send {kind} messages")]
pub struct Unsupported {
    pub provider: Provider,
    pub kind: &'static str,
}

impl From<Unsupported> for ProviderError {
    fn from(unsupported: Unsupported) -> Self {
        Self::Permanent {
            code: None,
            message: unsupported.to_string(),
        }
    }
}

impl ProviderClient<'_> {
    /// Whether this provider can carry `content` at all (its validity aside).
    pub fn supports(&self, content: &OutboundContent) -> Result<(), Unsupported> {
        supports(self.provider, content)
    }

    pub async fn send(&self, from: &SenderNumber<'_>, message: &OutboundMessage) -> Outcome<Sent> {
        let mut log = CallLog::new(self.http);
        let result = self.send_logged(&mut log, from, message).await;
        log.finish(result)
    }

    async fn send_logged(
        &self,
        log: &mut CallLog<'_>,
        from: &SenderNumber<'_>,
        message: &OutboundMessage,
    ) -> Result<Sent, ProviderError> {
        self.supports(&message.content)?;
        message.content.validate().map_err(invalid)?;
        if message.to.is_empty() && self.provider != Provider::Meta {
            return Err(ProviderError::Permanent {
                code: None,
                message: no_phone(self.provider),
            });
        }
        match self.provider {
            Provider::Meta => meta::client::send(self, log, from, message).await,
            Provider::Lipachat => lipachat::client::send(self, log, from, message).await,
            Provider::Whats91 => whats91::client::send(self, log, from, message).await,
            Provider::Tata => tata::client::send(self, log, message).await,
        }
    }

    /// Tells the provider we read one of the customer's messages (blue ticks).
    /// `Ok(false)`: the provider has no API for it, and no call was made.
    pub async fn mark_read(
        &self,
        from: &SenderNumber<'_>,
        provider_message_id: &str,
    ) -> Outcome<bool> {
        let mut log = CallLog::new(self.http);
        let result = match self.provider {
            Provider::Meta => {
                meta::client::mark_read(self, &mut log, from, provider_message_id, false).await
            }
            // Lipachat, Whats91 and TATA document no read-receipt endpoint.
            Provider::Lipachat | Provider::Whats91 | Provider::Tata => Ok(false),
        };
        log.finish(result)
    }

    /// Marks the customer's message read and shows them that we are typing.
    /// `Ok(false)`: the provider has no API for it (see [`supports_typing`]), no call.
    pub async fn show_typing(
        &self,
        from: &SenderNumber<'_>,
        provider_message_id: &str,
    ) -> Outcome<bool> {
        let mut log = CallLog::new(self.http);
        let result = if supports_typing(self.provider) {
            meta::client::mark_read(self, &mut log, from, provider_message_id, true).await
        } else {
            Ok(false)
        };
        log.finish(result)
    }

    /// Every template the provider lists for the number's account, all pages.
    pub async fn list_templates(&self, from: &SenderNumber<'_>) -> Outcome<Vec<RemoteTemplate>> {
        let mut log = CallLog::new(self.http);
        let result = match self.provider {
            Provider::Meta => meta::client::list_templates(self, &mut log).await,
            Provider::Lipachat => lipachat::client::list_templates(self, &mut log, from).await,
            Provider::Whats91 => whats91::templates::list_templates(self, &mut log, from).await,
            Provider::Tata => Ok(tata::client::list_templates()),
        };
        log.finish(result)
    }

    /// A credential the provider needs; missing, it is an `Auth` error: the operator
    /// must complete the connection.
    pub(crate) fn credential(&self, field: &'static str) -> Result<&str, ProviderError> {
        self.credentials
            .get(field)
            .ok_or_else(|| ProviderError::Auth {
                code: None,
                message: format!(
                    "the {} connection has no {}: add it in the connection settings",
                    crate::failure::name(self.provider),
                    field.replace('_', " ")
                ),
            })
    }
}

fn invalid(errors: Vec<(String, String)>) -> ProviderError {
    let reasons: Vec<String> = errors
        .into_iter()
        .map(|(field, message)| format!("{field} {message}"))
        .collect();
    ProviderError::Permanent {
        code: None,
        message: format!("the message is not valid: {}", reasons.join("; ")),
    }
}

/// Whether `provider` can show the customer a typing indicator: only Meta documents
/// one (with its read status). TATA and Whats91 relay Meta's message bodies but
/// document no read or typing call.
pub fn supports_typing(provider: Provider) -> bool {
    provider == Provider::Meta
}

/// Why `provider` cannot reach a customer known only by Meta's business-scoped
/// user id: only Meta documents sending to one (`recipient`).
pub fn no_phone(provider: Provider) -> String {
    format!(
        "{} cannot send to a customer known only by a WhatsApp user id (no phone number); only Meta's Cloud API can",
        provider.as_str()
    )
}

/// Whether `provider` can carry `content` at all (its validity aside); needs no client.
pub fn supports(provider: Provider, content: &OutboundContent) -> Result<(), Unsupported> {
    match provider {
        Provider::Lipachat => lipachat::client::supports(content),
        // Meta and TATA take Meta's body; Whats91 has a Meta-compatible endpoint
        // for whatever its own endpoints do not cover.
        Provider::Meta | Provider::Tata | Provider::Whats91 => Ok(()),
    }
}
