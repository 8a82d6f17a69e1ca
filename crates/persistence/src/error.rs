//! The one error type of the persistence crate.
//!
//! Policy: constraint violations are named (the API turns them into 404, 409 or
//! 422 with a stable code); everything else is `Database`/`Pool`, which the API
//! logs and answers with an opaque 500.

use diesel::result::{DatabaseErrorKind, Error as DieselError};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("record not found")]
    NotFound,
    #[error("unique constraint `{0}` violated")]
    Conflict(String),
    #[error("foreign key `{0}` violated")]
    Reference(String),
    #[error("database pool: {0}")]
    Pool(String),
    #[error("database: {0}")]
    Database(#[source] DieselError),
    #[error("migrations: {0}")]
    Migration(String),
    #[error("stored data cannot be read: {0}")]
    Corrupt(String),
    /// PostgreSQL cancelled the statement after the connection's
    /// `statement_timeout`.
    #[error("the query ran past the statement timeout")]
    Timeout,
}

impl From<DieselError> for StoreError {
    fn from(error: DieselError) -> Self {
        match error {
            DieselError::NotFound => Self::NotFound,
            DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
                Self::Conflict(info.constraint_name().unwrap_or_default().to_owned())
            }
            DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, info) => {
                Self::Reference(info.constraint_name().unwrap_or_default().to_owned())
            }
            DieselError::DatabaseError(_, ref info) if is_statement_timeout(info.message()) => {
                Self::Timeout
            }
            other => Self::Database(other),
        }
    }
}

/// SQLSTATE 57014 (`query_canceled`) reaches diesel as an unknown kind: the
/// message tells a timeout from a cancel request. The server's messages are in
/// English unless `lc_messages` says otherwise (see the README).
fn is_statement_timeout(message: &str) -> bool {
    message.starts_with("canceling statement due to statement timeout")
}

impl From<diesel_async::pooled_connection::deadpool::PoolError> for StoreError {
    fn from(error: diesel_async::pooled_connection::deadpool::PoolError) -> Self {
        Self::Pool(error.to_string())
    }
}

pub type StoreResult<T> = Result<T, StoreError>;
