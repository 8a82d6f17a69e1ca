//! Lipachat's REST API (`https://gateway.lipachat.com/api/v1`, header `apiKey`).
//!
//! Documented endpoints, each with `{messageId, to, from}` besides its content:
//! - `POST /whatsapp/message/text` `{message}`;
//! - `POST /whatsapp/media` `{mediaType: IMAGE|VIDEO|AUDIO|DOCUMENT|STICKER, mediaUrl,
//!   caption?, filename?}`, by link only;
//! - `POST /whatsapp/interactive/buttons` `{text, buttons: [{id, title}]}`;
//! - `POST /whatsapp/interactive/list` `{headerText?, body, buttonText, buttons:
//!   [{sectionTitle, sectionItems: [{id, title, description?}]}]}`;
//! - `POST /whatsapp/template` `{template: {name, languageCode, components: {header?:
//!   {type, mediaUrl}, body: {placeholders}}}}`;
//! - `GET /template/{phone}` lists templates in Meta's shape under `data.data`.
//!
//! The buttons and list pages name the body field `message` in their tables but
//! `text` and `body` in their examples; we follow the examples. Where Lipachat is
//! silent we decided, and Lipachat ignores fields it does not know:
//! - a list's footer is sent as `footerText`, a button message's header and footer as
//!   `headerText`/`footerText`, after the list's documented `headerText`;
//! - a TEXT template header's parameter goes in `header: {type: "TEXT", placeholders}`
//!   and button values in `buttons: [{type, index, placeholders}]`, after the body's
//!   documented `placeholders`;
//! - `reply_to` is dropped: no endpoint takes a reply context, and the message is
//!   better sent unquoted than not at all;
//! - templates are listed page by page through `data.paging` when Lipachat relays
//!   Meta's paging (`?after=`), else the one page is the whole list.
//!
//! Locations, contacts, reactions, call-to-action URL buttons and media by id have
//! no endpoint: they are [`Unsupported`]. There is no read-receipt endpoint.
//!
//! Lipachat's status callbacks name the `messageId` we chose, so our `client_id` is the
//! provider message id; its `waId` (the wamid) is not needed.

use serde_json::{Value, json};
use wacrm_domain::Provider;
use wacrm_domain::outbound::{
    ButtonSubType, Interactive, Media, MediaSource, OutboundContent, OutboundMessage,
    TemplateHeader,
};

use crate::call::{Answer, Auth, CallLog, Request, endpoint};
use crate::client::{ProviderClient, SenderNumber, Sent, Unsupported};
use crate::error::ProviderError;
use crate::failure;
use crate::meta::outbound::insert_some;
use crate::templates::{self, Pages, RemoteTemplate};
use crate::webhook::json;

pub(crate) fn supports(content: &OutboundContent) -> Result<(), Unsupported> {
    let unsupported = |kind| {
        Err(Unsupported {
            provider: Provider::Lipachat,
            kind,
        })
    };
    match content {
        OutboundContent::Location { .. } => unsupported("location"),
        OutboundContent::Contacts { .. } => unsupported("contacts"),
        OutboundContent::Reaction { .. } => unsupported("reaction"),
        OutboundContent::Interactive(Interactive::CtaUrl { .. }) => {
            unsupported("call-to-action URL")
        }
        // Lipachat documents reply buttons and lists only.
        OutboundContent::Interactive(Interactive::Flow { .. }) => unsupported("Flow"),
        OutboundContent::Image(media)
        | OutboundContent::Audio(media)
        | OutboundContent::Video(media)
        | OutboundContent::Document(media)
        | OutboundContent::Sticker(media)
            if media.link.is_none() =>
        {
            unsupported("uploaded-media (media_id)")
        }
        OutboundContent::Template {
            header: Some(header),
            ..
        } if matches!(header.media_source(), Some(MediaSource::Uploaded(_))) => {
            unsupported("template header by uploaded media (media_id)")
        }
        _ => Ok(()),
    }
}

pub(crate) async fn send(
    client: &ProviderClient<'_>,
    log: &mut CallLog<'_>,
    from: &SenderNumber<'_>,
    message: &OutboundMessage,
) -> Result<Sent, ProviderError> {
    let api_key = client.credential("api_key")?;
    let (path, mut body) = request(&message.content)?;
    if let Value::Object(fields) = &mut body {
        fields.insert("messageId".into(), json!(message.client_id.to_string()));
        fields.insert("to".into(), json!(message.to));
        fields.insert("from".into(), json!(from.phone));
    }
    let url = endpoint(client.base_url, path)?;
    let answer = log
        .call(Request::post(url, Auth::Header("apiKey", api_key), body))
        .await?;
    success(answer)?;
    // Lipachat's callbacks name the `messageId` we gave it.
    Ok(Sent::named(message.client_id.to_string(), false))
}

