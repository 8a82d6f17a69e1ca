//! The SQL of audiences: a filter over leads, contacts or WhatsApp contacts as
//! conditions, and an audience as its recipients, one row per distinct phone.
//!
//! Statements are built as text with numbered parameters ([`Sql`]) because the
//! same conditions go into lists, counts, exports, group changes and previews,
//! and the campaign engine embeds [`push_recipients`] in its own
//! `INSERT … SELECT` (parameters keep counting from whatever it bound first):
//!
//! ```text
//! let mut sql = Sql::default();
//! sql.push("INSERT INTO campaign_recipients (run_id, rel_type, rel_id, name, phone, time_zone, language, custom_fields, consent) SELECT ");
//! sql.bind(Bind::Uuid(run_id));
//! sql.push(", r.* FROM (");
//! push_recipients(&mut sql, &audience);
//! sql.push(") r ON CONFLICT DO NOTHING");
//! sql.into_query().execute(conn).await?;
//! ```

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use diesel::pg::Pg;
use diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use diesel::sql_types::{Array, BigInt, Integer, Nullable, Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;
use wacrm_domain::audiences::{
    Audience, CommonFilter, ConsentFilter, ContactFilter, LeadFilter, SegmentFilter,
    WhatsappContactFilter,
};

use crate::error::{StoreError, StoreResult};

/// A value bound to a numbered parameter.
#[derive(Debug, Clone)]
pub enum Bind {
    Uuid(Uuid),
    Uuids(Vec<Uuid>),
    Text(String),
    Time(DateTime<Utc>),
    Int(i32),
    BigInt(i64),
    Bool(bool),
}

/// Statement text and the values of its `$n` parameters, in order.
#[derive(Debug, Default, Clone)]
pub struct Sql {
    text: String,
    binds: Vec<Bind>,
}

impl Sql {
    pub fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Appends the next parameter (`$n`) and remembers its value.
    pub fn bind(&mut self, value: Bind) -> &mut Self {
        self.binds.push(value);
        // Writing to a String cannot fail.
        let _ = write!(self.text, "${}", self.binds.len());
        self
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// The statement, ready to load or execute.
    pub fn into_query(self) -> BoxedSqlQuery<'static, Pg, SqlQuery> {
        let mut query = diesel::sql_query(self.text).into_boxed::<Pg>();
        for value in self.binds {
            query = match value {
                Bind::Uuid(v) => query.bind::<diesel::sql_types::Uuid, _>(v),
                Bind::Uuids(v) => query.bind::<Array<diesel::sql_types::Uuid>, _>(v),
                Bind::Text(v) => query.bind::<Text, _>(v),
                Bind::Time(v) => query.bind::<Timestamptz, _>(v),
                Bind::Int(v) => query.bind::<Integer, _>(v),
                Bind::BigInt(v) => query.bind::<BigInt, _>(v),
                Bind::Bool(v) => query.bind::<diesel::sql_types::Bool, _>(v),
            };
        }
        query
    }
}

/// The conditions every target has, on a row whose normalised phone is the
/// expression `phone` and whose creation time is `created`.
fn push_common(sql: &mut Sql, filter: CommonFilter, phone: &str, created: &str) {
    if let Some(after) = filter.created_after {
        sql.push(&format!(" AND {created} >= "))
            .bind(Bind::Time(after));
    }
    if let Some(before) = filter.created_before {
        sql.push(&format!(" AND {created} < "))
            .bind(Bind::Time(before));
    }
    if let Some(days) = filter.last_inbound_within_days {
        // A conversation's window ends 24 hours after its latest inbound
        // message (`domain::session`), so the window tells when the phone last
        // wrote without scanning messages.
        sql.push(&format!(
            " AND {phone} IN (SELECT customer_phone FROM conversations \
             WHERE customer_phone IS NOT NULL \
             AND session_expires_at >= now() + interval '24 hours' - make_interval(days => "
        ))
        .bind(Bind::Int(i32::from(days)))
        .push("))");
    }
    match filter.consent {
        None => {}
        Some(ConsentFilter::Subscribed) => {
            sql.push(&format!(
                " AND EXISTS (SELECT 1 FROM marketing_consent mc WHERE mc.phone = {phone} AND mc.state = 'subscribed')"
            ));
        }
        Some(ConsentFilter::OptedOut) => {
            sql.push(&format!(
                " AND EXISTS (SELECT 1 FROM marketing_consent mc WHERE mc.phone = {phone} AND mc.state = 'opted_out')"
            ));
        }
        Some(ConsentFilter::Unknown) => {
            sql.push(&format!(
                " AND NOT EXISTS (SELECT 1 FROM marketing_consent mc WHERE mc.phone = {phone})"
            ));
        }
        Some(ConsentFilter::Blocked) => {
            sql.push(&format!(
                " AND EXISTS (SELECT 1 FROM blocklist b WHERE b.phone = {phone})"
            ));
        }
    }
}

/// Conditions on `leads l`.
pub fn push_lead_conditions(sql: &mut Sql, filter: &LeadFilter) {
    for (column, value) in [
        ("l.status_id", filter.status_id),
        ("l.source_id", filter.source_id),
        ("l.assigned_staff_id", filter.assigned_staff_id),
    ] {
        if let Some(id) = value {
            sql.push(&format!(" AND {column} = ")).bind(Bind::Uuid(id));
        }
    }
    push_common(sql, filter.common(), "l.phone_normalized", "l.created_at");
}

/// Conditions on `contacts ct`.
pub fn push_contact_conditions(sql: &mut Sql, filter: &ContactFilter) {
    push_common(sql, filter.common(), "ct.phone_normalized", "ct.created_at");
}

/// Conditions on `whatsapp_contacts c`.
pub fn push_whatsapp_contact_conditions(sql: &mut Sql, filter: &WhatsappContactFilter) {
    if let Some(label) = &filter.label {
        // `@>` so the GIN index on labels answers it.
        sql.push(" AND c.labels @> ARRAY[")
            .bind(Bind::Text(label.trim().to_owned()))
            .push("]::text[]");
    }
    if let Some(group) = filter.group_id {
        sql.push(" AND c.id IN (SELECT contact_id FROM whatsapp_group_members WHERE group_id = ")
            .bind(Bind::Uuid(group))
            .push(")");
    }
    if let Some(q) = &filter.q {
        // The very expression the trigram index is built on.
        sql.push(" AND (coalesce(c.name, '') || ' ' || c.phone_normalized) ILIKE ")
            .bind(Bind::Text(crate::like_pattern(q.trim())));
    }
    push_common(sql, filter.common(), "c.phone_normalized", "c.created_at");
}

/// An audience with its segment (if any) read: what the SQL is built from.
#[derive(Debug, Clone)]
pub enum Resolved {
    Leads(LeadFilter),
    Contacts(ContactFilter),
    WhatsappContacts(WhatsappContactFilter),
    WhatsappGroups(Vec<Uuid>),
}

/// Reads the segment an audience names (`NotFound` when there is none).
pub async fn resolve(conn: &mut AsyncPgConnection, audience: Audience) -> StoreResult<Resolved> {
    let audience = match audience {
        Audience::SegmentId(id) => {
            let segment = crate::segments::find(conn, id).await?;
            SegmentFilter::from_stored(&segment.target, segment.filter)
                .map_err(|error| StoreError::Corrupt(error.to_string()))?
                .into_audience()
        }
        other => other,
    };
    Ok(match audience {
        Audience::Leads(filter) => Resolved::Leads(filter),
        Audience::Contacts(filter) => Resolved::Contacts(filter),
        Audience::WhatsappContacts(filter) => Resolved::WhatsappContacts(filter),
        Audience::WhatsappGroups(ids) => Resolved::WhatsappGroups(ids),
        // A segment's filter is never itself a segment.
        Audience::SegmentId(_) => return Err(StoreError::NotFound),
    })
}

/// Every matching record (a group member once per group it is in), as
/// `rel_type, rel_id, name, raw_phone, phone`.
fn push_candidates(sql: &mut Sql, audience: &Resolved) {
    match audience {
        Resolved::Leads(filter) => {
            sql.push(
                "SELECT 'lead'::text AS rel_type, l.id AS rel_id, l.name AS name, \
                 l.phone AS raw_phone, l.phone_normalized AS phone FROM leads l WHERE true",
            );
            push_lead_conditions(sql, filter);
        }
        Resolved::Contacts(filter) => {
            sql.push(
                "SELECT 'contact'::text AS rel_type, ct.id AS rel_id, ct.name AS name, \
                 ct.phone AS raw_phone, ct.phone_normalized AS phone FROM contacts ct WHERE true",
            );
            push_contact_conditions(sql, filter);
        }
        Resolved::WhatsappContacts(filter) => {
            sql.push(
                "SELECT 'whatsapp_contact'::text AS rel_type, c.id AS rel_id, c.name AS name, \
                 c.phone AS raw_phone, c.phone_normalized AS phone FROM whatsapp_contacts c WHERE true",
            );
            push_whatsapp_contact_conditions(sql, filter);
        }
        Resolved::WhatsappGroups(ids) => {
            sql.push(
                "SELECT 'whatsapp_contact'::text AS rel_type, c.id AS rel_id, c.name AS name, \
                 c.phone AS raw_phone, c.phone_normalized AS phone \
                 FROM whatsapp_group_members m JOIN whatsapp_contacts c ON c.id = m.contact_id \
                 WHERE m.group_id = ANY(",
            )
            .bind(Bind::Uuids(ids.clone()))
            .push(")");
        }
    }
}

/// `WITH candidates, classified`: every record with why it is left out
/// (`excluded`: `no_phone`, `invalid_phone`, `blocked`, `duplicate`, or NULL
/// when it is the one recipient of its phone) and its phone's consent.
fn push_classified(sql: &mut Sql, audience: &Resolved) {
    sql.push("WITH candidates AS (");
    push_candidates(sql, audience);
    sql.push(
        "), classified AS (\
         SELECT k.rel_type, k.rel_id, k.name, k.phone, \
           CASE WHEN k.raw_phone IS NULL OR btrim(k.raw_phone) = '' THEN 'no_phone' \
                WHEN k.phone IS NULL THEN 'invalid_phone' \
                WHEN EXISTS (SELECT 1 FROM blocklist b WHERE b.phone = k.phone) THEN 'blocked' \
                WHEN row_number() OVER (PARTITION BY k.phone ORDER BY k.rel_id) > 1 THEN 'duplicate' \
           END AS excluded, \
           coalesce(mc.state, 'unknown') AS consent \
         FROM candidates k LEFT JOIN marketing_consent mc ON mc.phone = k.phone) ",
    );
}

/// One row per distinct reachable phone: `rel_type, rel_id, name, phone,
/// time_zone, language, custom_fields, consent`. The first record of a phone
/// (oldest id) stands for it; the WhatsApp contact with that phone, if any,
/// gives the zone, language and template variables (a NULL zone: the sender
/// derives it from the phone, `domain::time_zone::of_phone`). Opted-out phones
/// are kept, with `consent = 'opted_out'`: only MARKETING templates skip them.
pub fn push_recipients(sql: &mut Sql, audience: &Resolved) {
    push_classified(sql, audience);
    sql.push(
        "SELECT k.rel_type, k.rel_id, coalesce(k.name, w.name) AS name, k.phone, \
           w.time_zone, w.language, coalesce(w.custom_fields, '{}'::jsonb) AS custom_fields, k.consent \
         FROM classified k LEFT JOIN whatsapp_contacts w ON w.phone_normalized = k.phone \
         WHERE k.excluded IS NULL",
    );
}

/// [`push_recipients`] plus the records left out for a reason a campaign
/// reports per recipient (`excluded`: `no_phone`, `invalid_phone`,
/// `blocked`; NULL for a recipient): every column of `push_recipients`, then
/// `excluded`. Duplicates stay out: their phone has its recipient.
pub fn push_recipients_and_exclusions(sql: &mut Sql, audience: &Resolved) {
    push_classified(sql, audience);
    sql.push(
        "SELECT k.rel_type, k.rel_id, coalesce(k.name, w.name) AS name, k.phone, \
           w.time_zone, w.language, coalesce(w.custom_fields, '{}'::jsonb) AS custom_fields, k.consent, \
           k.excluded \
         FROM classified k LEFT JOIN whatsapp_contacts w ON w.phone_normalized = k.phone \
         WHERE k.excluded IS DISTINCT FROM 'duplicate'",
    );
}

/// How many records of the audience share a phone with another record.
pub async fn count_duplicates(
    conn: &mut AsyncPgConnection,
    audience: &Resolved,
) -> StoreResult<i64> {
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let mut sql = Sql::default();
    push_classified(&mut sql, audience);
    sql.push("SELECT count(*) AS n FROM classified WHERE excluded = 'duplicate'");
    let count: Count = sql.into_query().get_result(conn).await?;
    Ok(count.n)
}

/// What sending to an audience now would reach.
#[derive(Debug, Clone, diesel::QueryableByName)]
pub struct PreviewCounts {
    #[diesel(sql_type = BigInt)]
    pub records: i64,
    #[diesel(sql_type = BigInt)]
    pub size: i64,
    #[diesel(sql_type = BigInt)]
    pub no_phone: i64,
    #[diesel(sql_type = BigInt)]
    pub invalid_phone: i64,
    /// Recipients (counted in `size`) whose phone opted out of marketing.
    #[diesel(sql_type = BigInt)]
    pub opted_out: i64,
    #[diesel(sql_type = BigInt)]
    pub blocked: i64,
    #[diesel(sql_type = BigInt)]
    pub duplicate: i64,
}

#[derive(Debug, Clone, diesel::QueryableByName)]
pub struct SampleRecipient {
    #[diesel(sql_type = Text)]
    pub rel_type: String,
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub rel_id: Uuid,
    #[diesel(sql_type = Nullable<Text>)]
    pub name: Option<String>,
    #[diesel(sql_type = Text)]
    pub phone: String,
    #[diesel(sql_type = Text)]
    pub consent: String,
}

pub const SAMPLE_SIZE: i64 = 10;

/// The counts of [`PreviewCounts`] and the first recipients.
pub async fn preview(
    conn: &mut AsyncPgConnection,
    audience: &Resolved,
) -> StoreResult<(PreviewCounts, Vec<SampleRecipient>)> {
    let mut counts = Sql::default();
    push_classified(&mut counts, audience);
    counts.push(
        "SELECT count(*) AS records, \
           count(*) FILTER (WHERE excluded IS NULL) AS size, \
           count(*) FILTER (WHERE excluded = 'no_phone') AS no_phone, \
           count(*) FILTER (WHERE excluded = 'invalid_phone') AS invalid_phone, \
           count(*) FILTER (WHERE excluded IS NULL AND consent = 'opted_out') AS opted_out, \
           count(*) FILTER (WHERE excluded = 'blocked') AS blocked, \
           count(*) FILTER (WHERE excluded = 'duplicate') AS duplicate \
         FROM classified",
    );
    let counts: PreviewCounts = counts.into_query().get_result(conn).await?;
    let mut sample = Sql::default();
    sample.push("SELECT r.rel_type, r.rel_id, r.name, r.phone, r.consent FROM (");
    push_recipients(&mut sample, audience);
    sample
        .push(") r ORDER BY r.rel_id LIMIT ")
        .bind(Bind::BigInt(SAMPLE_SIZE));
    let sample = sample.into_query().load(conn).await?;
    Ok((counts, sample))
}
