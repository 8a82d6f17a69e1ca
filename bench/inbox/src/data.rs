//! The synthetic inbox: conversations and their messages, generated
//! deterministically from a seed and written as one `psql` script of `COPY`
//! blocks (staff, conversations, messages, message_media,
//! message_status_events) in a single transaction.
//!
//! Ids are UUIDv7 made from each row's own timestamp, as the application makes
//! them, so `ORDER BY id DESC` is newest first. Each conversation is generated
//! from its own seed, so the script is produced in passes (one per table,
//! parents before children) without holding a million messages in memory.

use std::io::Write;

use anyhow::bail;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::json;
use uuid::{Builder, Uuid};

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

/// SplitMix64: small, fast, and the same sequence on every machine.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }

    pub fn chance(&mut self, p: f64) -> bool {
        ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64) < p
    }

    pub fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items
            .get(self.below(items.len() as u64) as usize)
            .copied()
            .unwrap_or_default()
    }

    fn bytes10(&mut self) -> [u8; 10] {
        let a = self.next_u64().to_le_bytes();
        let b = self.next_u64().to_le_bytes();
        [a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], b[0], b[1]]
    }

    /// A UUIDv7 for the instant `ms` (Unix milliseconds).
    pub fn v7(&mut self, ms: i64) -> Uuid {
        Builder::from_unix_timestamp_millis(u64::try_from(ms).unwrap_or(0), &self.bytes10())
            .into_uuid()
    }

    pub fn v4(&mut self) -> Uuid {
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&self.next_u64().to_le_bytes());
        bytes[8..].copy_from_slice(&self.next_u64().to_le_bytes());
        Builder::from_random_bytes(bytes).into_uuid()
    }
}

const FIRST_NAMES: &[&str] = &[
    "Amina", "Brian", "Carlos", "Daniela", "Esther", "Farid", "Grace", "Hassan", "Ivy", "James",
    "Kamau", "Lucia", "Mohamed", "Nadia", "Omar", "Priya", "Quentin", "Rosa", "Samuel", "Tariq",
    "Uma", "Victor", "Wanjiru", "Xavier", "Yusuf", "Zara",
];
const LAST_NAMES: &[&str] = &[
    "Otieno", "Silva", "Kumar", "Njoroge", "Garcia", "Hussein", "Mwangi", "Rossi", "Okafor",
    "Nguyen", "Achieng", "Moreau", "Kariuki", "Haddad", "Patel", "Wambui", "Mensah", "Ibrahim",
];
const INBOUND_TEXT: &[&str] = &[
    "Hi, is this still available?",
    "What are your opening hours on Saturday?",
    "Can you send me the price list please",
    "I paid yesterday but have not received a confirmation",
    "Thanks, that works for me",
    "When will my order be delivered?",
    "Do you deliver outside Nairobi?",
    "Ok",
    "Can I change the delivery address?",
    "I would like to book an appointment for next week",
    "Is there a discount for bulk orders?",
    "Please call me back when you can",
];
const OUTBOUND_TEXT: &[&str] = &[
    "Hello! Thanks for reaching out, how can we help?",
    "Yes, it is available. Would you like us to reserve one for you?",
    "We are open 9am to 5pm, Monday to Saturday.",
    "Here is our latest price list.",
    "Your order has been dispatched and should arrive tomorrow.",
    "Sorry for the delay, I have escalated this to our billing team.",
    "Sure, which date suits you best?",
    "Thank you! Let us know if there is anything else.",
    "Could you share your order number please?",
    "We deliver countrywide within 3 working days.",
];

/// What to generate.
pub struct Spec {
    pub conversations: usize,
    pub messages: usize,
    /// Conversations with a recent inbound message (window open): the send targets.
    pub active: usize,
    /// Conversations are created over this many days up to `now_ms`.
    pub days: i64,
    pub seed: u64,
    pub now_ms: i64,
    pub number_id: Uuid,
    pub staff: Vec<Uuid>,
    /// Also write the status history (sent/delivered/read) of outbound messages.
    pub status_events: bool,
}

pub struct Message {
    pub id: Uuid,
    pub inbound: bool,
    pub image: bool,
    pub body: String,
    pub status: &'static str,
    pub at_ms: i64,
    pub staff: Option<Uuid>,
}

