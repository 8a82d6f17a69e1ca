//! CSV imports into WhatsApp contacts: the upload (create: `whatsapp_contacts:create`),
//! then the import's progress and its row errors (read: `whatsapp_contacts:view`).
//! The rows themselves are imported by the `import_contacts` job.

use std::collections::BTreeMap;

use actix_multipart::{Multipart, MultipartError};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use diesel_async::AsyncConnection as _;
use futures_util::StreamExt as _;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use wacrm_domain::contact_imports::{self as rules, Header, Mapping, MappingError};
use wacrm_domain::{Country, Permission};
use wacrm_persistence::AsyncPgConnection;
use wacrm_persistence::contact_imports::{self, CHUNK_BYTES, ContactImport, QueuedImport};
use wacrm_worker::jobs::ImportContacts;

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, FieldError, Problem};
use crate::pagination::{SequencePageParams, numeric_cursor};
use crate::state::AppState;

/// The largest `options` part.
const MAX_OPTIONS_BYTES: usize = 64 * 1024;
/// Most columns a mapping may name.
const MAX_MAPPED_COLUMNS: usize = 200;

/// The `multipart/form-data` body of an import: exactly these two parts
/// (422 `unexpected_part` for any other).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct ImportUpload {
    /// The CSV file (RFC 4180, UTF-8, comma-separated, first row the header),
    /// at most `WACRM_IMPORT_MAX_BYTES` (64 MiB by default).
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
    /// The import's options, as JSON text.
    options: ImportOptions,
}

/// How to read the file.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "mapping": {"Mobile": "phone", "Full name": "name", "Tags": "labels", "Tier": "custom_fields.tier"},
    "default_country": "KE", "on_duplicate": "update", "dry_run": false
}))]
pub struct ImportOptions {
    /// CSV header -> where the column goes: `phone` (required), `name`,
    /// `language`, `time_zone` (IANA), `labels` (split on `label_separator`)
    /// or `custom_fields.<key>` (key: letters, digits, `_`). Columns not named
    /// are ignored.
    #[schema(value_type = BTreeMap<String, MappingTarget>)]
    pub mapping: BTreeMap<String, String>,
    /// ISO 3166 alpha-2 country of national numbers (`0712 345678`); default:
    /// the server's `WACRM_DEFAULT_COUNTRY`.
    #[schema(pattern = "^[A-Za-z]{2}$", example = "KE")]
    pub default_country: Option<String>,
    /// A row whose phone is already a contact: `update` it (the row's values
    /// win, empty cells keep the stored ones, labels and custom fields are
    /// added) or `skip` it. Within the file, the later row wins (`update`) or
    /// the first is kept (`skip`).
    #[serde(default)]
    pub on_duplicate: OnDuplicateOption,
    /// Between the labels of a `labels` field.
    #[serde(default)]
    pub label_separator: LabelSeparator,
    /// A WhatsApp group that every imported or matched contact joins.
    pub group_id: Option<Uuid>,
    /// Report what would happen without writing any contact or member.
    #[serde(default)]
    pub dry_run: bool,
}

/// Where a mapped column goes.
// Documents the mapping's values; the mapping itself is checked against the
// header by `wacrm_domain::contact_imports::Mapping`.
#[derive(ToSchema)]
#[schema(
    value_type = String,
    pattern = "^(phone|name|language|time_zone|labels|custom_fields\\.[A-Za-z0-9_]{1,64})$",
    example = "custom_fields.tier"
)]
#[allow(dead_code)]
pub struct MappingTarget(String);

#[derive(Debug, Default, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OnDuplicateOption {
    #[default]
    Update,
    Skip,
}

