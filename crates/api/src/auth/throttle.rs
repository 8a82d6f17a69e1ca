//! Login throttling: too many attempts for one account, or from one client
//! address, inside a window answer 429 with `Retry-After` until the window ends.
//!
//! The attempt is recorded first and the limit checked on the count that
//! recording returned (one statement), so concurrent guesses cannot all pass
//! the check before any of them is counted.

use chrono::{Duration, Utc};
use wacrm_persistence::{AsyncPgConnection, login_attempts};

use crate::error::{ApiError, ApiResult};

const WINDOW_MINUTES: i64 = 15;
const PER_ACCOUNT: i32 = 5;
const PER_ADDRESS: i32 = 20;

pub struct LoginKeys {
    account: String,
    address: String,
}

impl LoginKeys {
    pub fn new(email: &str, address: &str) -> Self {
        Self {
            account: format!("account:{}", email.trim().to_lowercase()),
            address: format!("address:{address}"),
        }
    }

    /// Counts this attempt; 429 when it is over either key's limit.
    pub async fn record_attempt(&self, conn: &mut AsyncPgConnection) -> ApiResult<()> {
        let window = Duration::minutes(WINDOW_MINUTES);
        let now = Utc::now();
        let counts = login_attempts::record(
            conn,
            &[self.account.clone(), self.address.clone()],
            now,
            window,
        )
        .await?;
        for count in counts {
            let limit = if count.throttle_key == self.account {
                PER_ACCOUNT
            } else {
                PER_ADDRESS
            };
            if count.attempts > limit {
                let seconds = (count.window_started_at + window - now).num_seconds();
                return Err(ApiError::too_many_requests(
                    u64::try_from(seconds).unwrap_or(1),
                    "too many failed logins; wait before trying again",
                ));
            }
        }
        Ok(())
    }

    /// A successful login forgives the account's attempts and takes its own
    /// back from the address.
    pub async fn record_success(&self, conn: &mut AsyncPgConnection) -> ApiResult<()> {
        login_attempts::forgive(conn, &self.account, &self.address).await?;
        Ok(())
    }
}
