//! Consent as the worker learns it: a customer's stop or start word, the
//! provider's `user_preferences` report (Meta's "Offers and announcements"
//! setting), and a send refused with 131050; each recorded in the consent store
//! (current state plus history) that the outbox reads.

use chrono::{DateTime, Utc};
use wacrm_domain::NormalizedPhone;
use wacrm_domain::consent::{MARKETING_REFUSED_CODE, MarketingState, source};
use wacrm_domain::inbound::MarketingPreferenceUpdate;
use wacrm_persistence::consent::{self, NewConsentChange};
use wacrm_persistence::{AsyncPgConnection, StoreResult};

use crate::inbound::Rejection;

pub async fn apply_marketing_preference(
    conn: &mut AsyncPgConnection,
    update: MarketingPreferenceUpdate,
) -> StoreResult<Result<(), Rejection>> {
    let Ok(phone) = NormalizedPhone::parse(&update.phone, None) else {
        return Ok(Err(format!(
            "the customer `{}` of a marketing preference is not a phone number",
            update.phone
        )));
    };
    consent::record(
        conn,
        NewConsentChange {
            phone: phone.into_string(),
            state: MarketingState::after(update.preference).as_str().to_owned(),
            reason: update.detail,
            source: source::META_USER_PREFERENCES.to_owned(),
            occurred_at: update.at,
            changed_by: None,
        },
    )
    .await?;
    Ok(Ok(()))
}

/// A customer's whole message was a stop or start word.
pub fn keyword_change(
    phone: &NormalizedPhone,
    state: MarketingState,
    said: &str,
    at: DateTime<Utc>,
) -> NewConsentChange {
    let said: String = said.trim().chars().take(64).collect();
    NewConsentChange {
        phone: phone.as_str().to_owned(),
        state: state.as_str().to_owned(),
        reason: Some(format!("the customer wrote \"{said}\"")),
        source: source::CUSTOMER_KEYWORD.to_owned(),
        occurred_at: at,
        changed_by: None,
    }
}

/// Opts `phone` out when the provider refused a send with 131050: the customer
/// stopped marketing in WhatsApp itself, and the next campaign must skip them
/// rather than be refused again (each refusal counts against the number).
pub async fn learn_from_failure<'c>(
    conn: &mut AsyncPgConnection,
    phone: Option<&str>,
    codes: impl IntoIterator<Item = &'c str>,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    let Some(phone) = phone.and_then(|phone| NormalizedPhone::parse(phone, None).ok()) else {
        return Ok(());
    };
    if !codes.into_iter().any(|code| code == MARKETING_REFUSED_CODE) {
        return Ok(());
    }
    consent::record(
        conn,
        NewConsentChange {
            phone: phone.into_string(),
            state: MarketingState::OptedOut.as_str().to_owned(),
            reason: Some(
                "the provider refused a marketing message: the recipient stopped marketing messages in WhatsApp (131050)"
                    .to_owned(),
            ),
            source: source::PROVIDER_MARKETING_REFUSED.to_owned(),
            occurred_at: at,
            changed_by: None,
        },
    )
    .await
}