pub struct Conversation {
    pub id: Uuid,
    pub created_ms: i64,
    pub customer_phone: String,
    pub profile_name: Option<String>,
    pub rel_type: &'static str,
    pub rel_id: Option<Uuid>,
    pub status: &'static str,
    pub assigned_to: Option<Uuid>,
    pub unread: u32,
    pub session_expires_ms: Option<i64>,
    pub snooze_until_ms: Option<i64>,
    pub messages: Vec<Message>,
}

pub struct Dataset {
    pub spec: Spec,
    counts: Vec<u32>,
    slot_ms: i64,
    active_every: usize,
}

/// How many rows of each kind the script holds.
#[derive(Default, Debug, Clone, Copy)]
pub struct Totals {
    pub conversations: u64,
    pub messages: u64,
    pub media: u64,
    pub status_events: u64,
}

impl Dataset {
    pub fn new(spec: Spec) -> anyhow::Result<Self> {
        if spec.conversations == 0 || spec.messages < spec.conversations {
            bail!("need at least one conversation and one message per conversation");
        }
        if spec.active > spec.conversations {
            bail!("--active cannot exceed --conversations");
        }
        if spec.staff.is_empty() {
            bail!("need at least one staff member");
        }
        // Most conversations are short; one in a hundred is long (100-300 messages).
        let mut rng = Rng::new(spec.seed ^ 0xC0FF_EE00);
        let weights: Vec<u64> = (0..spec.conversations)
            .map(|_| {
                if rng.chance(0.01) {
                    100 + rng.below(201)
                } else {
                    1 + rng.below(15)
                }
            })
            .collect();
        let total_weight: u64 = weights.iter().sum();
        let target = spec.messages as u64;
        let mut counts: Vec<u32> = weights
            .iter()
            .map(|w| {
                let share = (w * target + total_weight / 2) / total_weight.max(1);
                u32::try_from(share.max(1)).unwrap_or(u32::MAX)
            })
            .collect();
        let mut diff: i64 =
            spec.messages as i64 - counts.iter().map(|c| i64::from(*c)).sum::<i64>();
        while diff != 0 {
            let i = rng.below(counts.len() as u64) as usize;
            if let Some(count) = counts.get_mut(i) {
                if diff > 0 {
                    *count += 1;
                    diff -= 1;
                } else if *count > 1 {
                    *count -= 1;
                    diff += 1;
                }
            }
        }
        let span = spec.days.max(1) * DAY_MS;
        let slot_ms = (span / spec.conversations as i64).max(2);
        let active_every = spec
            .conversations
            .checked_div(spec.active)
            .unwrap_or(usize::MAX);
        Ok(Self {
            spec,
            counts,
            slot_ms,
            active_every,
        })
    }

    /// How many messages conversation `i` has.
    pub fn message_count(&self, i: usize) -> usize {
        self.counts.get(i).copied().unwrap_or(0) as usize
    }

    /// Whether conversation `i` has its window open (every `active_every`-th,
    /// counting from the newest, so they are spread over every page).
    pub fn is_active(&self, i: usize) -> bool {
        let from_newest = self.spec.conversations - 1 - i;
        self.active_every != usize::MAX
            && from_newest % self.active_every == 0
            && from_newest / self.active_every < self.spec.active
    }

