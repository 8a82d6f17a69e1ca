//! Whats91's template list, `GET /api/v2/templates` ("List standard, non-carousel
//! templates for the authenticated sender"), every page, in Meta's shape.
//!
//! **The shape is our assumption, not Whats91's documentation.** Whats91's developer
//! portal (developers.whats91.com, "Public v2 APIs" table and "Where Tokens Are
//! Accepted"; repository `whats91/developers.whats91.com`, `src/lib/doc-data.ts`)
//! names the route, its bearer token and nothing more: no query, no answer. What we
//! read is therefore built from what Whats91 does document elsewhere:
//! - every other v2 list answers `{success, data: {<items>: [...], pagination:
//!   {page, limit, total, totalPages, hasMore}}}` and pages with `?page=&limit=`
//!   (`public/llms/conversations.md`, `chatbots.md`, `reports.md`), and scopes to a
//!   sender with `?senderId=`;
//! - a template, as `POST /api/v2/templates` answers it (`public/llms/templates.md`):
//!   `templateUid`, `templateId`, `templateName`, `category`, `language`, `status`
//!   (`PENDING`, `APPROVED`, … Meta's names), and its request's content shape
//!   `{body: {text}, header: {type, text}, footer: {text}, buttons: [...]}`.
//!
//! So the items may sit in `data.templates` (or `data` itself, or `data.items`), a
//! template's name in `templateName` or `name`, its content in Meta's `components` or
//! in that body/header/footer/buttons shape, which is turned into Meta's components
//! so `wacrm_domain::template::requirements` can read it. Paging continues while
//! `hasMore` is true or `page < totalPages`, and stops on a page with no items.

use serde_json::{Value, json};
use wacrm_domain::Provider;

use crate::call::{Auth, CallLog, Request, endpoint};
use crate::client::{ProviderClient, SenderNumber};
use crate::error::ProviderError;
use crate::failure;
use crate::templates::{self, Pages, RemoteTemplate};
use crate::webhook::json;

/// Whats91's other lists default to 50 a page; 100 halves the calls.
const TEMPLATES_PER_PAGE: &str = "100";

pub(crate) async fn list_templates(
    client: &ProviderClient<'_>,
    log: &mut CallLog<'_>,
    from: &SenderNumber<'_>,
) -> Result<Vec<RemoteTemplate>, ProviderError> {
    let api_key = client.credential("api_key")?;
    let base = endpoint(client.base_url, &["templates"])?;
    let mut found = Vec::new();
    let mut pages = Pages::new();
    let mut page: u64 = 1;
    loop {
        let mut url = base.clone();
        {
            let mut query = url.query_pairs_mut();
            if !from.phone.is_empty() {
                query.append_pair("senderId", from.phone);
            }
            query
                .append_pair("page", &page.to_string())
                .append_pair("limit", TEMPLATES_PER_PAGE);
        }
        let answer = log.call(Request::get(url, Auth::Bearer(api_key))).await?;
        let refused = answer.body.get("success") == Some(&Value::Bool(false));
        if !answer.is_success() || refused {
            return Err(failure::classify(Provider::Whats91, &answer));
        }
        let data = answer.body.get("data").unwrap_or(&Value::Null);
        let items = items(data).ok_or_else(|| {
            failure::unexpected(Provider::Whats91, "a `data.templates` list of templates")
        })?;
        found.extend(items.iter().filter_map(template));
        if items.is_empty() || !has_more(data, page) {
            return Ok(found);
        }
        page += 1;
        pages.advance(&page.to_string())?;
    }
}

fn items(data: &Value) -> Option<&Vec<Value>> {
    data.as_array().or_else(|| {
        ["templates", "items"]
            .iter()
            .find_map(|key| data.get(*key).and_then(Value::as_array))
    })
}

fn has_more(data: &Value, page: u64) -> bool {
    let Some(pagination) = data.get("pagination") else {
        return false;
    };
    if let Some(more) = pagination.get("hasMore").and_then(Value::as_bool) {
        return more;
    }
    pagination
        .get("totalPages")
        .and_then(Value::as_u64)
        .is_some_and(|total| page < total)
}

/// One listed template; `None` without a name.
fn template(item: &Value) -> Option<RemoteTemplate> {
    let name = json::first_text(item, &["templateName", "name", "normalizedTemplateName"])?;
    let language = match item.get("language") {
        Some(Value::Object(language)) => language
            .get("code")
            .and_then(Value::as_str)
            .map(str::to_owned),
        _ => json::first_text(item, &["language", "languageCode", "language_code"]),
    }
    .unwrap_or_default();
    let components = match item.get("components") {
        Some(Value::Array(components)) => Value::Array(components.clone()),
        _ => components_of(item),
    };
    Some(RemoteTemplate {
        provider_template_id: json::first_text(
            item,
            &["metaTemplateId", "templateId", "templateUid", "id"],
        ),
        name,
        language,
        category: json::text(item, "category"),
        status: templates::status(json::text(item, "status").as_deref().unwrap_or("")),
        components,
    })
}

