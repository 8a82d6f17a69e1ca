//! Transactions opened and closed by hand, for a claim that spans work done
//! elsewhere (a transactional job's row lock, see `jobs::lock_for_run`), and
//! the way back to a known depth after a panic left a transaction half-done.

use diesel_async::{AnsiTransactionManager, AsyncPgConnection, TransactionManager as _};

use crate::error::StoreResult;

/// How many transactions (the outer one and its savepoints) are open on `conn`.
pub fn depth(conn: &mut AsyncPgConnection) -> StoreResult<u32> {
    Ok(AnsiTransactionManager::transaction_manager_status_mut(conn)
        .transaction_depth()?
        .map_or(0, |depth| depth.get()))
}

/// Opens a transaction, or a savepoint inside the open one.
pub async fn begin(conn: &mut AsyncPgConnection) -> StoreResult<()> {
    Ok(AnsiTransactionManager::begin_transaction(conn).await?)
}

/// Commits the innermost transaction (releases it, for a savepoint).
pub async fn commit(conn: &mut AsyncPgConnection) -> StoreResult<()> {
    Ok(AnsiTransactionManager::commit_transaction(conn).await?)
}

/// Rolls back every transaction opened on `conn` above `depth`. A panic in a
/// transaction's closure skips its rollback and leaves it open: this undoes
/// what it wrote and lets the connection be used at `depth` again.
pub async fn rollback_to(conn: &mut AsyncPgConnection, depth: u32) -> StoreResult<()> {
    while self::depth(conn)? > depth {
        AnsiTransactionManager::rollback_transaction(conn).await?;
    }
    Ok(())
}