pub(crate) async fn list_templates(
    client: &ProviderClient<'_>,
    log: &mut CallLog<'_>,
    from: &SenderNumber<'_>,
) -> Result<Vec<RemoteTemplate>, ProviderError> {
    let api_key = client.credential("api_key")?;
    let base = endpoint(client.base_url, &["template", from.phone])?;
    let mut found = Vec::new();
    let mut pages = Pages::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = base.clone();
        if let Some(after) = &cursor {
            pages.advance(after)?;
            url.query_pairs_mut().append_pair("after", after);
        }
        let answer = success(
            log.call(Request::get(url, Auth::Header("apiKey", api_key)))
                .await?,
        )?;
        // `{data: {data: [...], paging?}}` as documented; a bare `{data: [...]}` too.
        let page = answer.body.get("data").unwrap_or(&Value::Null);
        let (list, paging) = match page {
            Value::Array(list) => (Some(list), None),
            page => (
                page.get("data").and_then(Value::as_array),
                page.get("paging"),
            ),
        };
        let list =
            list.ok_or_else(|| failure::unexpected(Provider::Lipachat, "a list of templates"))?;
        found.extend(list.iter().filter_map(templates::from_meta_shape));
        cursor = templates::next_cursor(paging);
        if cursor.is_none() {
            return Ok(found);
        }
    }
}

/// The endpoint and the content fields for one message.
fn request(content: &OutboundContent) -> Result<(&'static [&'static str], Value), ProviderError> {
    Ok(match content {
        OutboundContent::Text { text, .. } => {
            (&["whatsapp", "message", "text"], json!({"message": text}))
        }
        OutboundContent::Image(media) => (MEDIA, media_body("IMAGE", media)),
        OutboundContent::Video(media) => (MEDIA, media_body("VIDEO", media)),
        OutboundContent::Audio(media) => (MEDIA, media_body("AUDIO", media)),
        OutboundContent::Document(media) => (MEDIA, media_body("DOCUMENT", media)),
        OutboundContent::Sticker(media) => (MEDIA, media_body("STICKER", media)),
        OutboundContent::Interactive(Interactive::Buttons {
            body,
            header,
            footer,
            buttons,
        }) => {
            let buttons: Vec<Value> = buttons
                .iter()
                .map(|button| json!({"id": button.id, "title": button.title}))
                .collect();
            let mut value = json!({"text": body, "buttons": buttons});
            insert_some(&mut value, "headerText", header.as_deref());
            insert_some(&mut value, "footerText", footer.as_deref());
            (&["whatsapp", "interactive", "buttons"], value)
        }
        OutboundContent::Interactive(Interactive::List {
            body,
            header,
            footer,
            button,
            sections,
        }) => {
            let sections: Vec<Value> = sections
                .iter()
                .map(|section| {
                    let items: Vec<Value> = section
                        .rows
                        .iter()
                        .map(|row| {
                            let mut item = json!({"id": row.id, "title": row.title});
                            insert_some(&mut item, "description", row.description.as_deref());
                            item
                        })
                        .collect();
                    let mut value = json!({"sectionItems": items});
                    insert_some(&mut value, "sectionTitle", section.title.as_deref());
                    value
                })
                .collect();
            let mut value = json!({"body": body, "buttonText": button, "buttons": sections});
            insert_some(&mut value, "headerText", header.as_deref());
            insert_some(&mut value, "footerText", footer.as_deref());
            (&["whatsapp", "interactive", "list"], value)
        }
        OutboundContent::Template {
            name,
            language,
            header,
            body_params,
            button_params,
            ..
        } => {
            let mut components = json!({"body": {"placeholders": body_params}});
            match header {
                Some(TemplateHeader::Text { params }) if !params.is_empty() => {
                    components["header"] = json!({"type": "TEXT", "placeholders": params});
                }
                Some(TemplateHeader::Text { .. }) | None => {}
                // By link only: `supports` refuses an uploaded one.
                Some(media) => {
                    let link = match media.media_source() {
                        Some(MediaSource::Link(link)) => Some(link),
                        _ => None,
                    };
                    let (kind, filename) = match media {
                        TemplateHeader::Document { filename, .. } => ("DOCUMENT", filename),
                        TemplateHeader::Video { .. } => ("VIDEO", &None),
                        _ => ("IMAGE", &None),
                    };
                    let mut header = json!({"type": kind});
                    insert_some(&mut header, "mediaUrl", link);
                    insert_some(&mut header, "filename", filename.as_deref());
                    components["header"] = header;
                }
            }
            if !button_params.is_empty() {
                let mut buttons: Vec<_> = button_params.iter().collect();
                buttons.sort_by_key(|button| button.index);
                let buttons: Vec<Value> = buttons
                    .into_iter()
                    .map(|button| {
                        let kind = match button.sub_type {
                            ButtonSubType::Url => "URL",
                            ButtonSubType::QuickReply => "QUICK_REPLY",
                            ButtonSubType::CopyCode => "COPY_CODE",
                        };
                        json!({"type": kind, "index": button.index, "placeholders": [button.param]})
                    })
                    .collect();
                components["buttons"] = Value::Array(buttons);
            }
            (
                &["whatsapp", "template"],
                json!({"template": {"name": name, "languageCode": language, "components": components}}),
            )
        }
        OutboundContent::Location { .. }
        | OutboundContent::Contacts { .. }
        | OutboundContent::Reaction { .. }
        | OutboundContent::Interactive(Interactive::CtaUrl { .. } | Interactive::Flow { .. }) => {
            // `send` checks `supports` first; this keeps the match whole.
            return Err(Unsupported {
                provider: Provider::Lipachat,
                kind: content.kind().as_str(),
            }
            .into());
        }
    })
}