/// Whats91's create shape (`body.text`, `header`, `footer.text`, `buttons`) as Meta's
/// components array.
fn components_of(item: &Value) -> Value {
    let mut components = Vec::new();
    if let Some(header) = item.get("header").filter(|header| header.is_object()) {
        let format = json::text(header, "type")
            .or_else(|| json::text(header, "format"))
            .unwrap_or_else(|| "TEXT".to_owned())
            .to_ascii_uppercase();
        let mut component = json!({"type": "HEADER", "format": format});
        if let Some(text) = json::text(header, "text") {
            component["text"] = json!(text);
        }
        components.push(component);
    }
    let body = item
        .get("body")
        .and_then(|body| json::text(body, "text"))
        .or_else(|| json::first_text(item, &["bodyText", "body_text"]));
    if let Some(text) = body {
        components.push(json!({"type": "BODY", "text": text}));
    }
    if let Some(text) = item
        .get("footer")
        .and_then(|footer| json::text(footer, "text"))
    {
        components.push(json!({"type": "FOOTER", "text": text}));
    }
    if let Some(buttons) = item
        .get("buttons")
        .and_then(Value::as_array)
        .filter(|buttons| !buttons.is_empty())
    {
        components.push(json!({"type": "BUTTONS", "buttons": buttons}));
    }
    Value::Array(components)
}

#[cfg(test)]
mod tests {
    use wacrm_domain::inbound::TemplateStatus;

    use super::*;

    #[test]
    fn a_whats91_template_in_its_create_shape_reads_as_metas() {
        // The fields of `POST /api/v2/templates`' answer and request
        // (whats91/developers.whats91.com, public/llms/templates.md).
        let listed = template(&json!({
            "templateUid": "0e6fb4f1-5a60-4d1d-8ef2-61a6ec8b7103",
            "templateId": "w91_1780300000000_ab12cd34",
            "templateName": "payment_reminder_v1", "category": "UTILITY", "language": "en",
            "status": "APPROVED", "metaTemplateId": "1234567890",
            "header": {"type": "TEXT", "text": "Invoice"},
            "body": {"text": "Hello {{1}}, payment for invoice {{2}} is due on {{3}}.",
                     "examples": ["Devendar", "INV-1001", "31 March"]},
            "footer": {"text": "Whats91"},
            "buttons": [{"type": "URL", "text": "Pay now", "url": "https://example.com/pay/{{1}}"}]
        }))
        .unwrap();
        assert_eq!(listed.name, "payment_reminder_v1");
        assert_eq!(listed.language, "en");
        assert_eq!(listed.status, TemplateStatus::Approved);
        assert_eq!(listed.provider_template_id.as_deref(), Some("1234567890"));
        assert_eq!(
            listed.components,
            json!([
                {"type": "HEADER", "format": "TEXT", "text": "Invoice"},
                {"type": "BODY", "text": "Hello {{1}}, payment for invoice {{2}} is due on {{3}}."},
                {"type": "FOOTER", "text": "Whats91"},
                {"type": "BUTTONS", "buttons": [{"type": "URL", "text": "Pay now", "url": "https://example.com/pay/{{1}}"}]}
            ])
        );
        let requirements = wacrm_domain::template::requirements(&listed.components);
        assert_eq!(requirements.body_params, 3);
    }

    #[test]
    fn meta_components_are_kept_and_a_nameless_entry_is_skipped() {
        let listed = template(
            &json!({"name": "order_update", "language": {"code": "en_US"},
            "status": "PENDING", "components": [{"type": "BODY", "text": "Hi {{1}}"}]}),
        )
        .unwrap();
        assert_eq!(listed.language, "en_US");
        assert_eq!(listed.status, TemplateStatus::Pending);
        assert_eq!(
            listed.components,
            json!([{"type": "BODY", "text": "Hi {{1}}"}])
        );
        assert_eq!(template(&json!({"status": "APPROVED"})), None);
    }

    #[test]
    fn paging_follows_has_more_then_total_pages() {
        assert!(has_more(&json!({"pagination": {"hasMore": true}}), 1));
        assert!(!has_more(
            &json!({"pagination": {"hasMore": false, "totalPages": 9}}),
            1
        ));
        assert!(has_more(&json!({"pagination": {"totalPages": 2}}), 1));
        assert!(!has_more(&json!({"pagination": {"totalPages": 2}}), 2));
        assert!(!has_more(&json!({"templates": []}), 1));
    }
}