#[derive(Debug, Default, Clone, Copy, Deserialize, ToSchema)]
pub enum LabelSeparator {
    #[default]
    #[serde(rename = ";")]
    Semicolon,
    #[serde(rename = ",")]
    Comma,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ImportStatus {
    Queued,
    Running,
    Completed,
    Failed,
}

/// An import and what it has done so far.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "01937a4e-0000-7000-8000-000000000001", "status": "completed", "dry_run": false,
    "on_duplicate": "update", "group_id": null, "file_bytes": 5120, "rows_done": 100,
    "created": 90, "updated": 4, "skipped": 0, "duplicates": 3, "failed": 3, "error_count": 4,
    "failure": null, "created_at": "2026-11-30T08:00:00Z", "started_at": "2026-11-30T08:00:01Z",
    "finished_at": "2026-11-30T08:00:02Z"
}))]
pub struct ContactImportResponse {
    pub id: Uuid,
    pub status: ImportStatus,
    pub dry_run: bool,
    #[schema(value_type = OnDuplicateOption)]
    pub on_duplicate: String,
    pub group_id: Option<Uuid>,
    pub file_bytes: i64,
    /// Data rows read (the header is not counted).
    pub rows_done: i64,
    /// New contacts (in a dry run: that would be created).
    pub created: i64,
    /// Existing contacts updated (`update`).
    pub updated: i64,
    /// Existing contacts left as they were (`skip`).
    pub skipped: i64,
    /// Rows whose phone an earlier row of the file had (merged into it).
    pub duplicates: i64,
    /// Rows not imported; see `…/errors`.
    pub failed: i64,
    /// Errors found (a row may have several); the first 10,000 are listed.
    pub error_count: i64,
    /// Why the import stopped, when it failed as a whole.
    pub failure: Option<String>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl From<ContactImport> for ContactImportResponse {
    fn from(row: ContactImport) -> Self {
        Self {
            id: row.id,
            status: match row.status.as_str() {
                "running" => ImportStatus::Running,
                "completed" => ImportStatus::Completed,
                "failed" => ImportStatus::Failed,
                _ => ImportStatus::Queued,
            },
            dry_run: row.dry_run,
            on_duplicate: row.on_duplicate,
            group_id: row.group_id,
            file_bytes: row.file_bytes,
            rows_done: row.rows_done,
            created: row.created,
            updated: row.updated,
            skipped: row.skipped,
            duplicates: row.duplicates,
            failed: row.failed,
            error_count: row.error_count,
            failure: row.failure,
            created_at: row.created_at,
            started_at: row.started_at,
            finished_at: row.finished_at,
        }
    }
}

/// Why a row (or one of its fields) was not imported.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"row": 7, "column": "Mobile", "reason": "`12ab` is not a phone number"}))]
pub struct ImportErrorResponse {
    /// As a spreadsheet numbers it: the header is row 1.
    #[schema(minimum = 2)]
    pub row: i64,
    /// The header of the field at fault; `null` for the row as a whole.
    pub column: Option<String>,
    pub reason: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ImportErrorPage {
    pub items: Vec<ImportErrorResponse>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// Upload a CSV file to import into WhatsApp contacts. The file is stored,
/// its header checked against the mapping, and the rows imported in the
/// background (SSE `import.progress`); follow the answer's `id`.
#[utoipa::path(tag = "whatsapp-contacts",
    request_body(content = ImportUpload, content_type = "multipart/form-data"),
    security(("bearer" = []), ("api_key" = [])), responses(
    (status = 202, body = ContactImportResponse),
    (status = 413, body = Problem, content_type = "application/problem+json", description = "`payload_too_large`: the file is larger than `WACRM_IMPORT_MAX_BYTES`"),
    (status = 415, body = Problem, content_type = "application/problem+json", description = "`unsupported_media_type`: send `multipart/form-data`"),
    (status = 422, body = Problem, content_type = "application/problem+json", description = "`invalid_options` (the options part is not valid JSON of the schema), `missing_part` (`file` or `options`), `unexpected_part`, `invalid_file` (empty, or no header row), `unknown_column`, `phone_column_missing`, `invalid_mapping`, `validation_failed`, or `invalid_reference` (`group_id`); with `errors[]`"),
))]
#[post("/whatsapp-contacts/import")]
pub async fn import_contacts(
    state: web::Data<AppState>,
    principal: Principal,
    request: HttpRequest,
    multipart: Multipart,
) -> ApiResult<HttpResponse> {
    principal.require(Permission::WHATSAPP_CONTACTS_CREATE)?;
    let declared = request
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|bytes| bytes > state.import_max_bytes + MAX_OPTIONS_BYTES as u64) {
        return Err(too_large(state.import_max_bytes));
    }
    let id = Uuid::now_v7();
    let mut conn = state.conn().await?;
    let mut upload = Upload {
        id,
        created_by: principal.staff_id(),
        max_bytes: state.import_max_bytes,
        stored: false,
    };
    let received = upload.receive(&mut conn, multipart).await;
    let queued = match received {
        Ok((options, file)) => upload.queue(&mut conn, &state, options, file).await,
        Err(error) => Err(error),
    };
    match queued {
        Ok(import) => {
            state.jobs.jobs_queued();
            Ok(HttpResponse::Accepted().json(ContactImportResponse::from(import)))
        }
        Err(error) => {
            if upload.stored
                && let Err(cleanup) = contact_imports::discard(&mut conn, id).await
            {
                tracing::warn!(%cleanup, import_id = %id, "cannot discard a refused upload");
            }
            Err(error)
        }
    }
}