const MEDIA: &[&str] = &["whatsapp", "media"];

fn media_body(media_type: &str, media: &Media) -> Value {
    let mut value = json!({"mediaType": media_type, "mediaUrl": media.link});
    insert_some(&mut value, "caption", media.caption.as_deref());
    insert_some(&mut value, "filename", media.filename.as_deref());
    value
}

/// A 2xx whose `status` says it failed is a refusal all the same.
fn success(answer: Answer) -> Result<Answer, ProviderError> {
    let status = json::text(&answer.body, "status").map(|status| status.to_ascii_lowercase());
    let delivery = answer
        .body
        .get("data")
        .and_then(|data| json::text(data, "status"))
        .map(|status| status.to_ascii_uppercase());
    let refused = matches!(status.as_deref(), Some("error" | "failed" | "failure"))
        || delivery.as_deref() == Some("FAILED");
    if answer.is_success() && !refused {
        Ok(answer)
    } else {
        Err(failure::classify(Provider::Lipachat, &answer))
    }
}

#[cfg(test)]
mod tests {
    //! Lipachat's client against a fake gateway, with the bodies its documentation shows.

    use serde_json::{Value, json};
    use wacrm_domain::Provider;
    use wacrm_domain::connection::Credentials;
    use wacrm_domain::inbound::TemplateStatus;
    use wacrm_domain::outbound::{Media, OutboundContent, TemplateHeader};

    use crate::client::{ProviderClient, SenderNumber, Sent};
    use crate::error::ProviderError;
    use crate::fake_provider::FakeProvider;
    use crate::fake_provider::fixtures::*;

