//! Imports an uploaded CSV file into WhatsApp contacts.
//!
//! The file is read from its stored chunks as a stream (one chunk and a batch
//! or two in memory, whatever its size), on a blocking thread that parses rows
//! and hands them over in batches of [`BATCH_ROWS`]. Each batch is one
//! transaction: it upserts its contacts, adds them to the group, records its
//! row errors, advances the import's saved cursor and publishes
//! `import.progress`. A run that dies resumes after the last committed batch;
//! a batch whose start no longer matches the cursor (another attempt got
//! there first) is dropped, so no row is imported twice. After
//! [`SLICE`] a run hands over to a new job queued in its last batch's
//! transaction, so a large file never meets the runner's attempt timeout.

use std::collections::HashMap;
use std::io::Read;
use std::sync::Arc;
use std::time::{Duration, Instant};

use csv::ByteRecord;
use diesel_async::AsyncConnection as _;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use uuid::Uuid;
use wacrm_domain::Country;
use wacrm_domain::contact_imports::{
    self as rules, ContactRow, Mapping, OnDuplicate, RowError, RowOptions,
};
use wacrm_persistence::contact_imports::{
    self, CHUNK_BYTES, ContactImport, ContactValues, NewImportError, Progress,
};
use wacrm_persistence::{AsyncPgConnection, PgPool, StoreError, events};

use crate::context::WorkerContext;
use crate::{Job, JobError};

/// Rows per transaction.
pub const BATCH_ROWS: usize = 1_000;
/// How long one run imports before it hands over to the next job.
const SLICE: Duration = Duration::from_secs(60);

#[derive(Debug, Serialize, Deserialize)]
pub struct ImportContacts {
    pub import_id: Uuid,
}

/// The SSE event of a batch (and of the end).
#[derive(Debug, Serialize)]
pub struct ImportProgress<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    import_id: Uuid,
    rows_done: i64,
    created: i64,
    updated: i64,
    skipped: i64,
    duplicates: i64,
    failed: i64,
    status: &'a str,
}

impl<'a> From<&'a ContactImport> for ImportProgress<'a> {
    fn from(import: &'a ContactImport) -> Self {
        Self {
            kind: "import.progress",
            import_id: import.id,
            rows_done: import.rows_done,
            created: import.created,
            updated: import.updated,
            skipped: import.skipped,
            duplicates: import.duplicates,
            failed: import.failed,
            status: &import.status,
        }
    }
}

impl Job for ImportContacts {
    const KIND: &'static str = "import_contacts";
    type Context = WorkerContext;

    async fn run(&self, ctx: &WorkerContext) -> Result<(), JobError> {
        let mut conn = ctx.pool.get().await.map_err(retry)?;
        let import = match contact_imports::find(&mut conn, self.import_id).await {
            Ok(import) => import,
            // Deleted: nothing left to do.
            Err(StoreError::NotFound) => return Ok(()),
            Err(error) => return Err(retry(error)),
        };
        if !matches!(import.status.as_str(), "queued" | "running") {
            return Ok(());
        }
        let plan = match Plan::of(&import) {
            Ok(plan) => Arc::new(plan),
            Err(reason) => return fail(&mut conn, self.import_id, &reason).await,
        };
        contact_imports::start(&mut conn, self.import_id)
            .await
            .map_err(retry)?;

        let (sender, mut batches) = mpsc::channel(1);
        let reader = ChunkReader::new(
            ctx.pool.clone(),
            self.import_id,
            u64::try_from(import.byte_offset).unwrap_or(0),
        );
        let (first_row, start) = (import.next_row, import.byte_offset);
        let parsing = Arc::clone(&plan);
        let parser = tokio::task::spawn_blocking(move || {
            read_batches(reader, start, first_row, &parsing, &sender);
        });
        let began = Instant::now();
        while let Some(batch) = batches.recv().await {
            let batch = batch.map_err(JobError::retry)?;
            let hand_over = began.elapsed() >= SLICE;
            match apply(&mut conn, &plan, self.import_id, batch, hand_over).await {
                Ok(Applied::Done) => {}
                Ok(Applied::HandedOver) => {
                    ctx.signal.jobs_queued();
                    return Ok(());
                }
                Ok(Applied::Superseded) => return Ok(()),
                Err(StoreError::Reference(_)) => {
                    return fail(
                        &mut conn,
                        self.import_id,
                        "the group was deleted during the import",
                    )
                    .await;
                }
                Err(error) => return Err(retry(error)),
            }
        }
        parser.await.map_err(retry)?;
        let finished = conn
            .transaction::<_, StoreError, _>(async |conn| {
                let import = contact_imports::lock(conn, self.import_id).await?;
                if import.status != "running" {
                    return Ok(None);
                }
                let finished = contact_imports::finish(conn, self.import_id, None).await?;
                events::publish(conn, &ImportProgress::from(&finished)).await?;
                Ok(Some(()))
            })
            .await
            .map_err(retry)?;
        if finished.is_some() {
            tracing::info!(import_id = %self.import_id, "contact import completed");
        }
        Ok(())
    }
}

