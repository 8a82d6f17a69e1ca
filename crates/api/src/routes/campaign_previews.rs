//! Seeing a campaign before it goes: `preview` renders the message for the
//! first recipients a run would have now (or says why one would be skipped),
//! and `test` sends it, rendered for the first of them, to a staff member's
//! phone through the outbox like any send.

use actix_web::{HttpResponse, post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use wacrm_domain::Permission;
use wacrm_domain::audiences::Audience;
use wacrm_domain::outbound::OutboundContent;
use wacrm_domain::template;
use wacrm_domain::template_mapping::MappedParameters;
use wacrm_persistence::campaigns::recipients::{self, Prospect};
use wacrm_persistence::campaigns::{self as store, Campaign};
use wacrm_persistence::templates::Template;
use wacrm_persistence::{AsyncPgConnection, StoreError, audiences, numbers, templates};

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, FieldError, Problem};
use crate::sending::{self, Outgoing, Recipient};
use crate::state::AppState;

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct PreviewRequest {
    /// How many recipients to render, 1 to 20 (default 5).
    #[schema(minimum = 1, maximum = 20)]
    #[serde(default, deserialize_with = "crate::validation::whole_number")]
    pub limit: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct PreviewedRecipient {
    pub phone: Option<String>,
    pub name: Option<String>,
    #[schema(pattern = "^(lead|contact|whatsapp_contact)$")]
    pub rel_type: String,
    pub rel_id: Option<Uuid>,
    /// `send`, or `skip` with the `reason`.
    #[schema(pattern = "^(send|skip)$")]
    pub outcome: String,
    /// `no_phone`, `invalid_phone`, `blocked`, `opted_out` or `missing_variable`.
    pub reason: Option<String>,
    /// The body as the recipient would read it.
    pub body: Option<String>,
    /// The template message as it would be sent.
    #[schema(value_type = Option<Object>)]
    pub message: Option<OutboundContent>,
}

#[derive(Serialize, ToSchema)]
pub struct CampaignPreview {
    pub recipients: Vec<PreviewedRecipient>,
}

/// The campaign's template (APPROVED or not: a preview shows a draft too).
async fn template_of(
    conn: &mut AsyncPgConnection,
    campaign: &Campaign,
) -> ApiResult<(Template, Uuid)> {
    let number = numbers::find(conn, campaign.number_id).await?;
    let found = templates::find_for_send(
        conn,
        number.connection_id,
        &campaign.template_name,
        &campaign.template_language,
    )
    .await?;
    let Some(found) = found else {
        return Err(ApiError::new(
            actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
            "campaign_not_startable",
            "the campaign's template is not on its number's connection",
        )
        .with_errors(vec![FieldError {
            field: "template".into(),
            message: "no such template on the number's connection (sync the templates first)"
                .into(),
        }]));
    };
    Ok((found, number.connection_id))
}

/// Renders the campaign for the first `limit` recipients it would have now.
async fn render(
    conn: &mut AsyncPgConnection,
    campaign: &Campaign,
    limit: i64,
) -> ApiResult<Vec<PreviewedRecipient>> {
    let (template, connection_id) = template_of(conn, campaign).await?;
    let audience: Audience =
        serde_json::from_value(campaign.audience.clone()).map_err(ApiError::internal)?;
    let resolved = match audiences::resolve(conn, audience).await {
        Ok(resolved) => resolved,
        Err(StoreError::NotFound) => {
            return Err(ApiError::invalid_reference("audience.segment_id"));
        }
        Err(error) => return Err(error.into()),
    };
    let marketing = wacrm_worker::campaigns::needs_consent(conn, campaign, connection_id).await?;
    let prospects = recipients::prospects(conn, &resolved, marketing, limit).await?;
    let parameters: MappedParameters =
        serde_json::from_value(campaign.parameters.clone()).map_err(ApiError::internal)?;
    let requirements = template::requirements(&template.components);
    Ok(prospects
        .into_iter()
        .map(|prospect| previewed(campaign, &template, &parameters, &requirements, prospect))
        .collect())
}

fn previewed(
    campaign: &Campaign,
    found: &Template,
    parameters: &MappedParameters,
    requirements: &template::TemplateRequirements,
    prospect: Prospect,
) -> PreviewedRecipient {
    let mut answer = PreviewedRecipient {
        phone: prospect.phone,
        name: prospect.name,
        rel_type: prospect.rel_type,
        rel_id: prospect.rel_id,
        outcome: "skip".into(),
        reason: prospect.reason,
        body: None,
        message: None,
    };
    if prospect.status != "pending" {
        return answer;
    }
    match parameters.render(
        &campaign.template_name,
        &campaign.template_language,
        requirements,
        &prospect.record,
    ) {
        Ok(message) => {
            if let OutboundContent::Template {
                body_params,
                body_param_names,
                ..
            } = &message
            {
                answer.body = template::body_text(&found.components, body_params, body_param_names);
            }
            answer.outcome = "send".into();
            answer.message = Some(message);
        }
        Err(field) => answer.reason = Some(format!("missing_variable: {field}")),
    }
    answer
}

/// Render the campaign for the first recipients it would reach now: their
/// message, or why they would be skipped.
#[utoipa::path(tag = "campaigns", params(("id" = Uuid, Path)), request_body = PreviewRequest, security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = CampaignPreview),
    (status = 422, body = Problem, content_type = "application/problem+json", description = "`campaign_not_startable`: the template is not on the number's connection; `invalid_reference`: the audience's segment is gone"),
))]
#[post("/campaigns/{id}/preview")]
pub async fn preview_campaign(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
    body: Option<web::Json<PreviewRequest>>,
) -> ApiResult<web::Json<CampaignPreview>> {
    principal.require(Permission::WHATSAPP_CAMPAIGN_VIEW)?;
    let limit = body
        .map(web::Json::into_inner)
        .unwrap_or_default()
        .limit
        .unwrap_or(5);
    if !(1..=20).contains(&limit) {
        return Err(ApiError::validation(vec![FieldError {
            field: "limit".into(),
            message: "must be between 1 and 20".into(),
        }]));
    }
    let mut conn = state.conn().await?;
    let campaign = store::find(&mut conn, *id).await?;
    let recipients = render(&mut conn, &campaign, limit).await?;
    Ok(web::Json(CampaignPreview { recipients }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CampaignTestRequest {
    /// The staff member's phone (any spelling; E.164 preferred).
    #[schema(min_length = 5, max_length = 32, example = "+254712000009")]
    pub to_phone: String,
}

/// Send the campaign's message, rendered for its first recipient, to a
/// staff member's phone (through the outbox: an approved template, consent).
#[utoipa::path(tag = "campaigns", params(("id" = Uuid, Path)), request_body = CampaignTestRequest, security(("bearer" = []), ("api_key" = [])), responses(
    (status = 202, body = Object, description = "The queued message, as `POST /api/v1/messages` answers"),
    (status = 422, body = Problem, content_type = "application/problem+json", description = "`campaign_not_startable`: no recipient of the audience can be rendered, or the template is missing; the outbox's refusals (`template_not_approved`, `recipient_opted_out`, ...)"),
))]
#[post("/campaigns/{id}/test")]
pub async fn test_campaign(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
    body: web::Json<CampaignTestRequest>,
) -> ApiResult<HttpResponse> {
    principal.require(Permission::WHATSAPP_CAMPAIGN_EDIT)?;
    let mut conn = state.conn().await?;
    let campaign = store::find(&mut conn, *id).await?;
    let rendered = render(&mut conn, &campaign, 20).await?;
    drop(conn);
    let Some(message) = rendered.into_iter().find_map(|recipient| recipient.message) else {
        return Err(ApiError::new(
            actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
            "campaign_not_startable",
            "none of the audience's first recipients can be sent this message",
        )
        .with_hint("preview the campaign to see why"));
    };
    let answer = sending::queue(
        &state,
        &principal,
        Outgoing {
            recipient: Recipient::Phone {
                to_phone: body.into_inner().to_phone,
                number_id: Some(campaign.number_id),
            },
            content: message,
            reply_to: None,
            idempotency: None,
        },
    )
    .await?;
    Ok(HttpResponse::build(
        actix_web::http::StatusCode::from_u16(answer.status).map_err(ApiError::internal)?,
    )
    .json(answer.body))
}