    const KEY: &str = "lip-secret-key-123";
    const FROM: SenderNumber<'static> = SenderNumber {
        phone: "254110090747",
        provider_number_id: None,
    };

    fn credentials() -> Credentials {
        Credentials {
            api_key: Some(KEY.into()),
            ..Credentials::default()
        }
    }

    fn client<'a>(
        http: &'a crate::egress::HttpClient,
        fake: &'a FakeProvider,
        credentials: &'a Credentials,
    ) -> ProviderClient<'a> {
        ProviderClient {
            http,
            provider: Provider::Lipachat,
            base_url: &fake.base_url,
            graph_version: "v25.0",
            credentials,
        }
    }

    /// Lipachat's documented success answer.
    fn accepted() -> Value {
        json!({"timestamp": "2023-08-06T01:27:56.825898971",
               "data": {"messageId": CLIENT_ID, "waId": "wamid.HBgMMjU0NzE3NzQ2NTY1FQIAEnRgSRjJGRkMzNkQ0QUVENTIxQ0NBAA==",
                        "status": "SENT", "statusDesc": "Message sent successfully"},
               "status": "success"})
    }

    /// The fields every send carries besides its content.
    fn addressed(mut content: Value) -> Value {
        content["messageId"] = json!(CLIENT_ID);
        content["to"] = json!(CUSTOMER);
        content["from"] = json!("254110090747");
        content
    }

    #[tokio::test]
    async fn each_supported_type_goes_to_its_endpoint() {
        let fake = FakeProvider::start("/api/v1").await;
        let http = crate::egress::HttpClient::local();
        let credentials = credentials();
        let lipachat = client(&http, &fake, &credentials);
        let document = Media {
            caption: Some("Your quote".into()),
            filename: Some("quote.pdf".into()),
            ..linked("https://cdn.example/quote.pdf")
        };
        let cases = vec![
            (
                text("Hello, how can I help you today?"),
                "/api/v1/whatsapp/message/text",
                json!({"message": "Hello, how can I help you today?"}),
            ),
            (
                OutboundContent::Image(Media {
                    caption: Some("Test caption".into()),
                    ..linked("https://picsum.photos/id/237/200/300")
                }),
                "/api/v1/whatsapp/media",
                json!({"mediaType": "IMAGE", "mediaUrl": "https://picsum.photos/id/237/200/300", "caption": "Test caption"}),
            ),
            (
                OutboundContent::Video(linked("https://cdn.example/v.mp4")),
                "/api/v1/whatsapp/media",
                json!({"mediaType": "VIDEO", "mediaUrl": "https://cdn.example/v.mp4"}),
            ),
            (
                OutboundContent::Audio(linked("https://cdn.example/a.ogg")),
                "/api/v1/whatsapp/media",
                json!({"mediaType": "AUDIO", "mediaUrl": "https://cdn.example/a.ogg"}),
            ),
            (
                OutboundContent::Document(document),
                "/api/v1/whatsapp/media",
                json!({"mediaType": "DOCUMENT", "mediaUrl": "https://cdn.example/quote.pdf", "caption": "Your quote", "filename": "quote.pdf"}),
            ),
            (
                OutboundContent::Sticker(linked("https://cdn.example/s.webp")),
                "/api/v1/whatsapp/media",
                json!({"mediaType": "STICKER", "mediaUrl": "https://cdn.example/s.webp"}),
            ),
            (
                buttons(),
                "/api/v1/whatsapp/interactive/buttons",
                json!({"text": "Interested in our products?", "buttons": [{"id": "1", "title": "YES"}, {"id": "2", "title": "NO"}]}),
            ),
            (
                list(),
                "/api/v1/whatsapp/interactive/list",
                json!({"headerText": "Welcome", "body": "Please choose a product", "buttonText": "Click Here",
                    "buttons": [{"sectionTitle": "Airtime", "sectionItems": [
                        {"id": "SAFARICOM_AIRTIME", "title": "Safaricom", "description": "mpesa network"}]}]}),
            ),
            (
                template(),
                "/api/v1/whatsapp/template",
                json!({"template": {"name": "declined_transfert", "languageCode": "en", "components": {
                 "header": {"type": "IMAGE", "mediaUrl": "https://picsum.photos/id/237/200/300"},
                 "body": {"placeholders": ["John", "Airtime"]},
                 "buttons": [{"type": "URL", "index": 0, "placeholders": ["INV-1001"]}]}}}),
            ),
        ];
        for (content, path, expected) in cases {
            fake.answer("POST", path, 200, accepted());
            let outcome = lipachat.send(&FROM, &message(content)).await;
            // Lipachat's callbacks name our messageId: that is the id to store.
            assert_eq!(outcome.result, Ok(Sent::named(CLIENT_ID, false)), "{path}");
            let [request] = fake.take_requests().try_into().unwrap();
            assert_eq!(
                (request.method.as_str(), request.path.as_str()),
                ("POST", path)
            );
            assert_eq!(request.header("apikey"), Some(KEY));
            assert_eq!(request.body, addressed(expected), "{path}");
            assert_eq!(outcome.calls[0].path, path);
            assert_no_secret(&outcome.calls, KEY);
        }
    }

    #[tokio::test]
    async fn what_lipachat_has_no_endpoint_for_is_unsupported() {
        let fake = FakeProvider::start("/api/v1").await;
        let http = crate::egress::HttpClient::local();
        let credentials = credentials();
        let lipachat = client(&http, &fake, &credentials);
        assert_eq!(
            lipachat.supports(&location()).unwrap_err().to_string(),
            "lipachat cannot send location messages"
        );
        let by_id = OutboundContent::Image(Media {
            media_id: Some("1".into()),
            ..Media::default()
        });
        let mut template_by_id = template();
        if let OutboundContent::Template { header, .. } = &mut template_by_id {
            *header = Some(TemplateHeader::Image {
                link: None,
                media_id: Some("1".into()),
            });
        }
        for content in [
            location(),
            contacts(),
            reaction(),
            cta_url(),
            by_id,
            template_by_id,
        ] {
            assert!(lipachat.supports(&content).is_err(), "{content:?}");
            let outcome = lipachat.send(&FROM, &message(content)).await;
            assert!(
                matches!(outcome.result, Err(ProviderError::Permanent { code: None, ref message })
                if message.starts_with("lipachat cannot send"))
            );
            assert!(outcome.calls.is_empty());
        }
        assert!(lipachat.supports(&template()).is_ok());
        assert!(fake.take_requests().is_empty());
        assert_eq!(lipachat.mark_read(&FROM, CLIENT_ID).await.result, Ok(false));
    }

    #[tokio::test]
    async fn refusals_even_with_200_are_errors() {
        let fake = FakeProvider::start("/api/v1").await;
        let http = crate::egress::HttpClient::local();
        let credentials = credentials();
        let lipachat = client(&http, &fake, &credentials);
        let path = "/api/v1/whatsapp/message/text";
        fake.answer("POST", path, 200, json!({"timestamp": null, "data": null, "status": "error",
                                              "message": "Invalid recipient phone number", "errors": null}));
        fake.answer(
            "POST",
            path,
            401,
            json!({"status": "error", "message": "Invalid API key"}),
        );
        fake.answer(
            "POST",
            path,
            502,
            json!({"status": "error", "message": "Bad gateway"}),
        );

        let refused = lipachat.send(&FROM, &message(text("Hi"))).await;
        assert_eq!(
            refused.result,
            Err(ProviderError::Permanent {
                code: Some("200".into()),
                message: "Lipachat refused the request: Invalid recipient phone number".into()
            })
        );
        let unauthorized = lipachat.send(&FROM, &message(text("Hi"))).await;
        assert!(matches!(
            unauthorized.result,
            Err(ProviderError::Auth { .. })
        ));
        let unavailable = lipachat.send(&FROM, &message(text("Hi"))).await;
        assert!(matches!(
            unavailable.result,
            Err(ProviderError::Retryable { .. })
        ));
        for outcome in [refused, unauthorized, unavailable] {
            assert!(outcome.calls[0].error.is_some());
            assert_no_secret(&outcome.calls, KEY);
        }
    }

    #[tokio::test]
    async fn templates_are_listed_for_the_number_page_by_page() {
        let fake = FakeProvider::start("/api/v1").await;
        let http = crate::egress::HttpClient::local();
        let credentials = credentials();
        let path = "/api/v1/template/254110090747";
        fake.answer("GET", path, 200, json!({"timestamp": null, "data": {
            "data": [{"name": "test_media_companya", "language": "en", "status": "APPROVED", "category": "MARKETING",
                      "id": "1510667259557589", "rejected_reason": "NONE",
                      "components": [{"type": "HEADER", "format": "IMAGE"}, {"type": "BODY", "text": "Hi {{1}}"}]}],
            "paging": {"cursors": {"after": "P2"}, "next": "https://graph.facebook.com/next?after=P2"}
        }}));
        fake.answer("GET", path, 200, json!({"timestamp": null, "data": {
            "data": [{"name": "test_media_temp", "language": "en", "status": "REJECTED", "category": "MARKETING",
                      "id": "2815665278588373", "components": [{"type": "BODY", "text": "Hello {{1}}"}]}]
        }}));
        let outcome = client(&http, &fake, &credentials)
            .list_templates(&FROM)
            .await;
        let listed = outcome.result.unwrap();
        assert_eq!(listed.len(), 2);
        assert_eq!(listed[0].name, "test_media_companya");
        assert_eq!(listed[0].status, TemplateStatus::Approved);
        assert_eq!(
            listed[0].provider_template_id.as_deref(),
            Some("1510667259557589")
        );
        assert_eq!(listed[1].status, TemplateStatus::Rejected);
        let requests = fake.take_requests();
        let queries: Vec<&str> = requests.iter().map(|r| r.query.as_str()).collect();
        assert_eq!(queries, ["", "after=P2"]);
        assert!(requests.iter().all(|r| r.header("apikey") == Some(KEY)));
        assert_eq!(outcome.calls.len(), 2);
    }
}
