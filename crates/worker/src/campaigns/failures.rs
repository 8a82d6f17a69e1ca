//! What a failed campaign send teaches the campaign, whether the provider
//! refused it at once or reported it later in a status webhook:
//! - 131049 (Meta holds marketing back from a customer who got many
//!   lately): the recipient is tried once more, no sooner than 24 hours after
//!   the failure; a second 131049 stands.
//! - 131026 (undeliverable: not a WhatsApp user, or an old app): the
//!   recipient is marked `invalid_recipient`.
//!
//! (131050, the customer stopped marketing messages, is consent's:
//! `consent::learn_from_failure`.)

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;
use wacrm_persistence::campaigns::recipients;
use wacrm_persistence::campaigns::runs;
use wacrm_persistence::{AsyncPgConnection, StoreResult};

/// Meta's per-user marketing limit.
pub const PER_USER_MARKETING_LIMIT: &str = "131049";
/// Meta's "message undeliverable".
pub const UNDELIVERABLE: &str = "131026";
/// How long a recipient held back by 131049 waits before its one retry.
pub const PER_USER_LIMIT_WAIT: Duration = Duration::hours(24);

/// Applies a failure (with the provider's error `codes`) of the campaign
/// message `message_id`, if it is one; `at` is when it failed.
pub async fn learn<'a>(
    conn: &mut AsyncPgConnection,
    message_id: Uuid,
    codes: impl IntoIterator<Item = &'a str>,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    let codes: Vec<&str> = codes.into_iter().collect();
    let Some(recipient) = recipients::of_message(conn, message_id).await? else {
        return Ok(());
    };
    if codes.contains(&PER_USER_MARKETING_LIMIT) && recipient.retries == 0 {
        recipients::retry_later(conn, recipient.id, at + PER_USER_LIMIT_WAIT).await?;
        // A run that finished meanwhile is running again, its dispatcher
        // asleep until the retry is due.
        let run = runs::lock(conn, recipient.run_id).await?;
        if run.status == "completed" {
            runs::set_status(conn, run.id, "running", None).await?;
            super::dispatch(conn, run.id, Some(at + PER_USER_LIMIT_WAIT)).await?;
        }
        return Ok(());
    }
    if codes.contains(&UNDELIVERABLE) {
        recipients::mark_unsent(
            conn,
            recipient.id,
            "failed",
            "invalid_recipient",
            Some("the provider cannot deliver to this number (131026: not on WhatsApp, or an outdated app)"),
        )
        .await?;
    }
    Ok(())
}