#[utoipa::path(tag = "whatsapp-contacts", params(("id" = Uuid, Path)), security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = ContactImportResponse),
))]
#[get("/whatsapp-contacts/import/{id}")]
pub async fn get_contact_import(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<web::Json<ContactImportResponse>> {
    principal.require(Permission::WHATSAPP_CONTACTS_VIEW)?;
    let mut conn = state.conn().await?;
    Ok(web::Json(
        contact_imports::find(&mut conn, *id).await?.into(),
    ))
}

/// The import's row errors in file order (the first 10,000 of `error_count`).
#[utoipa::path(tag = "whatsapp-contacts", params(("id" = Uuid, Path), SequencePageParams), security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = ImportErrorPage),
))]
#[get("/whatsapp-contacts/import/{id}/errors")]
pub async fn list_contact_import_errors(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
    page: web::Query<SequencePageParams>,
) -> ApiResult<web::Json<ImportErrorPage>> {
    principal.require(Permission::WHATSAPP_CONTACTS_VIEW)?;
    let (after, limit) = page.numeric()?;
    let mut conn = state.conn().await?;
    contact_imports::find(&mut conn, *id).await?;
    let mut rows = contact_imports::list_errors(&mut conn, *id, after, limit).await?;
    let more = rows.len() > usize::try_from(limit).unwrap_or(0);
    rows.truncate(usize::try_from(limit).unwrap_or(0));
    let next_cursor = if more {
        rows.last().map(|row| numeric_cursor(row.id))
    } else {
        None
    };
    Ok(web::Json(ImportErrorPage {
        items: rows
            .into_iter()
            .map(|row| ImportErrorResponse {
                row: row.row,
                column: row.column,
                reason: row.reason,
            })
            .collect(),
        next_cursor,
    }))
}

/// One upload being received.
struct Upload {
    id: Uuid,
    created_by: Option<Uuid>,
    max_bytes: u64,
    /// Whether the import row (and so chunks) exists, to discard on refusal.
    stored: bool,
}

/// The file as stored: its size and its first chunk (which holds the header).
struct StoredFile {
    bytes: u64,
    head: Vec<u8>,
}

impl Upload {
    /// Reads the parts, storing the file in chunks as it arrives.
    async fn receive(
        &mut self,
        conn: &mut AsyncPgConnection,
        mut multipart: Multipart,
    ) -> ApiResult<(ImportOptions, StoredFile)> {
        let mut options = None;
        let mut file = None;
        while let Some(field) = multipart.next().await {
            let mut field = field.map_err(malformed)?;
            match field.name() {
                Some("options") if options.is_none() => {
                    let mut text = Vec::new();
                    while let Some(piece) = field.next().await {
                        text.extend_from_slice(&piece.map_err(malformed)?);
                        if text.len() > MAX_OPTIONS_BYTES {
                            return Err(unprocessable(
                                "invalid_options",
                                format!("options are longer than {MAX_OPTIONS_BYTES} bytes"),
                            ));
                        }
                    }
                    options = Some(serde_json::from_slice::<ImportOptions>(&text).map_err(
                        |error| {
                            unprocessable(
                                "invalid_options",
                                format!("the options part is not valid: {error}"),
                            )
                        },
                    )?);
                }
                Some("file") if file.is_none() => {
                    file = Some(self.store(conn, &mut field).await?);
                }
                name => {
                    return Err(unprocessable(
                        "unexpected_part",
                        format!(
                            "the body has an unexpected or repeated part `{}`; send `file` and `options` once",
                            name.unwrap_or_default()
                        ),
                    ));
                }
            }
        }
        let missing =
            |part: &str| unprocessable("missing_part", format!("the body has no `{part}` part"));
        Ok((
            options.ok_or_else(|| missing("options"))?,
            file.ok_or_else(|| missing("file"))?,
        ))
    }

    /// Streams the `file` part into chunks of [`CHUNK_BYTES`], refusing it
    /// once it passes the size limit.
    async fn store(
        &mut self,
        conn: &mut AsyncPgConnection,
        field: &mut actix_multipart::Field,
    ) -> ApiResult<StoredFile> {
        contact_imports::create(conn, self.id, self.created_by).await?;
        self.stored = true;
        let mut buffer: Vec<u8> = Vec::with_capacity(CHUNK_BYTES);
        let mut head = None;
        let mut seq = 0;
        let mut bytes = 0u64;
        while let Some(piece) = field.next().await {
            let piece = piece.map_err(malformed)?;
            bytes += piece.len() as u64;
            if bytes > self.max_bytes {
                return Err(too_large(self.max_bytes));
            }
            let mut piece = &piece[..];
            while !piece.is_empty() {
                let take = piece.len().min(CHUNK_BYTES - buffer.len());
                buffer.extend_from_slice(&piece[..take]);
                piece = &piece[take..];
                if buffer.len() == CHUNK_BYTES {
                    contact_imports::append_chunk(conn, self.id, seq, &buffer).await?;
                    seq += 1;
                    if head.is_none() {
                        head = Some(buffer.clone());
                    }
                    buffer.clear();
                }
            }
        }
        if !buffer.is_empty() {
            contact_imports::append_chunk(conn, self.id, seq, &buffer).await?;
        }
        Ok(StoredFile {
            bytes,
            head: head.unwrap_or(buffer),
        })
    }

