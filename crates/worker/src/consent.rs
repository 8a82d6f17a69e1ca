//! Customers' marketing preferences as the provider reports them (Meta's
//! `user_preferences`: the "Offers and announcements" setting), recorded in the
//! consent store that the consent rules read.

use wacrm_domain::NormalizedPhone;
use wacrm_domain::consent::{MarketingState, source};
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
            phone: phone.as_str().to_owned(),
            state: MarketingState::after(update.preference).as_str().to_owned(),
            reason: update.detail,
            source: source::META_USER_PREFERENCES.to_owned(),
            occurred_at: update.at,
        },
    )
    .await?;
    Ok(Ok(()))
}