    /// Conversation `i` (0 is the oldest) with its messages.
    pub fn conversation(&self, i: usize) -> Conversation {
        let spec = &self.spec;
        let mut rng = Rng::new(
            spec.seed
                .wrapping_add((i as u64 + 1).wrapping_mul(0xD1B5_4A32_D192_ED03)),
        );
        let now = spec.now_ms;
        let created_ms = now - spec.days.max(1) * DAY_MS
            + i as i64 * self.slot_ms
            + rng.below((self.slot_ms / 2) as u64) as i64;
        let id = rng.v7(created_ms);
        let active = self.is_active(i);
        let staff = |rng: &mut Rng| {
            spec.staff
                .get(rng.below(spec.staff.len() as u64) as usize)
                .copied()
        };

        let (rel_type, rel_id) = match rng.below(100) {
            0..35 => ("lead", Some(rng.v4())),
            35..65 => ("contact", Some(rng.v4())),
            65..70 => ("staff", staff(&mut rng)),
            _ => ("general", None),
        };
        let assigned_to = if rng.chance(0.55) {
            staff(&mut rng)
        } else {
            None
        };
        let status = if active {
            "open"
        } else {
            match rng.below(100) {
                0..22 => "resolved",
                22..30 => "pending",
                30..32 => "snoozed",
                _ => "open",
            }
        };
        let profile_name = rng
            .chance(0.9)
            .then(|| format!("{} {}", rng.pick(FIRST_NAMES), rng.pick(LAST_NAMES)));

        let count = self.counts.get(i).copied().unwrap_or(1).max(1) as usize;
        let end_target = if active {
            now - rng.below(20 * HOUR_MS as u64) as i64
        } else {
            created_ms + 60_000 + rng.below(3 * DAY_MS as u64) as i64
        };
        let end = end_target.min(now - 1_000).max(created_ms + count as i64);
        let mut messages = Vec::with_capacity(count);
        let mut previous_ms = created_ms - 1;
        for j in 0..count {
            let planned = if count == 1 {
                if active { end } else { created_ms }
            } else {
                created_ms + (end - created_ms) * j as i64 / (count as i64 - 1)
            };
            let at_ms = planned.max(previous_ms + 1);
            previous_ms = at_ms;
            let inbound = j == 0 || (active && j + 1 == count) || rng.chance(0.5);
            let image = rng.chance(0.05);
            let text = rng.pick(if inbound { INBOUND_TEXT } else { OUTBOUND_TEXT });
            let status = if inbound {
                "received"
            } else {
                match rng.below(100) {
                    0..55 => "read",
                    55..85 => "delivered",
                    85..97 => "sent",
                    _ => "failed",
                }
            };
            messages.push(Message {
                id: rng.v7(at_ms),
                inbound,
                image,
                body: text.to_owned(),
                status,
                at_ms,
                staff: if inbound { None } else { staff(&mut rng) },
            });
        }

        let trailing_inbound = messages.iter().rev().take_while(|m| m.inbound).count() as u32;
        let unread = if active {
            trailing_inbound
        } else if status == "resolved" || rng.chance(0.75) {
            0
        } else {
            trailing_inbound
        };
        let session_expires_ms = messages
            .iter()
            .rev()
            .find(|m| m.inbound)
            .map(|m| m.at_ms + DAY_MS);
        Conversation {
            id,
            created_ms,
            customer_phone: format!("2547{i:08}"),
            profile_name,
            rel_type,
            rel_id,
            status,
            assigned_to,
            unread,
            session_expires_ms,
            snooze_until_ms: (status == "snoozed").then_some(now + 7 * DAY_MS),
            messages,
        }
    }

