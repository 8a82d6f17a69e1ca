//! Message templates as a provider lists them, in Meta's shape whichever provider it
//! is, and the paging that lists are split into.
//!
//! Meta (`GET /{waba_id}/message_templates`) and Lipachat (which relays Meta's list)
//! answer `{data: [{id, name, language, status, category, components}], paging:
//! {cursors: {after}, next}}`; `next` is present only while more pages follow.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use wacrm_domain::inbound::TemplateStatus;

use crate::error::ProviderError;
use crate::meta::template::template_status;
use crate::webhook::json;

/// How many pages one listing may take: far more than any account holds (100
/// templates a page), but a bound on a provider whose paging never ends.
pub(crate) const MAX_PAGES: usize = 200;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RemoteTemplate {
    pub provider_template_id: Option<String>,
    pub name: String,
    pub language: String,
    pub category: Option<String>,
    pub status: TemplateStatus,
    /// Meta's components array (`[{type: "BODY", text: "Hi {{1}}"}, …]`), which
    /// `wacrm_domain::template::requirements` reads.
    pub components: Value,
}

/// One template object in Meta's shape; `None` for an entry without a name.
pub(crate) fn from_meta_shape(template: &Value) -> Option<RemoteTemplate> {
    let name = json::text(template, "name")?;
    let components = template
        .get("components")
        .filter(|components| components.is_array())
        .cloned()
        .unwrap_or_else(|| Value::Array(Vec::new()));
    Some(RemoteTemplate {
        provider_template_id: json::text(template, "id"),
        name,
        language: json::first_text(template, &["language", "languageCode", "language_code"])
            .unwrap_or_default(),
        category: json::text(template, "category"),
        status: status(json::text(template, "status").as_deref().unwrap_or("")),
        components,
    })
}

/// A listed status as the domain's. Meta's list uses the webhook's names, plus a few
/// of its own; a status we do not know is kept as `Pending`: not sendable until the
/// provider says it is approved.
pub(crate) fn status(name: &str) -> TemplateStatus {
    if let Some(status) = template_status(name) {
        return status;
    }
    match name.trim().to_ascii_uppercase().as_str() {
        // Meta's list has no LOCKED status today; were it to say so, a template
        // locked against edits is not known to be sendable.
        "LOCKED" => TemplateStatus::Disabled,
        _ => TemplateStatus::Pending,
    }
}

/// The cursor for the page after this one, or `None` on the last page.
///
/// `next` is a full URL that carries the access token in its query, so it is never
/// followed as it is: its `after` cursor goes on our own URL instead.
pub(crate) fn next_cursor(paging: Option<&Value>) -> Option<String> {
    let paging = paging?;
    let next = json::text(paging, "next")?;
    paging
        .get("cursors")
        .and_then(|cursors| json::text(cursors, "after"))
        .or_else(|| {
            let next = url::Url::parse(&next).ok()?;
            next.query_pairs()
                .find(|(key, _)| key == "after")
                .map(|(_, value)| value.into_owned())
        })
}

/// Walks pages until the provider says there are no more, refusing a cursor that
/// repeats (paging that never advances) and more than [`MAX_PAGES`] pages: a partial
/// list must not pass for the whole one, or a sync would drop templates.
pub(crate) struct Pages {
    seen: Vec<String>,
}

impl Pages {
    pub(crate) fn new() -> Self {
        Self { seen: Vec::new() }
    }

    /// Records the cursor of the page about to be fetched.
    pub(crate) fn advance(&mut self, cursor: &str) -> Result<(), ProviderError> {
        if self.seen.iter().any(|seen| seen == cursor) {
            return Err(ProviderError::Permanent {
                code: None,
                message: "the provider's template list pages in a circle: the list is incomplete"
                    .to_owned(),
            });
        }
        // The first page has no cursor, so `seen` counts the pages after it.
        if self.seen.len() + 2 > MAX_PAGES {
            return Err(ProviderError::Permanent {
                code: None,
                message: format!(
                    "the provider's template list runs past {MAX_PAGES} pages: the list is incomplete"
                ),
            });
        }
        self.seen.push(cursor.to_owned());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn reads_a_meta_template() {
        let template = from_meta_shape(&json!({
            "name": "order_update", "language": "en_US", "status": "APPROVED", "category": "UTILITY",
            "id": 1510667259557589_u64,
            "components": [{"type": "BODY", "text": "Hi {{1}}"}]
        }))
        .unwrap();
        assert_eq!(
            template,
            RemoteTemplate {
                provider_template_id: Some("1510667259557589".into()),
                name: "order_update".into(),
                language: "en_US".into(),
                category: Some("UTILITY".into()),
                status: TemplateStatus::Approved,
                components: json!([{"type": "BODY", "text": "Hi {{1}}"}]),
            }
        );
        assert_eq!(from_meta_shape(&json!({"status": "APPROVED"})), None);
    }

    #[test]
    fn statuses_we_do_not_know_are_not_sendable() {
        assert_eq!(status("paused"), TemplateStatus::Paused);
        assert_eq!(status("IN_APPEAL"), TemplateStatus::InAppeal);
        assert_eq!(status("PENDING_DELETION"), TemplateStatus::Deleted);
        // The list and the status webhook use the same names.
        assert_eq!(status("ARCHIVED"), TemplateStatus::Archived);
        assert_eq!(status("LIMIT_EXCEEDED"), TemplateStatus::LimitExceeded);
        assert_eq!(status("LOCKED"), TemplateStatus::Disabled);
        assert_eq!(status("SOMETHING_NEW"), TemplateStatus::Pending);
    }

    #[test]
    fn the_last_page_has_no_next() {
        assert_eq!(
            next_cursor(Some(
                &json!({"cursors": {"before": "B", "after": "A"}, "next": "https://graph.facebook.com/x?access_token=t&after=A"})
            )),
            Some("A".into())
        );
        assert_eq!(
            next_cursor(Some(
                &json!({"next": "https://graph.facebook.com/x?after=Z&limit=100"})
            )),
            Some("Z".into())
        );
        assert_eq!(
            next_cursor(Some(&json!({"cursors": {"before": "B", "after": "A"}}))),
            None
        );
        assert_eq!(next_cursor(None), None);
    }

    #[test]
    fn paging_that_repeats_or_never_ends_is_refused() {
        let mut pages = Pages::new();
        pages.advance("a").unwrap();
        assert!(pages.advance("a").is_err());
        let mut pages = Pages::new();
        let results: Vec<bool> = (0..MAX_PAGES)
            .map(|page| pages.advance(&page.to_string()).is_ok())
            .collect();
        assert!(results[..MAX_PAGES - 1].iter().all(|ok| *ok));
        assert!(!results[MAX_PAGES - 1]);
    }
}