    /// Checks the options against the stored file and queues the import.
    async fn queue(
        &self,
        conn: &mut AsyncPgConnection,
        state: &AppState,
        options: ImportOptions,
        file: StoredFile,
    ) -> ApiResult<ContactImport> {
        let header = rules::read_header(&file.head, file.bytes <= CHUNK_BYTES as u64)
            .map_err(|error| unprocessable("invalid_file", error.to_string()))?;
        let queued = options.into_queued(&header, file.bytes, state.default_country)?;
        if let Some(group_id) = queued.group_id
            && !contact_imports::group_exists(conn, group_id).await?
        {
            return Err(ApiError::invalid_reference("options.group_id"));
        }
        let id = self.id;
        conn.transaction::<_, ApiError, _>(async |conn| {
            let import = contact_imports::queue(conn, id, queued).await?;
            wacrm_worker::enqueue(conn, &ImportContacts { import_id: id })
                .await
                .map_err(ApiError::internal)?;
            Ok(import)
        })
        .await
    }
}

impl ImportOptions {
    /// The options as the import stores them, the mapping checked against `header`.
    fn into_queued(
        self,
        header: &Header,
        file_bytes: u64,
        server_country: Option<Country>,
    ) -> ApiResult<QueuedImport> {
        let default_country = match self.default_country.as_deref() {
            Some(code) => Some(code.parse::<Country>().map_err(|_| {
                ApiError::validation(vec![FieldError {
                    field: "options.default_country".into(),
                    message: "is not an ISO 3166 alpha-2 country code".into(),
                }])
            })?),
            None => server_country,
        };
        if self.mapping.len() > MAX_MAPPED_COLUMNS {
            return Err(unprocessable(
                "invalid_mapping",
                format!("the mapping names more than {MAX_MAPPED_COLUMNS} columns"),
            ));
        }
        let requested: Vec<(String, String)> = self.mapping.into_iter().collect();
        let mapping = Mapping::resolve(header, &requested).map_err(mapping_problem)?;
        Ok(QueuedImport {
            status: "queued",
            file_bytes: i64::try_from(file_bytes).unwrap_or(i64::MAX),
            mapping: serde_json::to_value(mapping).map_err(ApiError::internal)?,
            default_country: default_country.map(|country| country.as_str().to_owned()),
            on_duplicate: match self.on_duplicate {
                OnDuplicateOption::Update => "update",
                OnDuplicateOption::Skip => "skip",
            },
            label_separator: match self.label_separator {
                LabelSeparator::Semicolon => ";".into(),
                LabelSeparator::Comma => ",".into(),
            },
            group_id: self.group_id,
            dry_run: self.dry_run,
            byte_offset: i64::try_from(header.end).unwrap_or(0),
        })
    }
}

/// 422 with a code for the first kind of problem and every problem listed.
fn mapping_problem(errors: Vec<MappingError>) -> ApiError {
    let code = match errors.first() {
        Some(MappingError::UnknownColumn(_)) => "unknown_column",
        Some(MappingError::NoPhoneColumn) => "phone_column_missing",
        _ => "invalid_mapping",
    };
    let detail = errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ");
    unprocessable(code, detail).with_errors(
        errors
            .iter()
            .map(|error| FieldError {
                field: error.column().map_or_else(
                    || "options.mapping".to_owned(),
                    |column| format!("options.mapping.{column}"),
                ),
                message: error.to_string(),
            })
            .collect(),
    )
}

fn unprocessable(code: &'static str, detail: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, detail.into())
}

fn too_large(max: u64) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!("the file is larger than the {max} bytes allowed"),
    )
}

fn malformed(error: MultipartError) -> ApiError {
    match error {
        MultipartError::ContentTypeMissing
        | MultipartError::ContentTypeParse
        | MultipartError::ContentTypeIncompatible
        | MultipartError::BoundaryMissing => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the body as multipart/form-data with a `file` and an `options` part",
        ),
        other => ApiError::bad_request(
            "invalid_body",
            format!("the multipart body cannot be read: {other}"),
        ),
    }
}