    /// Writes the whole load as a psql script to `out`.
    pub fn write_script(&self, out: &mut impl Write) -> anyhow::Result<Totals> {
        let mut totals = Totals::default();
        let mut line = String::with_capacity(1024);
        writeln!(out, "\\set ON_ERROR_STOP on")?;
        writeln!(out, "SET synchronous_commit = off;")?;
        writeln!(out, "BEGIN;")?;
        writeln!(
            out,
            "INSERT INTO staff (id, name, email, password_hash, permissions) VALUES"
        )?;
        for (k, id) in self.spec.staff.iter().enumerate() {
            let separator = if k + 1 == self.spec.staff.len() {
                ";"
            } else {
                ","
            };
            writeln!(
                out,
                "('{id}', 'Bench Agent {k}', 'bench-agent-{k}-{}@example.com', 'not-a-password-hash', '{{whatsapp_chat:view}}'){separator}",
                self.spec.seed
            )?;
        }

        writeln!(
            out,
            "COPY conversations (id, number_id, customer_phone, profile_name, rel_type, rel_id, status, assigned_to, unread_count, last_message_id, last_message_at, last_message_preview, session_expires_at, snooze_until, created_at, updated_at, last_activity_at) FROM STDIN;"
        )?;
        for i in 0..self.spec.conversations {
            let c = self.conversation(i);
            let last = c.messages.last();
            line.clear();
            field(&mut line, &c.id.to_string());
            field(&mut line, &self.spec.number_id.to_string());
            field(&mut line, &c.customer_phone);
            opt(&mut line, c.profile_name.as_deref());
            field(&mut line, c.rel_type);
            opt(&mut line, c.rel_id.map(|id| id.to_string()).as_deref());
            field(&mut line, c.status);
            opt(&mut line, c.assigned_to.map(|id| id.to_string()).as_deref());
            field(&mut line, &c.unread.to_string());
            opt(&mut line, last.map(|m| m.id.to_string()).as_deref());
            opt(&mut line, last.map(|m| ts(m.at_ms)).as_deref());
            opt(
                &mut line,
                last.map(|m| preview(m).chars().take(120).collect::<String>())
                    .as_deref(),
            );
            opt(&mut line, c.session_expires_ms.map(ts).as_deref());
            opt(&mut line, c.snooze_until_ms.map(ts).as_deref());
            field(&mut line, &ts(c.created_ms));
            // As wacrm keeps them: the last message's time, and activity then.
            field(&mut line, &ts(last.map_or(c.created_ms, |m| m.at_ms)));
            last_field(&mut line, &ts(last.map_or(c.created_ms, |m| m.at_ms)));
            out.write_all(line.as_bytes())?;
            totals.conversations += 1;
        }
        writeln!(out, "\\.")?;

        writeln!(
            out,
            "COPY messages (id, conversation_id, direction, kind, body, payload, provider, provider_message_id, status, error, sent_by, sent_at, context_message_id, created_at, updated_at, send_started_at) FROM STDIN;"
        )?;
        for i in 0..self.spec.conversations {
            let c = self.conversation(i);
            for m in &c.messages {
                line.clear();
                let at = ts(m.at_ms);
                field(&mut line, &m.id.to_string());
                field(&mut line, &c.id.to_string());
                field(&mut line, if m.inbound { "inbound" } else { "outbound" });
                field(&mut line, if m.image { "image" } else { "text" });
                field(&mut line, &preview(m));
                field(&mut line, &payload(m).to_string());
                field(&mut line, "meta");
                opt(&mut line, provider_id(m).as_deref());
                field(&mut line, m.status);
                opt(
                    &mut line,
                    (m.status == "failed")
                        .then(|| {
                            json!({"code": "provider_rejected", "title": "Message undeliverable.",
                                   "detail": null, "provider_code": "131026"})
                            .to_string()
                        })
                        .as_deref(),
                );
                opt(
                    &mut line,
                    m.staff.map(|staff| format!("staff:{staff}")).as_deref(),
                );
                field(&mut line, &at);
                opt(&mut line, None);
                field(&mut line, &at);
                field(&mut line, &ts(m.at_ms + status_delay_ms(m.status)));
                last_opt(&mut line, (!m.inbound).then_some(at.as_str()));
                out.write_all(line.as_bytes())?;
                totals.messages += 1;
            }
        }
        writeln!(out, "\\.")?;

        writeln!(
            out,
            "COPY message_media (message_id, source, mime_type, filename, sha256, stored_key, size_bytes, last_error, created_at, updated_at) FROM STDIN;"
        )?;
        for i in 0..self.spec.conversations {
            let c = self.conversation(i);
            for m in c.messages.iter().filter(|m| m.image) {
                line.clear();
                let at = ts(m.at_ms);
                field(&mut line, &m.id.to_string());
                field(
                    &mut line,
                    &json!({"id": media_id(m), "kind": "image"}).to_string(),
                );
                field(&mut line, "image/jpeg");
                opt(&mut line, None);
                field(&mut line, &format!("{:032x}", m.id.as_u128()));
                field(&mut line, &format!("media/{}", m.id));
                field(&mut line, &(40_000 + m.id.as_u128() % 400_000).to_string());
                opt(&mut line, None);
                field(&mut line, &at);
                last_field(&mut line, &at);
                out.write_all(line.as_bytes())?;
                totals.media += 1;
            }
        }
        writeln!(out, "\\.")?;

        if self.spec.status_events {
            writeln!(
                out,
                "COPY message_status_events (id, message_id, provider, provider_message_id, status, occurred_at, applied, errors, billing, created_at) FROM STDIN;"
            )?;
            let mut rng = Rng::new(self.spec.seed ^ 0x5747_5455);
            for i in 0..self.spec.conversations {
                let c = self.conversation(i);
                for m in c.messages.iter().filter(|m| !m.inbound) {
                    let Some(wamid) = provider_id(m) else {
                        continue;
                    };
                    let reached = match m.status {
                        "read" => 3,
                        "delivered" => 2,
                        _ => 1,
                    };
                    for (step, status) in ["sent", "delivered", "read"]
                        .into_iter()
                        .enumerate()
                        .take(reached)
                    {
                        let at_ms = m.at_ms + status_delay_ms(status);
                        line.clear();
                        field(&mut line, &rng.v7(at_ms).to_string());
                        field(&mut line, &m.id.to_string());
                        field(&mut line, "meta");
                        field(&mut line, &wamid);
                        field(&mut line, status);
                        field(&mut line, &ts(at_ms));
                        field(&mut line, "t");
                        field(&mut line, "[]");
                        opt(
                            &mut line,
                            (step == 0)
                                .then(|| {
                                    json!({"billable": true, "pricing_model": "PMP",
                                           "category": "service"})
                                    .to_string()
                                })
                                .as_deref(),
                        );
                        last_field(&mut line, &ts(at_ms));
                        out.write_all(line.as_bytes())?;
                        totals.status_events += 1;
                    }
                }
            }
            writeln!(out, "\\.")?;
        }
        writeln!(out, "COMMIT;")?;
        Ok(totals)
    }
}