/// What a run needs from the import's options.
struct Plan {
    mapping: Mapping,
    options: RowOptions,
    on_duplicate: OnDuplicate,
    group_id: Option<Uuid>,
    dry_run: bool,
    created_by: Option<Uuid>,
}

impl Plan {
    fn of(import: &ContactImport) -> Result<Self, String> {
        let mapping: Mapping = serde_json::from_value(import.mapping.clone())
            .map_err(|error| format!("the stored mapping cannot be read: {error}"))?;
        let default_country = import
            .default_country
            .as_deref()
            .map(str::parse::<Country>)
            .transpose()
            .map_err(|error| error.to_string())?;
        Ok(Self {
            mapping,
            options: RowOptions {
                default_country,
                label_separator: import.label_separator.chars().next().unwrap_or(';'),
            },
            on_duplicate: OnDuplicate::parse(&import.on_duplicate)
                .ok_or_else(|| format!("unknown on_duplicate `{}`", import.on_duplicate))?,
            group_id: import.group_id,
            dry_run: import.dry_run,
            created_by: import.created_by,
        })
    }
}

/// Parsed rows, with where they start and where the next batch starts.
struct Batch {
    start: i64,
    end: i64,
    next_row: i64,
    rows: Vec<(i64, Result<ContactRow, Vec<RowError>>)>,
}

/// Parses the file from byte `start` (row `first_row`) into batches until
/// its end, a read error (sent on), or the receiver hanging up.
fn read_batches(
    source: ChunkReader,
    start: i64,
    first_row: i64,
    plan: &Plan,
    sender: &mpsc::Sender<Result<Batch, String>>,
) {
    let mut reader = rules::reader(source);
    let mut record = ByteRecord::new();
    let mut batch_start = start;
    loop {
        let mut rows = Vec::with_capacity(BATCH_ROWS);
        while rows.len() < BATCH_ROWS {
            match reader.read_byte_record(&mut record) {
                Ok(true) => {
                    // `record()` counts the records read, this one included.
                    let row = first_row + to_i64(reader.position().record()) - 1;
                    rows.push((row, rules::parse_row(&record, &plan.mapping, plan.options)));
                }
                Ok(false) => break,
                Err(error) => {
                    drop(sender.blocking_send(Err(format!("reading the file: {error}"))));
                    return;
                }
            }
        }
        if rows.is_empty() {
            return;
        }
        let end = start + to_i64(reader.position().byte());
        let full = rows.len() == BATCH_ROWS;
        let batch = Batch {
            start: batch_start,
            end,
            next_row: first_row + to_i64(reader.position().record()),
            rows,
        };
        if sender.blocking_send(Ok(batch)).is_err() || !full {
            return;
        }
        batch_start = end;
    }
}

