//! Marketing consent: where a phone stands (`subscribed`, `opted_out`, or unknown),
//! what moves it (a customer's stop or start word, a provider's report, staff), and
//! what each standing allows the outbox to send.
//!
//! The rule ([`check`]): a blocklisted phone gets nothing at all; an opted-out phone
//! gets no MARKETING template (nor a template whose category we do not know: the
//! law does not accept "we did not know"), but still utility and authentication
//! templates and replies inside the 24-hour window.

use serde::{Deserialize, Serialize};

use crate::inbound::MarketingPreference;
use crate::text;

/// Where a phone stands on marketing messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MarketingState {
    Subscribed,
    OptedOut,
}

impl MarketingState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Subscribed => "subscribed",
            Self::OptedOut => "opted_out",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        [Self::Subscribed, Self::OptedOut]
            .into_iter()
            .find(|state| state.as_str() == name)
    }

    /// The state a customer's own choice puts them in.
    pub fn after(preference: MarketingPreference) -> Self {
        match preference {
            MarketingPreference::Stop => Self::OptedOut,
            MarketingPreference::Resume => Self::Subscribed,
        }
    }
}

/// Who reported a change: the `source` kept with it.
pub mod source {
    /// Meta's `user_preferences` webhook (the customer's "Offers and announcements"
    /// setting in WhatsApp).
    pub const META_USER_PREFERENCES: &str = "meta:user_preferences";
    /// A send or status failed with Meta's 131050 ("this recipient has chosen to stop
    /// receiving marketing messages").
    pub const PROVIDER_MARKETING_REFUSED: &str = "provider:131050";
    /// The customer wrote a stop or start word.
    pub const CUSTOMER_KEYWORD: &str = "customer:keyword";
    /// A staff member set it, or changed the blocklist.
    pub const STAFF: &str = "staff";
}

/// Meta's error code for a recipient who stopped marketing messages; Whats91 and
/// TATA relay Meta's codes unchanged.
/// <https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes>
pub const MARKETING_REFUSED_CODE: &str = "131050";

/// What a phone's standing is, as the outbox reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Standing {
    /// `None`: never reported either way.
    pub marketing: Option<MarketingState>,
    pub blocked: bool,
}

/// What is about to be sent, as far as consent cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sending<'a> {
    /// Free-form content (text, media, interactive…), only ever inside the window.
    FreeForm,
    /// A template of this category (`MARKETING`, `UTILITY`, `AUTHENTICATION`, or
    /// unknown).
    Template { category: Option<&'a str> },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Blocked,
    OptedOut,
}

/// Whether `sending` may go to a phone of `standing`.
pub fn check(standing: Standing, sending: Sending<'_>) -> Result<(), Refusal> {
    if standing.blocked {
        return Err(Refusal::Blocked);
    }
    let marketing = match sending {
        Sending::FreeForm => false,
        Sending::Template { category } => !matches!(
            category.map(str::to_ascii_uppercase).as_deref(),
            Some("UTILITY" | "AUTHENTICATION")
        ),
    };
    if marketing && standing.marketing == Some(MarketingState::OptedOut) {
        return Err(Refusal::OptedOut);
    }
    Ok(())
}

/// The words that opt a customer out or back in, and what we answer.
///
/// A word matches only as the whole message, after [`text::normalize`] (case,
/// accents and the punctuation around it do not matter): "STOP", "stop!" and
/// " Stop " opt out, "please stop calling me" does not, because a sentence that
/// contains a stop word is a conversation an agent should read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentSettings {
    pub stop_words: Vec<String>,
    pub start_words: Vec<String>,
    /// Sent after a stop word (inside the window the message opened); `None`: nothing.
    pub stop_reply: Option<String>,
    /// Sent after a start word; `None`: nothing.
    pub start_reply: Option<String>,
}

impl ConsentSettings {
    pub const KEY: &'static str = "consent";

    /// The state a whole message asks for, if it is a stop or start word.
    pub fn keyword(&self, message: &str) -> Option<MarketingState> {
        let said = text::normalize(message);
        if said.is_empty() {
            return None;
        }
        let matches = |words: &[String]| words.iter().any(|word| text::normalize(word) == said);
        if matches(&self.stop_words) {
            Some(MarketingState::OptedOut)
        } else if matches(&self.start_words) {
            Some(MarketingState::Subscribed)
        } else {
            None
        }
    }

    /// What to answer a customer who just moved to `state` by a keyword.
    pub fn reply(&self, state: MarketingState) -> Option<&str> {
        match state {
            MarketingState::OptedOut => self.stop_reply.as_deref(),
            MarketingState::Subscribed => self.start_reply.as_deref(),
        }
        .filter(|reply| !reply.trim().is_empty())
    }
}

