//! A phone's marketing consent: where it stands, its history (who, when, why), and
//! staff setting it (read: `whatsapp_contacts:view`; set: `whatsapp_contacts:edit`).
//! The consent settings (stop and start words, confirmation replies) are admin's.

use actix_web::{get, put, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use wacrm_domain::consent::{ConsentSettings, MarketingState, source};
use wacrm_domain::{NormalizedPhone, Permission, text};
use wacrm_persistence::consent::{self, ConsentChange, NewConsentChange};
use wacrm_persistence::settings;

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, Problem};
use crate::state::AppState;
use crate::validation::Checks;

#[derive(Serialize, ToSchema)]
pub struct ConsentResponse {
    /// E.164 digits.
    #[schema(example = "254712345678")]
    pub phone: String,
    /// `unknown` until the customer, the provider or staff said either way.
    #[schema(pattern = "^(subscribed|opted_out|unknown)$", example = "opted_out")]
    pub state: String,
    pub reason: Option<String>,
    /// `customer:keyword`, `meta:user_preferences`, `provider:131050` or `staff`.
    pub source: Option<String>,
    pub changed_at: Option<DateTime<Utc>>,
    /// On the blocklist: gets nothing at all.
    pub blocked: bool,
    /// The latest changes (up to 200), oldest first.
    pub history: Vec<ConsentChangeResponse>,
}

#[derive(Serialize, ToSchema)]
pub struct ConsentChangeResponse {
    #[schema(pattern = "^(subscribed|opted_out|blocked|unblocked)$")]
    pub state: String,
    pub reason: Option<String>,
    pub source: String,
    pub occurred_at: DateTime<Utc>,
    /// The staff member who made the change; null for the customer or the provider.
    pub changed_by: Option<Uuid>,
}

impl From<ConsentChange> for ConsentChangeResponse {
    fn from(change: ConsentChange) -> Self {
        Self {
            state: change.state,
            reason: change.reason,
            source: change.source,
            occurred_at: change.occurred_at,
            changed_by: change.changed_by,
        }
    }
}

/// Staff setting a phone's marketing state (e.g. a customer asked by phone).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetConsentRequest {
    #[schema(pattern = "^(subscribed|opted_out)$", example = "opted_out")]
    pub state: String,
    /// Why, for the audit trail.
    #[schema(max_length = 500, example = "asked on a phone call to stop promotions")]
    pub reason: Option<String>,
}

/// A phone from the path to look up: normalised when it is a phone number, else
/// its digits as written (422 unless it is `+` and 7 to 15 digits): a number
/// that cannot be a phone has no consent and no blocklist entry, which is the
/// answer, not an error.
pub fn phone_to_look_up(state: &AppState, phone: &str) -> ApiResult<String> {
    if let Ok(normalized) = NormalizedPhone::parse(phone, state.default_country) {
        return Ok(normalized.into_string());
    }
    let digits = phone.strip_prefix('+').unwrap_or(phone);
    if (7..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(digits.to_owned());
    }
    phone_in_path(state, phone).map(NormalizedPhone::into_string)
}

/// A phone from the path, normalised (422 when it is not a phone number).
pub fn phone_in_path(state: &AppState, phone: &str) -> ApiResult<NormalizedPhone> {
    let mut checks = Checks::default();
    let (_, normalized) = checks.phone("phone", Some(phone), state.default_country);
    checks.finish()?;
    normalized
        .and_then(|digits| NormalizedPhone::parse(&digits, None).ok())
        .ok_or_else(|| ApiError::internal("a checked phone did not parse"))
}

#[utoipa::path(tag = "consent", params(("phone" = String, Path)), security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = ConsentResponse),
    (status = 422, body = Problem, content_type = "application/problem+json", description = "`validation_failed`: not `+` and 7 to 15 digits"),
))]
#[get("/consent/{phone}")]
pub async fn get_consent(
    state: web::Data<AppState>,
    principal: Principal,
    phone: web::Path<String>,
) -> ApiResult<web::Json<ConsentResponse>> {
    principal.require(Permission::WHATSAPP_CONTACTS_VIEW)?;
    let phone = phone_to_look_up(&state, &phone)?;
    let mut conn = state.conn().await?;
    Ok(web::Json(consent_of(&mut conn, phone).await?))
}

#[utoipa::path(tag = "consent", params(("phone" = String, Path)), request_body = SetConsentRequest, security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = ConsentResponse),
    (status = 422, body = Problem, content_type = "application/problem+json", description = "`validation_failed`: not a phone number, or not a state"),
))]
#[put("/consent/{phone}")]
pub async fn set_consent(
    state: web::Data<AppState>,
    principal: Principal,
    phone: web::Path<String>,
    body: web::Json<SetConsentRequest>,
) -> ApiResult<web::Json<ConsentResponse>> {
    principal.require(Permission::WHATSAPP_CONTACTS_EDIT)?;
    let phone = phone_in_path(&state, &phone)?;
    let mut checks = Checks::default();
    let marketing = MarketingState::parse(&body.state);
    if marketing.is_none() {
        checks.fail("state", "must be `subscribed` or `opted_out`");
    }
    let reason = body
        .reason
        .as_deref()
        .filter(|reason| !reason.trim().is_empty())
        .map(|reason| checks.text("reason", reason, 500));
    checks.finish()?;
    let Some(marketing) = marketing else {
        return Err(ApiError::internal("a checked state did not parse"));
    };
    let mut conn = state.conn().await?;
    consent::record(
        &mut conn,
        NewConsentChange {
            phone: phone.as_str().to_owned(),
            state: marketing.as_str().to_owned(),
            reason,
            source: source::STAFF.to_owned(),
            occurred_at: Utc::now(),
            changed_by: principal.acts_for,
        },
    )
    .await?;
    Ok(web::Json(consent_of(&mut conn, phone.into_string()).await?))
}

