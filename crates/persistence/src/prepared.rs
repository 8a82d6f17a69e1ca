//! Statements prepared once per connection, for those whose text never
//! changes.
//!
//! diesel keeps a connection's prepared statements only for queries it can
//! prove bounded: never a `sql_query` (its text might be built at run time)
//! nor an `UPDATE` (its `SET` list might vary). Every other execution sends
//! the statement to be parsed, planned and prepared in a round trip of its
//! own before running it: on the hot paths (a delivery, a processing batch)
//! that doubled the round trips and made PostgreSQL parse the same text
//! thousands of times a second. [`Prepared`] vouches for a statement whose
//! text is a constant, and diesel then caches it by its text.
//!
//! Only for constant text: a statement whose text varies (a batch insert of a
//! variable number of rows, a `format!`ed query, an update of optional
//! columns) would fill the connection's cache with one entry per variant.

use diesel::QueryResult;
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};

/// A statement whose SQL text is the same at every execution (see the module).
#[derive(Debug, Clone, Copy)]
pub struct Prepared<Q>(Q);

/// `.prepared()` on any statement of constant text.
pub trait PreparedExt: Sized {
    fn prepared(self) -> Prepared<Self> {
        Prepared(self)
    }
}

impl<Q: QueryFragment<Pg>> PreparedExt for Q {}

impl<Q: QueryFragment<Pg>> QueryFragment<Pg> for Prepared<Q> {
    fn walk_ast<'b>(&'b self, pass: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        self.0.walk_ast(pass)
    }

    fn is_safe_to_cache_prepared(&self, _backend: &Pg) -> QueryResult<bool> {
        Ok(true)
    }
}

/// No static id: the cache is keyed by the statement's text (and its binds'
/// types), which is what makes a constant text one entry.
impl<Q> QueryId for Prepared<Q> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q: Query> Query for Prepared<Q> {
    type SqlType = Q::SqlType;
}
