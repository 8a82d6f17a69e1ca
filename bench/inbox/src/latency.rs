//! Read latency: one request at a time against a warm server, so each sample
//! is the service time of one request (client and loopback included).

use std::time::Duration;

use anyhow::bail;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use uuid::Uuid;

use crate::api::Api;
use crate::data::{Dataset, Rng};
use crate::db::Db;

/// Percentiles of one case, in milliseconds (nearest rank).
#[derive(Debug, Clone, Copy, Default)]
pub struct Stats {
    pub n: usize,
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
    pub mean: f64,
}

pub fn stats(samples: &[Duration]) -> Stats {
    let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e3).collect();
    ms.sort_by(f64::total_cmp);
    let n = ms.len();
    let rank = |q: f64| {
        let index = ((q * n as f64).ceil() as usize).clamp(1, n.max(1)) - 1;
        ms.get(index).copied().unwrap_or(f64::NAN)
    };
    Stats {
        n,
        p50: rank(0.50),
        p95: rank(0.95),
        p99: rank(0.99),
        max: ms.last().copied().unwrap_or(f64::NAN),
        mean: if n == 0 {
            f64::NAN
        } else {
            ms.iter().sum::<f64>() / n as f64
        },
    }
}

/// The list filters, as the API takes them and as the SQL the app runs.
#[derive(Clone, Default)]
pub struct Filter {
    pub rel_type: Option<&'static str>,
    pub status: Option<&'static str>,
    pub unread: Option<bool>,
    pub assigned_to: Option<Uuid>,
    pub q: Option<String>,
}

impl Filter {
    fn query(&self) -> String {
        let mut parts = Vec::new();
        if let Some(rel_type) = self.rel_type {
            parts.push(format!("rel_type={rel_type}"));
        }
        if let Some(status) = self.status {
            parts.push(format!("status={status}"));
        }
        if let Some(unread) = self.unread {
            parts.push(format!("unread={unread}"));
        }
        if let Some(staff) = self.assigned_to {
            parts.push(format!("assigned_to={staff}"));
        }
        if let Some(q) = &self.q {
            parts.push(format!("q={}", q.replace(' ', "%20")));
        }
        parts.join("&")
    }

    /// The WHERE terms `crates/persistence/src/conversations.rs::filtered` adds.
    fn sql(&self) -> Vec<String> {
        let mut terms = Vec::new();
        if let Some(rel_type) = self.rel_type {
            terms.push(format!("rel_type = '{rel_type}'"));
        }
        if let Some(status) = self.status {
            terms.push(format!("status = '{status}'"));
        }
        if let Some(staff) = self.assigned_to {
            terms.push(format!("assigned_to = '{staff}'"));
        }
        match self.unread {
            Some(true) => terms.push("unread_count > 0".into()),
            Some(false) => terms.push("unread_count = 0".into()),
            None => {}
        }
        if let Some(q) = &self.q {
            let pattern = format!("%{}%", q.replace('\'', "''"));
            terms.push(format!(
                "conversations.id IN (SELECT conversations.id FROM conversations WHERE \
                 (coalesce(conversations.profile_name, '') || E'\\x1f' || \
                 coalesce(conversations.customer_phone, '') || E'\\x1f' || \
                 coalesce(conversations.customer_user_id, '') || E'\\x1f' || \
                 coalesce(conversations.customer_username, '')) ILIKE '{pattern}' \
                 UNION SELECT messages.conversation_id FROM messages WHERE messages.body ILIKE '{pattern}')"
            ));
        }
        terms
    }
}

pub enum Kind {
    /// `GET /api/v1/conversations`, page `page` (1 = first).
    List { filter: Filter, page: usize },
    /// `GET /api/v1/conversations/counts`.
    Counts { filter: Filter },
    /// `GET /api/v1/conversations/{id}/messages`, first page, a random
    /// conversation each time: any, or one of the long ones (100+ messages).
    History { long: bool },
}

pub struct Case {
    pub name: String,
    pub kind: Kind,
    pub samples: usize,
    /// Held to the p95 target (the cases), or shown for information.
    pub targeted: bool,
    /// Untimed requests first, instead of the runner's default.
    pub warmup: Option<usize>,
}

pub struct CaseResult {
    pub name: String,
    pub stats: Stats,
    pub targeted: bool,
    pub note: String,
    /// The SQL the request runs, for EXPLAIN ANALYZE.
    pub sql: Vec<String>,
}

