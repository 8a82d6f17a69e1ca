//! Keyset pagination over UUIDv7 ids: newest first, resumed strictly after the
//! last id seen, so a page never repeats or skips a row even while rows are added.

use uuid::Uuid;

/// Where a page starts and how long it is.
#[derive(Debug, Clone, Copy)]
pub struct PageRequest {
    /// The last id of the previous page, if any.
    pub after: Option<Uuid>,
    pub limit: i64,
}

#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// The id to resume after, when more rows exist.
    pub next: Option<Uuid>,
}

impl<T> Page<T> {
    /// Builds a page from up to `limit + 1` rows fetched in id order.
    pub fn from_rows(mut rows: Vec<T>, request: PageRequest, id: impl Fn(&T) -> Uuid) -> Self {
        let limit = usize::try_from(request.limit).unwrap_or(0);
        let more = rows.len() > limit;
        rows.truncate(limit);
        let next = if more { rows.last().map(id) } else { None };
        Self { items: rows, next }
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next: self.next,
        }
    }
}

/// Applies a [`PageRequest`] to a boxed diesel query ordered by `$id` descending.
#[macro_export]
macro_rules! paginate {
    ($query:expr, $id:expr, $request:expr) => {{
        let mut query = $query.order($id.desc()).limit($request.limit + 1);
        if let Some(after) = $request.after {
            query = query.filter($id.lt(after));
        }
        query
    }};
}
