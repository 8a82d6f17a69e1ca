//! Login throttling: too many failures for one account, or from one client
//! address, inside a sliding window answer 429 with `Retry-After` until the
//! oldest failure leaves the window.

use chrono::{Duration, Utc};
use wacrm_persistence::{AsyncPgConnection, login_failures};

use crate::error::{ApiError, ApiResult};

const WINDOW_MINUTES: i64 = 15;
const PER_ACCOUNT: i64 = 5;
const PER_ADDRESS: i64 = 20;

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

    /// 429 when either key is over its limit.
    pub async fn check(&self, conn: &mut AsyncPgConnection) -> ApiResult<()> {
        let window = Duration::minutes(WINDOW_MINUTES);
        let since = Utc::now() - window;
        for (key, limit) in [(&self.account, PER_ACCOUNT), (&self.address, PER_ADDRESS)] {
            let (failures, oldest) = login_failures::recent(conn, key, since).await?;
            if failures >= limit {
                let retry_at = oldest.unwrap_or_else(Utc::now) + window;
                let seconds = (retry_at - Utc::now()).num_seconds().max(1);
                return Err(ApiError::too_many_requests(
                    u64::try_from(seconds).unwrap_or(1),
                    "too many failed logins; wait before trying again",
                ));
            }
        }
        Ok(())
    }

    pub async fn record_failure(&self, conn: &mut AsyncPgConnection) -> ApiResult<()> {
        let forget_before = Utc::now() - Duration::minutes(WINDOW_MINUTES);
        login_failures::record(
            conn,
            &[self.account.clone(), self.address.clone()],
            forget_before,
        )
        .await?;
        Ok(())
    }

    /// A successful login forgives the account's failures (not the address's).
    pub async fn record_success(&self, conn: &mut AsyncPgConnection) -> ApiResult<()> {
        login_failures::clear(conn, &self.account).await?;
        Ok(())
    }
}
