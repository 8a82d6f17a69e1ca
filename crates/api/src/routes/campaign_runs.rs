//! A campaign's runs and what each did: the funnel and the reasons, the
//! recipients with their status (filterable), and the recipients as CSV.
//! A recipient's status is its own until its message exists (`pending`,
//! `skipped`, `failed`), then its message's (`queued`, `sent`, `delivered`,
//! `read`, `failed`), which the status webhooks move forward only.

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{HttpResponse, get, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use wacrm_domain::Permission;
use wacrm_persistence::campaigns::recipients::{self, RecipientView};
use wacrm_persistence::campaigns::runs::{self, CampaignRun};
use wacrm_persistence::{PgPool, campaigns};

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::pagination::{PageResponse, SequencePageParams, numeric_cursor};
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct CampaignRunResponse {
    pub id: Uuid,
    pub campaign_id: Uuid,
    /// 1 for the schedule's first occurrence, 2 for the next, ...
    pub occurrence: i32,
    pub scheduled_at: DateTime<Utc>,
    #[schema(pattern = "^(scheduled|running|paused|completed|cancelled)$")]
    pub status: String,
    pub pause_reason: Option<String>,
    pub pause_detail: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
}

impl From<CampaignRun> for CampaignRunResponse {
    fn from(run: CampaignRun) -> Self {
        Self {
            id: run.id,
            campaign_id: run.campaign_id,
            occurrence: run.occurrence,
            scheduled_at: run.scheduled_at,
            status: run.status,
            pause_reason: run.pause_reason,
            pause_detail: run.pause_detail,
            started_at: run.started_at,
            completed_at: run.completed_at,
        }
    }
}

/// A campaign's runs, latest first.
#[utoipa::path(tag = "campaigns", params(("id" = Uuid, Path)), security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = Vec<CampaignRunResponse>),
))]
#[get("/campaigns/{id}/runs")]
pub async fn list_campaign_runs(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<web::Json<Vec<CampaignRunResponse>>> {
    principal.require(Permission::WHATSAPP_CAMPAIGN_VIEW)?;
    let mut conn = state.conn().await?;
    campaigns::find(&mut conn, *id).await?;
    let runs = runs::of_campaign(&mut conn, *id).await?;
    Ok(web::Json(runs.into_iter().map(Into::into).collect()))
}

/// How many recipients were skipped or failed for one reason.
#[derive(Serialize, ToSchema)]
pub struct ReasonCount {
    #[schema(pattern = "^(skipped|failed)$")]
    pub status: String,
    /// `no_phone`, `invalid_phone`, `blocked`, `opted_out`,
    /// `missing_variable`, `cancelled`, an outbox refusal, or the
    /// provider's error code (`131026`, `131049`, ...).
    pub reason: String,
    pub count: i64,
}

/// A run's funnel.
#[derive(Serialize, ToSchema)]
pub struct CampaignReport {
    pub run: CampaignRunResponse,
    /// Recipients: one per distinct phone, skipped ones included.
    pub audience: i64,
    /// Records of the audience that shared a phone with another.
    pub duplicates: i32,
    pub skipped: i64,
    pub pending: i64,
    /// Handed to the outbox.
    pub queued: i64,
    pub sent: i64,
    pub delivered: i64,
    pub read: i64,
    /// Wrote back within 72 hours of the send.
    pub replied: i64,
    pub failed: i64,
    /// Opted out of marketing after the send.
    pub opted_out_after: i64,
    pub reasons: Vec<ReasonCount>,
}

/// A run's report: the funnel, and the skipped and failed recipients by reason.
#[utoipa::path(tag = "campaigns", params(("id" = Uuid, Path, description = "The run's id")), security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = CampaignReport),
))]
#[get("/campaigns/runs/{id}/report")]
pub async fn get_campaign_report(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<web::Json<CampaignReport>> {
    principal.require(Permission::WHATSAPP_CAMPAIGN_VIEW)?;
    let mut conn = state.conn().await?;
    let run = runs::find(&mut conn, *id).await?;
    let funnel = recipients::funnel(&mut conn, run.id).await?;
    let reasons = recipients::reasons(&mut conn, run.id).await?;
    Ok(web::Json(CampaignReport {
        duplicates: run.duplicates,
        run: run.into(),
        audience: funnel.audience,
        skipped: funnel.skipped,
        pending: funnel.pending,
        queued: funnel.queued,
        sent: funnel.sent,
        delivered: funnel.delivered,
        read: funnel.read,
        replied: funnel.replied,
        failed: funnel.failed,
        opted_out_after: funnel.opted_out_after,
        reasons: reasons
            .into_iter()
            .map(|(status, reason, count)| ReasonCount {
                status,
                reason,
                count,
            })
            .collect(),
    }))
}

#[derive(Serialize, ToSchema)]
pub struct CampaignRecipientResponse {
    pub id: i64,
    /// E.164 digits; `null` when the record had no valid phone.
    pub phone: Option<String>,
    #[schema(pattern = "^(lead|contact|whatsapp_contact)$")]
    pub rel_type: String,
    pub rel_id: Option<Uuid>,
    pub name: Option<String>,
    #[schema(pattern = "^(pending|skipped|failed|queued|sent|delivered|read|played)$")]
    pub status: String,
    /// Why it was skipped or failed (a provider error code for a failed send).
    pub reason: Option<String>,
    pub detail: Option<String>,
    pub message_id: Option<Uuid>,
    pub queued_at: Option<DateTime<Utc>>,
    /// When its message last changed.
    pub updated_at: Option<DateTime<Utc>>,
}

impl From<RecipientView> for CampaignRecipientResponse {
    fn from(row: RecipientView) -> Self {
        Self {
            id: row.id,
            phone: row.phone,
            rel_type: row.rel_type,
            rel_id: row.rel_id,
            name: row.name,
            status: row.status,
            reason: row.reason,
            detail: row.detail,
            message_id: row.message_id,
            queued_at: row.queued_at,
            updated_at: row.updated_at,
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RecipientQuery {
    /// Only recipients in this status.
    #[param(pattern = "^(pending|skipped|failed|queued|sent|delivered|read|played)$")]
    pub status: Option<String>,
}

const STATUSES: [&str; 8] = [
    "pending",
    "skipped",
    "failed",
    "queued",
    "sent",
    "delivered",
    "read",
    "played",
];

fn status_filter(query: &RecipientQuery) -> ApiResult<Option<String>> {
    match query.status.as_deref() {
        None => Ok(None),
        Some(status) if STATUSES.contains(&status) => Ok(Some(status.to_owned())),
        Some(_) => Err(ApiError::bad_request(
            "invalid_query",
            "status must be one of pending, skipped, failed, queued, sent, delivered, read, played",
        )),
    }
}

/// A run's recipients in the order they were materialised.
#[utoipa::path(tag = "campaigns", params(("id" = Uuid, Path, description = "The run's id"), SequencePageParams, RecipientQuery), security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = PageResponse<CampaignRecipientResponse>),
))]
#[get("/campaigns/runs/{id}/recipients")]
pub async fn list_campaign_recipients(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
    page: web::Query<SequencePageParams>,
    query: web::Query<RecipientQuery>,
) -> ApiResult<web::Json<PageResponse<CampaignRecipientResponse>>> {
    principal.require(Permission::WHATSAPP_CAMPAIGN_VIEW)?;
    let status = status_filter(&query)?;
    let (after, limit) = page.numeric()?;
    let mut conn = state.conn().await?;
    runs::find(&mut conn, *id).await?;
    let mut rows = recipients::list(&mut conn, *id, status.as_deref(), after, limit + 1).await?;
    let more = rows.len() > usize::try_from(limit).unwrap_or(usize::MAX);
    rows.truncate(usize::try_from(limit).unwrap_or(0));
    let next_cursor = more
        .then(|| rows.last().map(|row| numeric_cursor(row.id)))
        .flatten();
    Ok(web::Json(PageResponse {
        items: rows.into_iter().map(Into::into).collect(),
        next_cursor,
    }))
}

/// Recipients per page of the export.
const EXPORT_PAGE: i64 = 1000;

/// A run's recipients as CSV (the same filter as the list).
#[utoipa::path(tag = "campaigns", params(("id" = Uuid, Path, description = "The run's id"), RecipientQuery), security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, content_type = "text/csv", body = String, description = "A header row, then one row per recipient: `phone, name, rel_type, rel_id, status, reason, detail, message_id, queued_at, updated_at`."),
))]
#[get("/campaigns/runs/{id}/recipients/export")]
pub async fn export_campaign_recipients(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
    query: web::Query<RecipientQuery>,
) -> ApiResult<HttpResponse> {
    principal.require(Permission::WHATSAPP_CAMPAIGN_VIEW)?;
    let status = status_filter(&query)?;
    let mut conn = state.conn().await?;
    runs::find(&mut conn, *id).await?;
    drop(conn);
    let header = csv_row(
        [
            "phone",
            "name",
            "rel_type",
            "rel_id",
            "status",
            "reason",
            "detail",
            "message_id",
            "queued_at",
            "updated_at",
        ]
        .map(str::to_owned),
    )?;
    let pages = futures_util::stream::unfold(
        Some(Pages {
            pool: state.pool.clone(),
            run_id: *id,
            status,
            after: None,
        }),
        next_chunk,
    );
    let body = futures_util::StreamExt::chain(
        futures_util::stream::once(async move { Ok::<_, actix_web::Error>(header) }),
        pages,
    );
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"campaign-run-{id}.csv\""),
        ))
        .streaming(body))
}

