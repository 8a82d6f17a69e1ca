//! System errors providers reported outside any message (Meta's webhook `errors`,
//! and messages too broken to store), for admins to see what the provider said.

use actix_web::{get, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use wacrm_domain::Permission;
use wacrm_persistence::provider_errors::{self, ProviderErrorRow};

use crate::auth::Principal;
use crate::error::{ApiResult, Problem};
use crate::pagination::{PageParams, PageResponse};
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct ProviderErrorResponse {
    pub id: Uuid,
    pub connection_id: Uuid,
    /// The business number the error came with, when we have it.
    pub number_id: Option<Uuid>,
    /// The provider's code (e.g. Meta's `131000`); `unreadable_message` when a
    /// message in a webhook could not be read at all.
    pub code: String,
    pub title: String,
    pub details: Option<String>,
    /// The error as the provider wrote it.
    pub raw: serde_json::Value,
    /// When the webhook that carried it arrived.
    pub occurred_at: DateTime<Utc>,
}

impl From<ProviderErrorRow> for ProviderErrorResponse {
    fn from(row: ProviderErrorRow) -> Self {
        Self {
            id: row.id,
            connection_id: row.connection_id,
            number_id: row.number_id,
            code: row.code,
            title: row.title,
            details: row.details,
            raw: row.raw,
            occurred_at: row.occurred_at,
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProviderErrorQuery {
    /// Only this connection's errors.
    pub connection_id: Option<Uuid>,
}

/// System errors reported by providers, newest first.
#[utoipa::path(tag = "admin", params(PageParams, ProviderErrorQuery), security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = PageResponse<ProviderErrorResponse>),
    (status = 400, body = Problem, content_type = "application/problem+json", description = "`invalid_query` or `invalid_cursor`"),
    (status = 403, body = Problem, content_type = "application/problem+json"),
))]
#[get("/admin/provider-errors")]
pub async fn list_provider_errors(
    state: web::Data<AppState>,
    principal: Principal,
    page: web::Query<PageParams>,
    query: web::Query<ProviderErrorQuery>,
) -> ApiResult<web::Json<PageResponse<ProviderErrorResponse>>> {
    principal.require(Permission::ADMIN)?;
    let mut conn = state.conn().await?;
    let page = provider_errors::list(&mut conn, query.connection_id, page.request()?).await?;
    Ok(web::Json(PageResponse::from_page(page, Into::into)))
}
