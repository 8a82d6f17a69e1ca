//! Which methods a path answers, read from the document: the fallback route uses it
//! to answer 405 with `Allow` (not 404) when a path exists but the method does not.
//! The document is the list of routes, so the two cannot disagree.

use utoipa::openapi::OpenApi as Document;

pub struct AllowedMethods {
    /// Each path template as segments (`None` for a `{parameter}`), with its methods.
    paths: Vec<(Vec<Option<String>>, String)>,
}

impl AllowedMethods {
    pub fn from_document(document: &Document) -> Self {
        let paths = document
            .paths
            .paths
            .iter()
            .map(|(template, item)| {
                let segments = template
                    .split('/')
                    .map(|segment| {
                        (!(segment.starts_with('{') && segment.ends_with('}')))
                            .then(|| segment.to_owned())
                    })
                    .collect();
                let methods = [
                    ("GET", item.get.is_some()),
                    ("PUT", item.put.is_some()),
                    ("POST", item.post.is_some()),
                    ("DELETE", item.delete.is_some()),
                    ("PATCH", item.patch.is_some()),
                ]
                .into_iter()
                .filter_map(|(name, present)| present.then_some(name))
                .collect::<Vec<_>>()
                .join(", ");
                (segments, methods)
            })
            .collect();
        Self { paths }
    }

    /// The `Allow` value for `path`, when some route serves it. A literal path wins
    /// over a template it also fits (`/bots/test` over `/bots/{id}`): the templates are
    /// kept in the document's order, where `{` sorts after every literal character.
    pub fn for_path(&self, path: &str) -> Option<&str> {
        let segments: Vec<&str> = path.split('/').collect();
        self.paths
            .iter()
            .find(|(template, _)| {
                template.len() == segments.len()
                    && template.iter().zip(&segments).all(|(expected, actual)| {
                        expected
                            .as_deref()
                            .is_none_or(|expected| expected == *actual)
                    })
            })
            .map(|(_, methods)| methods.as_str())
    }
}
