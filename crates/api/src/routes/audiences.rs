//! Audience previews: how many distinct phones an audience reaches now, what
//! is left out and why, and a sample, before anything is sent.

use actix_web::{post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use wacrm_domain::Permission;
use wacrm_domain::audiences::Audience;
use wacrm_persistence::audiences::{self, Resolved};
use wacrm_persistence::{StoreError, whatsapp_groups};

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, FieldError};
use crate::phone_consent::ConsentState;
use crate::state::AppState;
use crate::validation::Checks;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"audience": {"whatsapp_contacts": {"label": "vip"}}}))]
pub struct PreviewAudienceRequest {
    /// Exactly one of `leads`, `contacts`, `whatsapp_contacts` (a filter),
    /// `whatsapp_groups` (1 to 100 group ids) or `segment_id`.
    #[schema(value_type = Audience)]
    pub audience: serde_json::Value,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "size": 2, "records": 4,
    "excluded": {"no_phone": 1, "invalid_phone": 0, "opted_out": 1, "blocked": 0, "duplicate": 1},
    "sample": [{"rel_type": "lead", "id": "0193a5b0-7f1e-7c3a-9b1e-3f5d2c1a0b9e", "name": "Ana", "phone": "254712345678", "consent": "subscribed"}]
}))]
pub struct AudiencePreview {
    /// Distinct phones that would be sent to (opted-out ones included: see
    /// `excluded.opted_out`).
    pub size: i64,
    /// Matching records (a contact in two of the groups counts twice).
    pub records: i64,
    pub excluded: Excluded,
    /// Up to 10 recipients, oldest record first.
    pub sample: Vec<SampleRecipient>,
}

/// Records left out, by reason (each record counts once, under the first
/// reason that applies in this order: no phone, invalid phone, blocked,
/// duplicate).
#[derive(Serialize, ToSchema)]
pub struct Excluded {
    pub no_phone: i64,
    /// A phone that is not a number (stored before it was checked).
    pub invalid_phone: i64,
    /// Informational: recipients counted in `size` whose phone opted out;
    /// only MARKETING templates skip them.
    pub opted_out: i64,
    pub blocked: i64,
    /// Records whose phone another record already stands for.
    pub duplicate: i64,
}

#[derive(Serialize, ToSchema)]
pub struct SampleRecipient {
    /// `lead`, `contact` or `whatsapp_contact`.
    #[schema(example = "lead")]
    pub rel_type: String,
    pub id: Uuid,
    pub name: Option<String>,
    /// E.164 digits without `+`.
    pub phone: String,
    pub consent: ConsentState,
}

/// Preview an audience.
#[utoipa::path(tag = "audiences", request_body = PreviewAudienceRequest, security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = AudiencePreview),
))]
#[post("/audiences/preview")]
pub async fn preview_audience(
    state: web::Data<AppState>,
    principal: Principal,
    body: web::Json<PreviewAudienceRequest>,
) -> ApiResult<web::Json<AudiencePreview>> {
    let audience = parse(body.into_inner().audience)?;
    let mut conn = state.conn().await?;
    let resolved = match audiences::resolve(&mut conn, audience).await {
        Err(StoreError::NotFound) => {
            return Err(ApiError::invalid_reference("audience.segment_id"));
        }
        other => other?,
    };
    // The sample shows records: the caller needs to be able to view them.
    principal.require(match &resolved {
        Resolved::Leads(_) => Permission::LEADS_VIEW,
        Resolved::Contacts(_) => Permission::CONTACTS_VIEW,
        Resolved::WhatsappContacts(_) | Resolved::WhatsappGroups(_) => {
            Permission::WHATSAPP_CONTACTS_VIEW
        }
    })?;
    if let Resolved::WhatsappGroups(ids) = &resolved
        && !whatsapp_groups::unknown_groups(&mut conn, ids)
            .await?
            .is_empty()
    {
        return Err(ApiError::invalid_reference("audience.whatsapp_groups"));
    }
    let (counts, sample) = audiences::preview(&mut conn, &resolved).await?;
    Ok(web::Json(AudiencePreview {
        size: counts.size,
        records: counts.records,
        excluded: Excluded {
            no_phone: counts.no_phone,
            invalid_phone: counts.invalid_phone,
            opted_out: counts.opted_out,
            blocked: counts.blocked,
            duplicate: counts.duplicate,
        },
        sample: sample
            .into_iter()
            .map(|row| SampleRecipient {
                rel_type: row.rel_type,
                id: row.rel_id,
                name: row.name,
                phone: row.phone,
                consent: ConsentState::parse(Some(&row.consent)),
            })
            .collect(),
    }))
}

/// The audience, or 422 naming what is wrong with it (not one kind, an
/// unknown field, a bad filter value).
fn parse(value: serde_json::Value) -> ApiResult<Audience> {
    let audience = serde_json::from_value::<Audience>(value).map_err(|error| {
        ApiError::validation(vec![FieldError {
            field: "audience".into(),
            message: format!(
                "must be exactly one of leads, contacts, whatsapp_contacts, whatsapp_groups or segment_id: {error}"
            ),
        }])
    })?;
    let mut checks = Checks::default();
    checks.filter("audience.", audience.validate());
    checks.finish()?;
    Ok(audience)
}
