//! Multi-row INSERTs bind one parameter per column per row, and PostgreSQL's
//! wire protocol allows at most 65,535 parameters in one statement: an INSERT
//! of rows whose number the caller does not bound must go in chunks of
//! [`rows_per_insert`] rows. (Statements that pass arrays to `unnest` bind one
//! parameter per column whatever the number of rows, and need no chunks.)

/// The most bind parameters PostgreSQL accepts in one statement (a 16-bit count).
pub const MAX_BIND_PARAMETERS: usize = u16::MAX as usize;

/// How many rows of `columns` columns fit in one INSERT.
pub const fn rows_per_insert(columns: usize) -> usize {
    MAX_BIND_PARAMETERS / columns
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chunk_stays_within_the_limit() {
        for columns in [1, 4, 9, 12, 14] {
            let rows = rows_per_insert(columns);
            assert!(rows * columns <= MAX_BIND_PARAMETERS);
            assert!((rows + 1) * columns > MAX_BIND_PARAMETERS);
        }
    }
}
