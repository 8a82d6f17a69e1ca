//! The WhatsApp contact list as CSV, streamed a page at a time so 100,000
//! contacts never sit in memory at once.
//!
//! Columns: `id, name, phone, phone_normalized, language, time_zone, labels`
//! (`;`-joined), `opt_in_status, opt_in_source, opt_in_at, consent, blocked`,
//! then one `custom_fields.<key>` column per custom-field key any matching
//! contact has (sorted; empty where a contact lacks it). An import maps those
//! columns back one to one: `phone`, `name`, `language`, `time_zone`, `labels`
//! split on `;`, and each `custom_fields.<key>` to the custom field `<key>`.

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{HttpResponse, get, web};
use uuid::Uuid;
use wacrm_domain::Permission;
use wacrm_domain::audiences::WhatsappContactFilter;
use wacrm_persistence::whatsapp_contacts::{self, ListedWhatsappContact};
use wacrm_persistence::{PageRequest, PgPool, StoreError};

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::phone_consent::ConsentState;
use crate::routes::whatsapp_contacts::{WhatsappContactQuery, string_fields};
use crate::state::AppState;

/// Contacts per page read (and per chunk written).
const PAGE: i64 = 1000;

/// The prefix of custom-field columns.
pub const CUSTOM_FIELD_PREFIX: &str = "custom_fields.";

const FIXED_COLUMNS: [&str; 12] = [
    "id",
    "name",
    "phone",
    "phone_normalized",
    "language",
    "time_zone",
    "labels",
    "opt_in_status",
    "opt_in_source",
    "opt_in_at",
    "consent",
    "blocked",
];

/// Export WhatsApp contacts as CSV (the list's filters and order).
#[utoipa::path(tag = "whatsapp-contacts", params(WhatsappContactQuery), security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, content_type = "text/csv", body = String, description = "A header row, then one row per contact, newest first. Columns: `id, name, phone, phone_normalized, language, time_zone, labels` (`;`-joined), `opt_in_status, opt_in_source, opt_in_at, consent, blocked`, then `custom_fields.<key>` for every custom-field key the matching contacts use (sorted)."),
))]
#[get("/whatsapp-contacts/export")]
pub async fn export_whatsapp_contacts(
    state: web::Data<AppState>,
    principal: Principal,
    query: web::Query<WhatsappContactQuery>,
) -> ApiResult<HttpResponse> {
    principal.require(Permission::WHATSAPP_CONTACTS_VIEW)?;
    let filter = query.into_inner().filter()?;
    let mut conn = state.conn().await?;
    let keys = whatsapp_contacts::custom_field_keys(&mut conn, &filter).await?;
    drop(conn);
    let header = csv_record(
        FIXED_COLUMNS
            .iter()
            .map(|column| (*column).to_owned())
            .chain(keys.iter().map(|key| format!("{CUSTOM_FIELD_PREFIX}{key}"))),
    )?;
    let pages = futures_util::stream::unfold(
        Some(Pages {
            pool: state.pool.clone(),
            filter,
            keys,
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
            "attachment; filename=\"whatsapp-contacts.csv\"",
        ))
        .streaming(body))
}

/// Where the export stands: the next page starts after `after`.
struct Pages {
    pool: PgPool,
    filter: WhatsappContactFilter,
    keys: Vec<String>,
    after: Option<Uuid>,
}

/// The next page as CSV rows; `None` after the last. A failure ends the
/// stream with an error (the client sees a cut-off body, never a false end).
async fn next_chunk(
    pages: Option<Pages>,
) -> Option<(Result<Bytes, actix_web::Error>, Option<Pages>)> {
    let mut pages = pages?;
    let page = match read_page(&pages).await {
        Ok(page) => page,
        Err(error) => return Some((Err(ApiError::from(error).into()), None)),
    };
    let chunk = page
        .items
        .into_iter()
        .map(|contact| record(contact, &pages.keys))
        .collect::<ApiResult<Vec<Bytes>>>()
        .map(|rows| Bytes::from(rows.concat()))
        .map_err(actix_web::Error::from);
    let more = page.next.is_some();
    pages.after = page.next;
    Some((chunk, more.then_some(pages)))
}

async fn read_page(
    pages: &Pages,
) -> Result<wacrm_persistence::Page<ListedWhatsappContact>, StoreError> {
    // A connection per page: a slow reader holds no connection between pages.
    let mut conn = pages.pool.get().await?;
    whatsapp_contacts::list(
        &mut conn,
        &pages.filter,
        PageRequest {
            after: pages.after,
            limit: PAGE,
        },
    )
    .await
}

/// One contact's row, its custom fields in `keys` order.
fn record(row: ListedWhatsappContact, keys: &[String]) -> ApiResult<Bytes> {
    let consent = ConsentState::parse(row.consent.consent_state.as_deref()).as_str();
    let contact = row.contact;
    let mut fields = string_fields(contact.custom_fields);
    let fixed = [
        contact.id.to_string(),
        contact.name.unwrap_or_default(),
        contact.phone,
        contact.phone_normalized,
        contact.language.unwrap_or_default(),
        contact.time_zone,
        contact.labels.join(";"),
        contact.opt_in_status,
        contact.opt_in_source.unwrap_or_default(),
        contact
            .opt_in_at
            .map(|at| at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .unwrap_or_default(),
        consent.to_owned(),
        row.consent.blocked.to_string(),
    ];
    let custom = keys
        .iter()
        .map(|key| fields.remove(key).unwrap_or_default());
    csv_record(fixed.into_iter().chain(custom))
}

/// One CSV record, quoted where needed.
fn csv_record(cells: impl IntoIterator<Item = String>) -> ApiResult<Bytes> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(cells).map_err(ApiError::internal)?;
    writer
        .into_inner()
        .map(Bytes::from)
        .map_err(ApiError::internal)
}
