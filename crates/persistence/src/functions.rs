//! SQL functions the queries use.

use diesel::sql_types::Text;

diesel::define_sql_function! {
    /// PostgreSQL's `lower(text)`, matching the case-insensitive unique indexes.
    fn lower(value: Text) -> Text;
}