impl Default for ConsentSettings {
    /// English as the CTIA and Meta list it, then Spanish, Portuguese, French,
    /// Swahili and Hindi (Devanagari and the romanised forms customers type).
    fn default() -> Self {
        let words = |list: &[&str]| list.iter().map(|word| (*word).to_owned()).collect();
        Self {
            stop_words: words(&[
                "STOP", "UNSUBSCRIBE", "STOPALL", "CANCEL", "END", "QUIT", // English
                "BAJA", "PARAR", "DETENER", "CANCELAR", // Spanish
                "SAIR", "PARE", // Portuguese (PARAR, CANCELAR above)
                "ARRÊT", "ARRETER", "DÉSABONNER", // French
                "ACHA", "SITISHA", // Swahili
                "बंद", "रोकें", "BAND KARO", // Hindi
            ]),
            start_words: words(&[
                "START", "SUBSCRIBE", "UNSTOP", // English
                "ALTA", "SUSCRIBIR", // Spanish
                "VOLTAR", "ASSINAR", // Portuguese
                "ABONNER", "REPRENDRE", // French
                "ANZA", "JIANDIKISHE", // Swahili
                "शुरू", "SHURU", // Hindi
            ]),
            stop_reply: Some(
                "You will no longer receive marketing messages from us. Reply START to subscribe again."
                    .to_owned(),
            ),
            start_reply: Some(
                "You are subscribed to our messages again. Reply STOP to unsubscribe.".to_owned(),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stop_opts_out_and_a_resume_subscribes() {
        assert_eq!(
            MarketingState::after(MarketingPreference::Stop),
            MarketingState::OptedOut
        );
        assert_eq!(
            MarketingState::after(MarketingPreference::Resume),
            MarketingState::Subscribed
        );
    }

    #[test]
    fn names_round_trip() {
        for state in [MarketingState::Subscribed, MarketingState::OptedOut] {
            assert_eq!(MarketingState::parse(state.as_str()), Some(state));
        }
        assert_eq!(MarketingState::parse("unknown"), None);
    }

    #[test]
    fn only_a_whole_message_is_a_keyword() {
        let settings = ConsentSettings::default();
        for stop in [
            "STOP",
            "stop",
            " Stop! ",
            "unsubscribe.",
            "arret",
            "Arrêt",
            "बंद",
            "band karo",
        ] {
            assert_eq!(
                settings.keyword(stop),
                Some(MarketingState::OptedOut),
                "{stop}"
            );
        }
        for start in ["START", "start", "Subscribe!"] {
            assert_eq!(
                settings.keyword(start),
                Some(MarketingState::Subscribed),
                "{start}"
            );
        }
        for sentence in [
            "please stop calling me",
            "stop it",
            "I want to cancel my order",
            "the end",
            "",
            "!!!",
        ] {
            assert_eq!(settings.keyword(sentence), None, "{sentence}");
        }
    }

    #[test]
    fn configured_words_replace_the_defaults() {
        let settings = ConsentSettings {
            stop_words: vec!["Basta".into()],
            start_words: vec![],
            stop_reply: None,
            start_reply: Some("  ".into()),
        };
        assert_eq!(settings.keyword("basta"), Some(MarketingState::OptedOut));
        assert_eq!(settings.keyword("STOP"), None);
        assert_eq!(settings.reply(MarketingState::OptedOut), None);
        assert_eq!(
            settings.reply(MarketingState::Subscribed),
            None,
            "blank is none"
        );
    }

    #[test]
    fn blocked_gets_nothing_opted_out_gets_no_marketing() {
        let blocked = Standing {
            marketing: Some(MarketingState::Subscribed),
            blocked: true,
        };
        assert_eq!(check(blocked, Sending::FreeForm), Err(Refusal::Blocked));
        let out = Standing {
            marketing: Some(MarketingState::OptedOut),
            blocked: false,
        };
        let template = |category| Sending::Template { category };
        assert_eq!(
            check(out, template(Some("MARKETING"))),
            Err(Refusal::OptedOut)
        );
        assert_eq!(
            check(out, template(None)),
            Err(Refusal::OptedOut),
            "unknown counts as marketing"
        );
        assert_eq!(check(out, template(Some("utility"))), Ok(()));
        assert_eq!(check(out, template(Some("AUTHENTICATION"))), Ok(()));
        assert_eq!(check(out, Sending::FreeForm), Ok(()));
        assert_eq!(
            check(Standing::default(), template(Some("MARKETING"))),
            Ok(())
        );
    }
}
