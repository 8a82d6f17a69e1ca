//! Parsing a verified webhook body into the domain's inbound events, whichever provider sent it.
//!
//! Each provider module reads its own envelope; the content of a message is read in one
//! place (`meta::message`), because every provider either is Meta-shaped (Meta, TATA) or
//! is first turned into Meta's shape (`flat`, for Lipachat and Whats91).
//!
//! A body that is valid JSON but an event kind we do not handle gives no events; a body
//! whose shape is wrong for a kind we do handle is a [`ParseError::Shape`] that says why.

pub(crate) mod flat;
pub(crate) mod json;
pub(crate) mod time;

use chrono::{DateTime, Utc};
use wacrm_domain::Provider;
use wacrm_domain::inbound::InboundEvent;

use crate::{lipachat, meta, tata, whats91};

/// Why a webhook body could not be read. The reasons name fields, never values that
/// could be secrets.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("the body is not JSON: {0}")]
    NotJson(String),
    #[error("{0}")]
    Shape(String),
}

impl ParseError {
    pub(crate) fn shape(reason: impl Into<String>) -> Self {
        Self::Shape(reason.into())
    }
}

/// Every event in one webhook body, in the order the provider listed them.
///
/// `received_at` is when our endpoint accepted the request: it stands in for the time of
/// an event whose payload carries none (Lipachat's, typically). Parsing reads no clock.
pub fn parse(
    provider: Provider,
    body: &[u8],
    received_at: DateTime<Utc>,
) -> Result<Vec<InboundEvent>, ParseError> {
    let mut body: serde_json::Value =
        serde_json::from_slice(body).map_err(|error| ParseError::NotJson(error.to_string()))?;
    json::strip_nul(&mut body);
    match provider {
        Provider::Meta => meta::webhook::parse(&body, received_at),
        Provider::Lipachat => lipachat::webhook::parse(&body, received_at),
        Provider::Whats91 => whats91::webhook::parse(&body, received_at),
        Provider::Tata => tata::webhook::parse(&body, received_at),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// After every timestamp below: a webhook arrives after what it reports.
    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_790_000_000, 0).unwrap()
    }

    #[test]
    fn a_body_that_is_not_json_is_refused_for_every_provider() {
        for provider in Provider::ALL {
            let error = parse(provider, b"<xml/>", now()).unwrap_err();
            assert!(
                matches!(error, ParseError::NotJson(_)),
                "{provider}: {error}"
            );
        }
    }

    #[test]
    fn a_nul_character_is_dropped_and_the_message_kept() {
        let meta = br#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"106540352242922"},"contacts":[{"profile":{"name":"Ann\u0000e"},"wa_id":"16505551234"}],"messages":[{"from":"16505551234","id":"wamid.A","timestamp":"1749416383","type":"text","text":{"body":"h\u0000i"}}]}}]}]}"#;
        let events = parse(Provider::Meta, meta, now()).unwrap();
        let InboundEvent::Message(message) = &events[0] else {
            panic!("not a message")
        };
        assert_eq!(message.body, "hi");
        assert_eq!(message.profile_name.as_deref(), Some("Anne"));
    }

    #[test]
    fn each_provider_reads_its_own_shape() {
        let meta = br#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"106540352242922"},"messages":[{"from":"16505551234","id":"wamid.A","timestamp":"1749416383","type":"text","text":{"body":"hi"}}]}}]}]}"#;
        let lipachat = br#"{"messageId":"c94ced08","from":"254712345678","to":"254110090747","type":"TEXT","text":"hi"}"#;
        let whats91 = br#"{"event":"message.inbound.text","senderId":"916268662275","data":{"messageId":"wamid.B","from":"919900011122","text":"hi","timestamp":"2026-06-05T10:30:00.000Z"}}"#;
        let tata = br#"{"messages":{"from":"919999999999","id":"wamid.C","timestamp":"1744109205","type":"text","text":{"body":"hi"}},"businessPhoneNumber":"+919355421616"}"#;
        for (provider, body) in [
            (Provider::Meta, &meta[..]),
            (Provider::Lipachat, &lipachat[..]),
            (Provider::Whats91, &whats91[..]),
            (Provider::Tata, &tata[..]),
        ] {
            let events = parse(provider, body, now()).unwrap();
            assert_eq!(events.len(), 1, "{provider}");
            let InboundEvent::Message(message) = &events[0] else {
                panic!("{provider}: not a message")
            };
            assert_eq!(message.body, "hi", "{provider}");
        }
    }
}