enum Applied {
    Done,
    /// Committed with the next job queued: this run ends here.
    HandedOver,
    /// Another run already imported this batch.
    Superseded,
}

/// One batch, in one transaction.
async fn apply(
    conn: &mut AsyncPgConnection,
    plan: &Plan,
    import_id: Uuid,
    batch: Batch,
    hand_over: bool,
) -> Result<Applied, StoreError> {
    conn.transaction::<_, StoreError, _>(async |conn| {
        let import = contact_imports::lock(conn, import_id).await?;
        if import.byte_offset != batch.start || import.status != "running" {
            return Ok(Applied::Superseded);
        }
        let mut progress = Progress {
            rows: to_i64(batch.rows.len()),
            ..Progress::default()
        };
        let mut errors = Vec::new();
        // Rows merged by phone, in file order.
        let mut merged: Vec<ContactRow> = Vec::new();
        let mut by_phone: HashMap<String, usize> = HashMap::new();
        for (row, parsed) in batch.rows {
            match parsed {
                Ok(contact) => {
                    let phone = contact.phone_normalized.as_str().to_owned();
                    match by_phone.get(&phone) {
                        Some(&index) => {
                            progress.duplicates += 1;
                            if plan.on_duplicate == OnDuplicate::Update {
                                merged[index].absorb(contact);
                            }
                        }
                        None => {
                            by_phone.insert(phone, merged.len());
                            merged.push(contact);
                        }
                    }
                }
                Err(row_errors) => {
                    progress.failed += 1;
                    errors.extend(row_errors.into_iter().map(|error| NewImportError {
                        import_id,
                        row,
                        column: error.column,
                        reason: error.reason,
                    }));
                }
            }
        }
        let phones: Vec<String> = by_phone.keys().cloned().collect();
        let seen = contact_imports::seen(conn, import_id, &phones).await?;
        let (earlier, fresh): (Vec<ContactRow>, Vec<ContactRow>) = merged
            .into_iter()
            .partition(|row| seen.contains(row.phone_normalized.as_str()));
        // A phone of an earlier batch: a duplicate within the file as well.
        progress.duplicates += to_i64(earlier.len());
        let fresh_phones: Vec<String> = fresh
            .iter()
            .map(|row| row.phone_normalized.as_str().to_owned())
            .collect();
        contact_imports::remember(conn, import_id, &fresh_phones).await?;

        if plan.dry_run {
            let existing = contact_imports::existing(conn, &fresh_phones).await?;
            let matched = to_i64(existing.len());
            progress.created += to_i64(fresh.len()) - matched;
            match plan.on_duplicate {
                OnDuplicate::Update => progress.updated += matched,
                OnDuplicate::Skip => progress.skipped += matched,
            }
        } else {
            let fresh_count = to_i64(fresh.len());
            let fresh: Vec<ContactValues> = fresh.into_iter().map(values).collect();
            match plan.on_duplicate {
                OnDuplicate::Update => {
                    let mut changes = fresh.clone();
                    changes.extend(earlier.into_iter().map(values));
                    let updated = contact_imports::update_contacts(conn, &changes).await?;
                    let new: Vec<ContactValues> = fresh
                        .into_iter()
                        .filter(|row| !updated.contains(&row.phone_normalized))
                        .collect();
                    let created =
                        contact_imports::insert_contacts(conn, &new, plan.created_by).await?;
                    let updated_fresh = fresh_phones
                        .iter()
                        .filter(|phone| updated.contains(*phone))
                        .count();
                    progress.updated += to_i64(updated_fresh);
                    progress.created += to_i64(created.len());
                    // Created by someone else between the update and the insert.
                    progress.skipped += fresh_count - to_i64(updated_fresh) - to_i64(created.len());
                }
                OnDuplicate::Skip => {
                    let created =
                        contact_imports::insert_contacts(conn, &fresh, plan.created_by).await?;
                    progress.created += to_i64(created.len());
                    progress.skipped += fresh_count - to_i64(created.len());
                }
            }
            if let Some(group_id) = plan.group_id {
                contact_imports::add_members(conn, group_id, &phones).await?;
            }
        }
        progress.errors = to_i64(errors.len());
        contact_imports::record_errors(conn, import.error_count, errors).await?;
        let advanced =
            contact_imports::advance(conn, import_id, batch.end, batch.next_row, progress).await?;
        events::publish(conn, &ImportProgress::from(&advanced)).await?;
        if hand_over {
            let next = ImportContacts { import_id };
            crate::enqueue(conn, &next)
                .await
                .map_err(|error| match error {
                    crate::WorkerError::Store(error) => error,
                    crate::WorkerError::Payload(error) => StoreError::Corrupt(error.to_string()),
                })?;
            return Ok(Applied::HandedOver);
        }
        Ok(Applied::Done)
    })
    .await
}