async fn consent_of(
    conn: &mut wacrm_persistence::AsyncPgConnection,
    phone: String,
) -> ApiResult<ConsentResponse> {
    let current = consent::find(conn, &phone).await?;
    let blocked = consent::find_blocked(conn, &phone).await?.is_some();
    let history = consent::history(conn, &phone, 200).await?;
    Ok(ConsentResponse {
        state: current
            .as_ref()
            .map_or("unknown", |current| current.state.as_str())
            .to_owned(),
        reason: current.as_ref().and_then(|current| current.reason.clone()),
        source: current.as_ref().map(|current| current.source.clone()),
        changed_at: current.as_ref().map(|current| current.changed_at),
        blocked,
        history: history.into_iter().map(Into::into).collect(),
        phone,
    })
}

/// Stop and start words (each matched against a customer's whole message, case,
/// accents and surrounding punctuation ignored; blank entries are dropped) and the
/// replies that confirm them.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentSettingsBody {
    #[schema(max_items = 100, example = json!(["STOP", "UNSUBSCRIBE", "BAJA"]))]
    pub stop_words: Vec<String>,
    #[schema(max_items = 100, example = json!(["START", "SUBSCRIBE"]))]
    pub start_words: Vec<String>,
    /// Sent inside the window after a stop word; null: no reply.
    #[schema(max_length = 1024)]
    pub stop_reply: Option<String>,
    /// Sent after a start word; null: no reply.
    #[schema(max_length = 1024)]
    pub start_reply: Option<String>,
}

impl From<ConsentSettings> for ConsentSettingsBody {
    fn from(settings: ConsentSettings) -> Self {
        Self {
            stop_words: settings.stop_words,
            start_words: settings.start_words,
            stop_reply: settings.stop_reply,
            start_reply: settings.start_reply,
        }
    }
}

impl ConsentSettingsBody {
    fn settings(&self) -> ApiResult<ConsentSettings> {
        let mut checks = Checks::default();
        let mut words = |field: &str, list: &[String]| -> Vec<String> {
            if list.len() > 100 {
                checks.fail(field, "at most 100 words");
            }
            // A blank entry is no word (as a blank reply is no reply).
            list.iter()
                .filter(|word| !word.trim().is_empty())
                .map(|word| {
                    let word = checks.text(field, word, 64);
                    if !word.is_empty() && text::normalize(&word).is_empty() {
                        checks.fail(field, format!("`{word}` has no letters or digits"));
                    }
                    word
                })
                .collect()
        };
        let stop_words = words("stop_words", &self.stop_words);
        let start_words = words("start_words", &self.start_words);
        for word in &stop_words {
            let said = text::normalize(word);
            if start_words
                .iter()
                .any(|start| text::normalize(start) == said)
            {
                checks.fail("start_words", format!("`{word}` is also a stop word"));
            }
        }
        // A blank reply is no reply, as null is.
        let mut reply = |field: &str, value: &Option<String>| {
            value
                .as_deref()
                .filter(|reply| !reply.trim().is_empty())
                .map(|reply| checks.text(field, reply, 1024))
        };
        let stop_reply = reply("stop_reply", &self.stop_reply);
        let start_reply = reply("start_reply", &self.start_reply);
        checks.finish()?;
        Ok(ConsentSettings {
            stop_words,
            start_words,
            stop_reply,
            start_reply,
        })
    }
}

#[utoipa::path(tag = "settings", security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = ConsentSettingsBody),
))]
#[get("/settings/consent")]
pub async fn get_consent_settings(
    state: web::Data<AppState>,
    principal: Principal,
) -> ApiResult<web::Json<ConsentSettingsBody>> {
    principal.require(Permission::ADMIN)?;
    let mut conn = state.conn().await?;
    let stored: ConsentSettings = settings::load(&mut conn, ConsentSettings::KEY).await?;
    Ok(web::Json(stored.into()))
}

#[utoipa::path(tag = "settings", request_body = ConsentSettingsBody, security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = ConsentSettingsBody),
    (status = 422, body = Problem, content_type = "application/problem+json", description = "`validation_failed`"),
))]
#[put("/settings/consent")]
pub async fn put_consent_settings(
    state: web::Data<AppState>,
    principal: Principal,
    body: web::Json<ConsentSettingsBody>,
) -> ApiResult<web::Json<ConsentSettingsBody>> {
    principal.require(Permission::ADMIN)?;
    let value = body.settings()?;
    let mut conn = state.conn().await?;
    settings::save(&mut conn, ConsentSettings::KEY, &value).await?;
    Ok(web::Json(value.into()))
}