struct Pages {
    pool: PgPool,
    run_id: Uuid,
    status: Option<String>,
    after: Option<i64>,
}

/// The next page as CSV rows; `None` after the last. A failure ends the
/// stream with an error (a cut-off body, never a false end).
async fn next_chunk(
    pages: Option<Pages>,
) -> Option<(Result<Bytes, actix_web::Error>, Option<Pages>)> {
    let mut pages = pages?;
    // A connection per page: a slow reader holds none between pages.
    let rows = async {
        let mut conn = pages.pool.get().await?;
        recipients::list(
            &mut conn,
            pages.run_id,
            pages.status.as_deref(),
            pages.after,
            EXPORT_PAGE,
        )
        .await
    }
    .await;
    let rows = match rows {
        Ok(rows) => rows,
        Err(error) => return Some((Err(ApiError::from(error).into()), None)),
    };
    let full = i64::try_from(rows.len()).unwrap_or(0) == EXPORT_PAGE;
    pages.after = rows.last().map(|row| row.id);
    let chunk = rows
        .into_iter()
        .map(|row| {
            let time = |at: Option<DateTime<Utc>>| at.map(|at| at.to_rfc3339()).unwrap_or_default();
            csv_row([
                row.phone.unwrap_or_default(),
                row.name.unwrap_or_default(),
                row.rel_type,
                row.rel_id.map(|id| id.to_string()).unwrap_or_default(),
                row.status,
                row.reason.unwrap_or_default(),
                row.detail.unwrap_or_default(),
                row.message_id.map(|id| id.to_string()).unwrap_or_default(),
                time(row.queued_at),
                time(row.updated_at),
            ])
        })
        .collect::<ApiResult<Vec<Bytes>>>()
        .map(|rows| Bytes::from(rows.concat()))
        .map_err(actix_web::Error::from);
    Some((chunk, full.then_some(pages)))
}

fn csv_row(cells: impl IntoIterator<Item = String>) -> ApiResult<Bytes> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(cells).map_err(ApiError::internal)?;
    writer
        .into_inner()
        .map(Bytes::from)
        .map_err(ApiError::internal)
}