fn values(row: ContactRow) -> ContactValues {
    ContactValues {
        id: Uuid::now_v7(),
        phone: row.phone,
        phone_normalized: row.phone_normalized.into_string(),
        name: row.name,
        language: row.language,
        time_zone: row.time_zone,
        default_time_zone: row.default_time_zone,
        labels: row.labels,
        custom_fields: row.custom_fields,
    }
}

/// Ends the import as failed, for a reason retrying cannot change.
async fn fail(conn: &mut AsyncPgConnection, import_id: Uuid, reason: &str) -> Result<(), JobError> {
    conn.transaction::<_, StoreError, _>(async |conn| {
        let failed = contact_imports::finish(conn, import_id, Some(reason)).await?;
        events::publish(conn, &ImportProgress::from(&failed)).await
    })
    .await
    .map_err(retry)?;
    tracing::warn!(%import_id, reason, "contact import failed");
    Ok(())
}

/// The stored file from a byte offset on, fetched chunk by chunk as the
/// parser asks for more. It runs on a blocking thread, so it waits for the
/// database through the runtime's handle.
struct ChunkReader {
    runtime: tokio::runtime::Handle,
    pool: PgPool,
    import_id: Uuid,
    next_seq: i32,
    skip: usize,
    chunk: Vec<u8>,
    at: usize,
    ended: bool,
}

impl ChunkReader {
    fn new(pool: PgPool, import_id: Uuid, offset: u64) -> Self {
        let chunk_bytes = CHUNK_BYTES as u64;
        Self {
            runtime: tokio::runtime::Handle::current(),
            pool,
            import_id,
            next_seq: i32::try_from(offset / chunk_bytes).unwrap_or(i32::MAX),
            skip: usize::try_from(offset % chunk_bytes).unwrap_or(0),
            chunk: Vec::new(),
            at: 0,
            ended: false,
        }
    }

    async fn fetch(pool: &PgPool, import_id: Uuid, seq: i32) -> std::io::Result<Option<Vec<u8>>> {
        let mut conn = pool.get().await.map_err(std::io::Error::other)?;
        contact_imports::chunk(&mut conn, import_id, seq)
            .await
            .map_err(std::io::Error::other)
    }
}

impl Read for ChunkReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.at >= self.chunk.len() {
            if self.ended {
                return Ok(0);
            }
            let fetched =
                self.runtime
                    .block_on(Self::fetch(&self.pool, self.import_id, self.next_seq))?;
            match fetched {
                Some(chunk) => {
                    self.chunk = chunk;
                    self.at = std::mem::take(&mut self.skip);
                    self.next_seq += 1;
                }
                None => self.ended = true,
            }
        }
        let n = out.len().min(self.chunk.len() - self.at);
        out[..n].copy_from_slice(&self.chunk[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

fn to_i64<N: TryInto<i64>>(n: N) -> i64 {
    n.try_into().unwrap_or(i64::MAX)
}

fn retry(error: impl std::fmt::Display) -> JobError {
    JobError::retry(error.to_string())
}