fn status_delay_ms(status: &str) -> i64 {
    match status {
        "sent" => 1_000,
        "delivered" => 3_000,
        "read" => 90_000,
        _ => 0,
    }
}

fn preview(m: &Message) -> String {
    if m.image {
        format!("📷 {}", m.body)
    } else {
        m.body.clone()
    }
}

fn media_id(m: &Message) -> String {
    format!("{}", m.id.as_u128() % 10_000_000_000_000_000)
}

fn provider_id(m: &Message) -> Option<String> {
    match (m.inbound, m.status) {
        (false, "failed") => None,
        (true, _) => Some(format!("wamid.HBgMIN{}", m.id.simple())),
        (false, _) => Some(format!("wamid.HBgMOUT{}", m.id.simple())),
    }
}

/// What the app stores: the parsed inbound content, or the outbound request.
fn payload(m: &Message) -> serde_json::Value {
    match (m.inbound, m.image) {
        (true, false) => json!({"text": m.body}),
        (true, true) => {
            json!({"caption": m.body, "media_id": media_id(m), "mime_type": "image/jpeg"})
        }
        (false, false) => json!({"type": "text", "text": m.body, "preview_url": false}),
        (false, true) => {
            json!({"type": "image", "image": {"link": format!("https://cdn.example.com/{}.jpg", m.id.simple()), "caption": m.body}})
        }
    }
}

fn ts(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Appends `value` escaped for COPY's text format, then a tab.
fn field(line: &mut String, value: &str) {
    escape_into(line, value);
    line.push('\t');
}

fn last_field(line: &mut String, value: &str) {
    escape_into(line, value);
    line.push('\n');
}

fn opt(line: &mut String, value: Option<&str>) {
    match value {
        Some(value) => field(line, value),
        None => line.push_str("\\N\t"),
    }
}

fn last_opt(line: &mut String, value: Option<&str>) {
    match value {
        Some(value) => last_field(line, value),
        None => line.push_str("\\N\n"),
    }
}

fn escape_into(line: &mut String, value: &str) {
    for ch in value.chars() {
        match ch {
            '\\' => line.push_str("\\\\"),
            '\t' => line.push_str("\\t"),
            '\n' => line.push_str("\\n"),
            '\r' => line.push_str("\\r"),
            other => line.push(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> Spec {
        Spec {
            conversations: 1_000,
            messages: 10_000,
            active: 100,
            days: 90,
            seed: 7,
            now_ms: 1_800_000_000_000,
            number_id: Uuid::nil(),
            staff: vec![Uuid::nil(), Uuid::max()],
            status_events: true,
        }
    }

    #[test]
    fn totals_and_order_hold() -> anyhow::Result<()> {
        let data = Dataset::new(spec())?;
        let mut total = 0;
        let mut previous = Uuid::nil();
        let mut active = 0;
        for i in 0..1_000 {
            let c = data.conversation(i);
            assert!(c.id > previous, "conversation ids grow with creation");
            previous = c.id;
            total += c.messages.len();
            let ids: Vec<Uuid> = c.messages.iter().map(|m| m.id).collect();
            assert!(ids.windows(2).all(|w| w[0] < w[1]), "message ids grow");
            assert!(c.messages.iter().all(|m| m.at_ms < data.spec.now_ms));
            if data.is_active(i) {
                active += 1;
                assert!(c.session_expires_ms.unwrap_or(0) > data.spec.now_ms + 4 * HOUR_MS);
            }
        }
        assert_eq!(total, 10_000);
        assert_eq!(active, 100);
        Ok(())
    }

    #[test]
    fn copy_text_is_escaped() {
        let mut line = String::new();
        field(&mut line, "a\\b\tc\nd");
        last_opt(&mut line, None);
        assert_eq!(line, "a\\\\b\\tc\\nd\t\\N\n");
    }
}
