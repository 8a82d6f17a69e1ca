//! The list contract: `?limit=&cursor=` in, `{items, next_cursor}` out. The
//! cursor is opaque to clients (the last id seen, base64url-encoded).

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use wacrm_persistence::inbox::ActivityKey;
use wacrm_persistence::{Page, PageRequest};

use crate::error::{ApiError, ApiResult};

/// Base64url without padding, decoding leniently: the unused low bits of the
/// last character are ignored, so every string of the declared pattern is a
/// cursor (the OpenAPI document promises no more than the pattern).
const CURSOR: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(true),
);

pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 200;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Items per page, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    #[param(pattern = "^[A-Za-z0-9_-]{22}$")]
    pub cursor: Option<String>,
}

/// [`PageParams`] for lists keyed by a sequence number (jobs), whose cursors
/// are shorter.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SequencePageParams {
    /// Items per page, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    #[param(pattern = "^[A-Za-z0-9_-]{11}$")]
    pub cursor: Option<String>,
}

impl PageParams {
    pub fn request(&self) -> ApiResult<PageRequest> {
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(ApiError::bad_request(
                "invalid_query",
                format!("limit must be between 1 and {MAX_LIMIT}"),
            ));
        }
        let after = self.cursor.as_deref().map(decode_cursor).transpose()?;
        Ok(PageRequest {
            after,
            limit: i64::from(limit),
        })
    }
}

impl SequencePageParams {
    /// The position to resume after, and the page size.
    pub fn numeric(&self) -> ApiResult<(Option<i64>, i64)> {
        let request = PageParams {
            limit: self.limit,
            cursor: None,
        }
        .request()?;
        let after = match self.cursor.as_deref() {
            None => None,
            Some(cursor) => Some(
                CURSOR
                    .decode(cursor)
                    .ok()
                    .and_then(|bytes| <[u8; 8]>::try_from(bytes.as_slice()).ok())
                    .map(i64::from_be_bytes)
                    .ok_or_else(|| {
                        ApiError::bad_request(
                            "invalid_cursor",
                            "the cursor is not one this API issued",
                        )
                    })?,
            ),
        };
        Ok((after, request.limit))
    }
}

/// [`PageParams`] for the inbox, whose cursors are (last activity, id).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ActivityPageParams {
    /// Items per page, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    #[param(pattern = "^[A-Za-z0-9_-]{32}$")]
    pub cursor: Option<String>,
}

impl ActivityPageParams {
    /// The limit and where to resume.
    pub fn activity(&self) -> ApiResult<(Option<ActivityKey>, i64)> {
        let request = PageParams {
            limit: self.limit,
            cursor: None,
        }
        .request()?;
        let after = self
            .cursor
            .as_deref()
            .map(decode_activity_cursor)
            .transpose()?;
        Ok((after, request.limit))
    }
}

/// The inbox cursor: the activity time (microseconds since the epoch, as
/// PostgreSQL keeps it, so the boundary is exact) and the id.
pub fn activity_cursor(key: ActivityKey) -> String {
    let mut bytes = Vec::with_capacity(24);
    bytes.extend_from_slice(&key.at.timestamp_micros().to_be_bytes());
    bytes.extend_from_slice(key.id.as_bytes());
    CURSOR.encode(bytes)
}

/// Latest boundary a cursor may name (the end of year 9999): any later time
/// pages the same, and PostgreSQL's timestamps end not far beyond.
const LAST_MICROS: i64 = 253_402_300_799_999_999;

fn decode_activity_cursor(cursor: &str) -> ApiResult<ActivityKey> {
    CURSOR
        .decode(cursor)
        .ok()
        .filter(|bytes| bytes.len() == 24)
        .and_then(|bytes| {
            let (micros, id) = bytes.split_at(8);
            // Clamped: every string of the declared pattern is a cursor, and a
            // boundary before 1970 or after 9999 lists the same as those years.
            let micros =
                i64::from_be_bytes(<[u8; 8]>::try_from(micros).ok()?).clamp(0, LAST_MICROS);
            Some(ActivityKey {
                at: chrono::DateTime::from_timestamp_micros(micros)?,
                id: Uuid::from_slice(id).ok()?,
            })
        })
        .ok_or_else(|| {
            ApiError::bad_request("invalid_cursor", "the cursor is not one this API issued")
        })
}

/// The cursor for a sequence-numbered list.
pub fn numeric_cursor(id: i64) -> String {
    CURSOR.encode(id.to_be_bytes())
}

fn decode_cursor(cursor: &str) -> ApiResult<Uuid> {
    CURSOR
        .decode(cursor)
        .ok()
        .and_then(|bytes| Uuid::from_slice(&bytes).ok())
        .ok_or_else(|| {
            ApiError::bad_request("invalid_cursor", "the cursor is not one this API issued")
        })
}

fn encode_cursor(id: Uuid) -> String {
    CURSOR.encode(id.as_bytes())
}

/// One page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct PageResponse<T: ToSchema> {
    pub items: Vec<T>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

impl<T: ToSchema> PageResponse<T> {
    pub fn from_page<S>(page: Page<S>, convert: impl FnMut(S) -> T) -> Self {
        Self {
            items: page.items.into_iter().map(convert).collect(),
            next_cursor: page.next.map(encode_cursor),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip() {
        let id = Uuid::now_v7();
        assert_eq!(decode_cursor(&encode_cursor(id)).unwrap(), id);
    }

    #[test]
    fn activity_cursors_round_trip_to_the_microsecond() {
        let key = ActivityKey {
            at: chrono::DateTime::from_timestamp_micros(1_764_470_000_123_456).unwrap(),
            id: Uuid::now_v7(),
        };
        assert_eq!(decode_activity_cursor(&activity_cursor(key)).unwrap(), key);
        // An id-only cursor (the order before activity) is not an inbox cursor.
        assert_eq!(
            decode_activity_cursor(&encode_cursor(key.id))
                .unwrap_err()
                .code(),
            "invalid_cursor"
        );
    }

    #[test]
    fn foreign_cursors_and_limits_are_rejected() {
        assert_eq!(
            decode_cursor("not-a-cursor").unwrap_err().code(),
            "invalid_cursor"
        );
        let params = PageParams {
            limit: Some(0),
            cursor: None,
        };
        assert_eq!(params.request().unwrap_err().code(), "invalid_query");
    }
}