const CONVERSATION_COLUMNS: &str = "id, number_id, customer_phone, profile_name, rel_type, rel_id, \
    status, assigned_to, unread_count, last_message_id, last_message_at, last_message_preview, \
    session_expires_at, snooze_until, created_at, updated_at, customer_user_id, customer_username, \
    last_activity_at";
const MESSAGE_COLUMNS: &str = "id, conversation_id, direction, kind, body, payload, provider, \
    provider_message_id, status, error, sent_by, sent_at, context_message_id, created_at, \
    updated_at, send_started_at";

pub struct Runner<'a> {
    pub api: &'a Api,
    pub dataset: &'a Dataset,
    pub db: &'a Db,
    pub limit: usize,
    pub warmup: usize,
    pub rng: Rng,
    /// The current case's warm-up.
    pub case_warmup: usize,
    /// Conversations with 100 messages or more.
    pub long: Vec<usize>,
}

impl Runner<'_> {
    pub async fn run(&mut self, case: &Case) -> anyhow::Result<CaseResult> {
        self.case_warmup = case.warmup.unwrap_or(self.warmup);
        match &case.kind {
            Kind::List { filter, page } => self.list(case, filter, *page).await,
            Kind::Counts { filter } => self.counts(case, filter).await,
            Kind::History { long } => self.history(case, *long).await,
        }
    }

    async fn list(
        &mut self,
        case: &Case,
        filter: &Filter,
        page: usize,
    ) -> anyhow::Result<CaseResult> {
        let mut base = format!("/api/v1/conversations?limit={}", self.limit);
        let query = filter.query();
        if !query.is_empty() {
            base = format!("{base}&{query}");
        }
        // Walk to the page: the cursor of page N is the next_cursor of page N-1.
        let mut cursor: Option<String> = None;
        let mut reached = 1;
        while reached < page {
            let path = with_cursor(&base, cursor.as_deref());
            let answer = self.api.get(&path).await?;
            match answer.body["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                // Fewer pages than asked: time the last one.
                None => break,
            }
            reached += 1;
        }
        let path = with_cursor(&base, cursor.as_deref());
        let first = self.api.get(&path).await?;
        let items = first.body["items"].as_array().map_or(0, Vec::len);
        // An empty page means a broken set-up, except for a search, where
        // finding nothing is an answer to time like any other.
        if items == 0 && filter.q.is_none() {
            bail!("{}: GET {path} answered no items", case.name);
        }
        for _ in 0..self.case_warmup {
            self.api.get(&path).await?;
        }
        let mut samples = Vec::with_capacity(case.samples);
        for _ in 0..case.samples {
            samples.push(self.api.get(&path).await?.elapsed);
        }
        let mut terms = filter.sql();
        if let Some(cursor) = &cursor {
            let (at, id) = decode_cursor(cursor)?;
            terms.push(format!(
                "(last_activity_at, id) < ('{}', '{id}')",
                at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
            ));
        }
        let sql = format!(
            "SELECT {CONVERSATION_COLUMNS} FROM conversations{} ORDER BY last_activity_at DESC, id DESC LIMIT {}",
            where_clause(&terms),
            self.limit + 1
        );
        Ok(CaseResult {
            name: case.name.clone(),
            stats: stats(&samples),
            targeted: case.targeted,
            note: format!(
                "page {reached} ({} rows before it), {items} items: GET {}{}",
                (reached - 1) * self.limit,
                path.chars().take(80).collect::<String>(),
                if path.len() > 80 { "…" } else { "" }
            ),
            sql: vec![sql],
        })
    }

    async fn counts(&mut self, case: &Case, filter: &Filter) -> anyhow::Result<CaseResult> {
        let path = format!("/api/v1/conversations/counts?{}", filter.query());
        let first = self.api.get(&path).await?;
        for _ in 0..self.case_warmup {
            self.api.get(&path).await?;
        }
        let mut samples = Vec::with_capacity(case.samples);
        for _ in 0..case.samples {
            samples.push(self.api.get(&path).await?.elapsed);
        }
        // From the maintained count rows (`crates/persistence/src/inbox.rs`)
        // unless searching.
        let sql = if filter.q.is_some() {
            ["lead", "contact", "staff", "general"]
                .iter()
                .map(|rel| {
                    let mut terms = filter.sql();
                    terms.insert(0, format!("rel_type = '{rel}'"));
                    format!("SELECT count(*) FROM conversations{}", where_clause(&terms))
                })
                .collect()
        } else {
            let mut terms = Vec::new();
            if let Some(status) = filter.status {
                terms.push(format!("status = '{status}'"));
            }
            if let Some(staff) = filter.assigned_to {
                terms.push(format!("assigned_to = '{staff}'"));
            }
            if let Some(unread) = filter.unread {
                terms.push(format!("unread = {unread}"));
            }
            vec![format!(
                "SELECT rel_type, coalesce(sum(n), 0)::int8, count(*) FROM conversation_counts{} GROUP BY rel_type",
                where_clause(&terms)
            )]
        };
        Ok(CaseResult {
            name: case.name.clone(),
            stats: stats(&samples),
            targeted: case.targeted,
            note: format!("GET {path}: total {}", first.body["total"]),
            sql,
        })
    }

    fn random_conversation(&mut self, long: bool) -> Uuid {
        if long && !self.long.is_empty() {
            let k = self.rng.below(self.long.len() as u64) as usize;
            if let Some(i) = self.long.get(k) {
                return self.dataset.conversation(*i).id;
            }
        }
        let n = self.dataset.spec.conversations as u64;
        let i = self.rng.below(n) as usize;
        self.dataset.conversation(i).id
    }

    async fn history(&mut self, case: &Case, long: bool) -> anyhow::Result<CaseResult> {
        let path_of =
            |id: Uuid, limit: usize| format!("/api/v1/conversations/{id}/messages?limit={limit}");
        for _ in 0..self.case_warmup {
            let id = self.random_conversation(long);
            self.api.get(&path_of(id, self.limit)).await?;
        }
        let mut samples = Vec::with_capacity(case.samples);
        let mut items_total = 0;
        let mut full_pages = 0;
        for _ in 0..case.samples {
            let id = self.random_conversation(long);
            let answer = self.api.get(&path_of(id, self.limit)).await?;
            samples.push(answer.elapsed);
            let items = answer.body["items"].as_array().map_or(0, Vec::len);
            items_total += items;
            if answer.body["next_cursor"].is_string() {
                full_pages += 1;
            }
        }
        // The plan for a long conversation: a full page.
        let planned = self.random_conversation(true);
        let ids = self
            .db
            .query(&format!(
                "SELECT id FROM messages WHERE conversation_id = '{planned}' ORDER BY id DESC LIMIT {}",
                self.limit + 1
            ))
            .await?
            .lines()
            .take(self.limit)
            .collect::<Vec<_>>()
            .join(",");
        let sql = vec![
            format!(
                "SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE id = '{planned}' LIMIT 1"
            ),
            format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = '{planned}' ORDER BY id DESC LIMIT {}",
                self.limit + 1
            ),
            format!("SELECT * FROM message_media WHERE message_id = ANY('{{{ids}}}'::uuid[])"),
            format!(
                "SELECT * FROM message_status_events WHERE message_id = ANY('{{{ids}}}'::uuid[]) ORDER BY occurred_at, id"
            ),
        ];
        Ok(CaseResult {
            name: case.name.clone(),
            stats: stats(&samples),
            targeted: case.targeted,
            note: format!(
                "GET /api/v1/conversations/{{random{} id}}/messages?limit={}: {:.1} items per page on average, {full_pages} of {} pages full",
                if long { " long conversation's" } else { "" },
                self.limit,
                items_total as f64 / case.samples.max(1) as f64,
                case.samples
            ),
            sql,
        })
    }
}

fn with_cursor(base: &str, cursor: Option<&str>) -> String {
    match cursor {
        Some(cursor) => format!("{base}&cursor={cursor}"),
        None => base.to_owned(),
    }
}

fn where_clause(terms: &[String]) -> String {
    if terms.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", terms.join(" AND "))
    }
}

/// The inbox cursor as `crates/api/src/pagination.rs` writes it: activity in
/// microseconds (big-endian i64), then the id.
fn decode_cursor(cursor: &str) -> anyhow::Result<(chrono::DateTime<chrono::Utc>, Uuid)> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor)?;
    if bytes.len() != 24 {
        bail!("an inbox cursor is 24 bytes, not {}", bytes.len());
    }
    let (micros, id) = bytes.split_at(8);
    let micros = i64::from_be_bytes(micros.try_into()?);
    let at = chrono::DateTime::from_timestamp_micros(micros)
        .ok_or_else(|| anyhow::anyhow!("cursor time out of range"))?;
    Ok((at, Uuid::from_slice(id)?))
}
