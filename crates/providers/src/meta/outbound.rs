//! The Cloud API body for one [`OutboundMessage`]: `{messaging_product: "whatsapp",
//! recipient_type: "individual", to, type, <type>: {…}, context?}`, for every message
//! type Meta documents. TATA and Whats91's Meta-compatible endpoint take the same body,
//! so this is the only place it is built.

use serde_json::{Map, Value, json};
use wacrm_domain::outbound::{
    ButtonParam, ButtonSubType, FlowAction, Interactive, ListSection, Media, MediaSource,
    OutboundContent, OutboundMessage, TemplateHeader,
};

pub(crate) fn message_body(message: &OutboundMessage) -> Value {
    let (type_name, object) = content(&message.content);
    let mut body = Map::new();
    body.insert("messaging_product".into(), json!("whatsapp"));
    body.insert("recipient_type".into(), json!("individual"));
    // Meta: `to` for a phone, `recipient` for a business-scoped user id; when both
    // are given `to` wins, and Meta asks for the phone whenever it is known
    // (https://developers.facebook.com/documentation/business-messaging/whatsapp/business-scoped-user-ids).
    match &message.to_user_id {
        Some(user_id) if message.to.is_empty() => {
            body.insert("recipient".into(), json!(user_id));
        }
        _ => {
            body.insert("to".into(), json!(message.to));
        }
    }
    body.insert("type".into(), json!(type_name));
    body.insert(type_name.into(), object);
    // A reaction points at its message itself; a reply context would be refused.
    let is_reaction = matches!(message.content, OutboundContent::Reaction { .. });
    if let Some(reply_to) = message.reply_to.as_ref().filter(|_| !is_reaction) {
        body.insert("context".into(), json!({"message_id": reply_to}));
    }
    Value::Object(body)
}

fn content(content: &OutboundContent) -> (&'static str, Value) {
    match content {
        OutboundContent::Text { text, preview_url } => {
            ("text", json!({"body": text, "preview_url": preview_url}))
        }
        OutboundContent::Template {
            name,
            language,
            header,
            body_params,
            button_params,
            body_param_names,
            header_param_name,
        } => {
            let mut template = json!({"name": name, "language": {"code": language}});
            let components = template_components(
                header.as_ref(),
                header_param_name.as_deref(),
                body_params,
                body_param_names,
                button_params,
            );
            if !components.is_empty() {
                template["components"] = Value::Array(components);
            }
            ("template", template)
        }
        OutboundContent::Image(media) => ("image", media_object(media, true, false)),
        OutboundContent::Video(media) => ("video", media_object(media, true, false)),
        OutboundContent::Document(media) => ("document", media_object(media, true, true)),
        OutboundContent::Audio(media) => ("audio", media_object(media, false, false)),
        OutboundContent::Sticker(media) => ("sticker", media_object(media, false, false)),
        OutboundContent::Location {
            latitude,
            longitude,
            name,
            address,
        } => {
            let mut location = json!({"latitude": latitude, "longitude": longitude});
            insert_some(&mut location, "name", name.as_deref());
            insert_some(&mut location, "address", address.as_deref());
            ("location", location)
        }
        OutboundContent::Contacts { contacts } => ("contacts", Value::Array(contacts.clone())),
        OutboundContent::Interactive(interactive) => {
            ("interactive", interactive_object(interactive))
        }
        OutboundContent::Reaction { message_id, emoji } => (
            "reaction",
            json!({"message_id": message_id, "emoji": emoji}),
        ),
    }
}

/// `{link}` or `{id}`, with a caption where the type shows one and a filename for documents.
fn media_object(media: &Media, captioned: bool, named: bool) -> Value {
    let mut object = json!({});
    insert_some(&mut object, "id", media.media_id.as_deref());
    insert_some(&mut object, "link", media.link.as_deref());
    if captioned {
        insert_some(&mut object, "caption", media.caption.as_deref());
    }
    if named {
        insert_some(&mut object, "filename", media.filename.as_deref());
    }
    object
}

fn interactive_object(interactive: &Interactive) -> Value {
    let (kind, body, header, footer, action) = match interactive {
        Interactive::Buttons {
            body,
            header,
            footer,
            buttons,
        } => {
            let buttons: Vec<Value> = buttons
                .iter()
                .map(|button| json!({"type": "reply", "reply": {"id": button.id, "title": button.title}}))
                .collect();
            ("button", body, header, footer, json!({"buttons": buttons}))
        }
        Interactive::List {
            body,
            header,
            footer,
            button,
            sections,
        } => {
            let sections: Vec<Value> = sections.iter().map(list_section).collect();
            (
                "list",
                body,
                header,
                footer,
                json!({"button": button, "sections": sections}),
            )
        }
        Interactive::CtaUrl {
            body,
            header,
            footer,
            display_text,
            url,
        } => (
            "cta_url",
            body,
            header,
            footer,
            json!({"name": "cta_url", "parameters": {"display_text": display_text, "url": url}}),
        ),
        Interactive::Flow {
            body,
            header,
            footer,
            flow_message_version,
            flow_token,
            flow_id,
            flow_name,
            flow_cta,
            flow_action,
            flow_action_payload,
        } => {
            let mut parameters = json!({"flow_message_version": flow_message_version});
            insert_some(&mut parameters, "flow_token", flow_token.as_deref());
            insert_some(&mut parameters, "flow_id", flow_id.as_deref());
            insert_some(&mut parameters, "flow_name", flow_name.as_deref());
            parameters["flow_cta"] = json!(flow_cta);
            parameters["flow_action"] = json!(match flow_action {
                FlowAction::Navigate => "navigate",
                FlowAction::DataExchange => "data_exchange",
            });
            if let Some(payload) = flow_action_payload {
                let mut object = json!({"screen": payload.screen});
                if let Some(data) = &payload.data {
                    object["data"] = data.clone();
                }
                parameters["flow_action_payload"] = object;
            }
            (
                "flow",
                body,
                header,
                footer,
                json!({"name": "flow", "parameters": parameters}),
            )
        }
    };
    let mut object = json!({"type": kind, "body": {"text": body}, "action": action});
    if let Some(header) = header {
        object["header"] = json!({"type": "text", "text": header});
    }
    if let Some(footer) = footer {
        object["footer"] = json!({"text": footer});
    }
    object
}

fn list_section(section: &ListSection) -> Value {
    let rows: Vec<Value> = section
        .rows
        .iter()
        .map(|row| {
            let mut value = json!({"id": row.id, "title": row.title});
            insert_some(&mut value, "description", row.description.as_deref());
            value
        })
        .collect();
    let mut value = json!({"rows": rows});
    insert_some(&mut value, "title", section.title.as_deref());
    value
}

/// Header, body and one component per button, as Meta documents template sends.
fn template_components(
    header: Option<&TemplateHeader>,
    header_param_name: Option<&str>,
    body_params: &[String],
    body_param_names: &[String],
    button_params: &[ButtonParam],
) -> Vec<Value> {
    let mut components = Vec::new();
    let header_parameters: Vec<Value> = match header {
        Some(TemplateHeader::Text { params }) => params
            .iter()
            .map(|param| text_parameter(param, header_param_name))
            .collect(),
        Some(media) => {
            // `{link}` or `{id}` (an upload's), as for a media message.
            let mut object = match media.media_source() {
                Some(MediaSource::Link(link)) => json!({"link": link}),
                Some(MediaSource::Uploaded(id)) => json!({"id": id}),
                None => json!({}),
            };
            let kind = match media {
                TemplateHeader::Document { filename, .. } => {
                    insert_some(&mut object, "filename", filename.as_deref());
                    "document"
                }
                TemplateHeader::Video { .. } => "video",
                _ => "image",
            };
            vec![json!({"type": kind, (kind): object})]
        }
        None => Vec::new(),
    };
    if !header_parameters.is_empty() {
        components.push(json!({"type": "header", "parameters": header_parameters}));
    }
    if !body_params.is_empty() {
        let parameters: Vec<Value> = body_params
            .iter()
            .enumerate()
            .map(|(index, param)| {
                text_parameter(param, body_param_names.get(index).map(String::as_str))
            })
            .collect();
        components.push(json!({"type": "body", "parameters": parameters}));
    }
    let mut buttons: Vec<&ButtonParam> = button_params.iter().collect();
    buttons.sort_by_key(|button| button.index);
    for button in buttons {
        let parameter = match button.sub_type {
            ButtonSubType::Url => json!({"type": "text", "text": button.param}),
            ButtonSubType::QuickReply => json!({"type": "payload", "payload": button.param}),
            ButtonSubType::CopyCode => {
                json!({"type": "coupon_code", "coupon_code": button.param})
            }
        };
        components.push(json!({
            "type": "button",
            "sub_type": button.sub_type.as_str(),
            // Meta documents the index as a string.
            "index": button.index.to_string(),
            "parameters": [parameter],
        }));
    }
    components
}

/// A text parameter; named-parameter templates also need the placeholder's name.
fn text_parameter(text: &str, name: Option<&str>) -> Value {
    let mut parameter = json!({"type": "text", "text": text});
    insert_some(&mut parameter, "parameter_name", name);
    parameter
}

/// Sets `key` when there is a value: providers want absent fields left out, not null.
pub(crate) fn insert_some(object: &mut Value, key: &str, value: Option<&str>) {
    if let (Some(value), Value::Object(fields)) = (value, object) {
        fields.insert(key.to_owned(), json!(value));
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use uuid::Uuid;
    use wacrm_domain::outbound::{ListRow, ReplyButton};

    use super::*;

    fn body(content: OutboundContent, reply_to: Option<&str>) -> Value {
        message_body(&OutboundMessage {
            client_id: Uuid::nil(),
            to: "254700000001".into(),
            to_user_id: None,
            content,
            reply_to: reply_to.map(Into::into),
        })
    }

    fn envelope(type_name: &str, object: Value) -> Value {
        json!({"messaging_product": "whatsapp", "recipient_type": "individual",
               "to": "254700000001", "type": type_name, type_name: object})
    }

    #[test]
    fn a_customer_known_by_user_id_only_is_the_recipient() {
        let body = message_body(&OutboundMessage {
            client_id: Uuid::nil(),
            to: String::new(),
            to_user_id: Some("US.13491208655302741918".into()),
            content: OutboundContent::Text {
                text: "Hi".into(),
                preview_url: false,
            },
            reply_to: None,
        });
        assert_eq!(body["recipient"], "US.13491208655302741918");
        assert!(body.get("to").is_none());
    }

    #[test]
    fn text_with_a_reply_context() {
        let mut expected = envelope("text", json!({"body": "Hi", "preview_url": true}));
        expected["context"] = json!({"message_id": "wamid.IN"});
        assert_eq!(
            body(
                OutboundContent::Text {
                    text: "Hi".into(),
                    preview_url: true
                },
                Some("wamid.IN")
            ),
            expected
        );
    }

    #[test]
    fn a_template_with_every_kind_of_parameter() {
        let template = OutboundContent::Template {
            name: "order_update".into(),
            language: "en_US".into(),
            header: Some(TemplateHeader::Document {
                link: Some("https://cdn.example/i.pdf".into()),
                media_id: None,
                filename: Some("invoice.pdf".into()),
            }),
            body_params: vec!["Asha".into(), "#1042".into()],
            button_params: vec![
                ButtonParam {
                    index: 2,
                    sub_type: ButtonSubType::CopyCode,
                    param: "SAVE10".into(),
                },
                ButtonParam {
                    index: 0,
                    sub_type: ButtonSubType::Url,
                    param: "1042".into(),
                },
                ButtonParam {
                    index: 1,
                    sub_type: ButtonSubType::QuickReply,
                    param: "STOP".into(),
                },
            ],
            body_param_names: vec!["first_name".into(), "order".into()],
            header_param_name: None,
        };
        assert_eq!(
            body(template, None),
            envelope(
                "template",
                json!({
                    "name": "order_update", "language": {"code": "en_US"},
                    "components": [
                        {"type": "header", "parameters": [{"type": "document", "document": {"link": "https://cdn.example/i.pdf", "filename": "invoice.pdf"}}]},
                        {"type": "body", "parameters": [
                            {"type": "text", "text": "Asha", "parameter_name": "first_name"},
                            {"type": "text", "text": "#1042", "parameter_name": "order"}
                        ]},
                        {"type": "button", "sub_type": "url", "index": "0", "parameters": [{"type": "text", "text": "1042"}]},
                        {"type": "button", "sub_type": "quick_reply", "index": "1", "parameters": [{"type": "payload", "payload": "STOP"}]},
                        {"type": "button", "sub_type": "copy_code", "index": "2", "parameters": [{"type": "coupon_code", "coupon_code": "SAVE10"}]}
                    ]
                })
            )
        );
    }

    #[test]
    fn a_template_without_parameters_has_no_components() {
        let template = OutboundContent::Template {
            name: "hello_world".into(),
            language: "en_US".into(),
            header: Some(TemplateHeader::Text { params: vec![] }),
            body_params: vec![],
            button_params: vec![],
            body_param_names: vec![],
            header_param_name: None,
        };
        assert_eq!(
            body(template, None),
            envelope(
                "template",
                json!({"name": "hello_world", "language": {"code": "en_US"}})
            )
        );
    }

    /// A media header by an uploaded media's id (Cloud API "Template messages"
    /// reference: a header `image` parameter takes `id` or `link`).
    #[test]
    fn a_template_header_image_by_its_uploaded_id() {
        let template = OutboundContent::Template {
            name: "spring_sale".into(),
            language: "en_US".into(),
            header: Some(TemplateHeader::Image {
                link: None,
                media_id: Some("1013859600285441".into()),
            }),
            body_params: vec![],
            button_params: vec![],
            body_param_names: vec![],
            header_param_name: None,
        };
        assert_eq!(
            body(template, None),
            envelope(
                "template",
                json!({"name": "spring_sale", "language": {"code": "en_US"}, "components": [
                    {"type": "header", "parameters": [{"type": "image", "image": {"id": "1013859600285441"}}]}
                ]})
            )
        );
    }

    #[test]
    fn media_by_id_or_link_with_what_each_type_shows() {
        let media = Media {
            link: Some("https://cdn.example/a".into()),
            media_id: None,
            caption: Some("Look".into()),
            filename: Some("a.pdf".into()),
        };
        assert_eq!(
            body(OutboundContent::Image(media.clone()), None)["image"],
            json!({"link": "https://cdn.example/a", "caption": "Look"})
        );
        assert_eq!(
            body(OutboundContent::Document(media.clone()), None)["document"],
            json!({"link": "https://cdn.example/a", "caption": "Look", "filename": "a.pdf"})
        );
        assert_eq!(
            body(OutboundContent::Sticker(media), None)["sticker"],
            json!({"link": "https://cdn.example/a"})
        );
        let by_id = Media {
            media_id: Some("1013859600285441".into()),
            ..Media::default()
        };
        assert_eq!(
            body(OutboundContent::Audio(by_id), None),
            envelope("audio", json!({"id": "1013859600285441"}))
        );
    }

    #[test]
    fn interactive_lists_and_links() {
        let list = OutboundContent::Interactive(Interactive::List {
            body: "Choose".into(),
            header: Some("Services".into()),
            footer: Some("Reply any time".into()),
            button: "Open".into(),
            sections: vec![ListSection {
                title: Some("Support".into()),
                rows: vec![ListRow {
                    id: "billing".into(),
                    title: "Billing".into(),
                    description: Some("Invoices".into()),
                }],
            }],
        });
        assert_eq!(
            body(list, None)["interactive"],
            json!({
                "type": "list", "header": {"type": "text", "text": "Services"},
                "body": {"text": "Choose"}, "footer": {"text": "Reply any time"},
                "action": {"button": "Open", "sections": [{"title": "Support", "rows": [{"id": "billing", "title": "Billing", "description": "Invoices"}]}]}
            })
        );
        let buttons = OutboundContent::Interactive(Interactive::Buttons {
            body: "Pay now?".into(),
            header: None,
            footer: None,
            buttons: vec![ReplyButton {
                id: "pay".into(),
                title: "Pay".into(),
            }],
        });
        assert_eq!(
            body(buttons, None)["interactive"],
            json!({"type": "button", "body": {"text": "Pay now?"},
                   "action": {"buttons": [{"type": "reply", "reply": {"id": "pay", "title": "Pay"}}]}})
        );
        let cta = OutboundContent::Interactive(Interactive::CtaUrl {
            body: "Track it".into(),
            header: None,
            footer: None,
            display_text: "Track".into(),
            url: "https://shop.example/t/1".into(),
        });
        assert_eq!(
            body(cta, None)["interactive"]["action"],
            json!({"name": "cta_url", "parameters": {"display_text": "Track", "url": "https://shop.example/t/1"}})
        );
    }

    #[test]
    fn a_flow_message_as_meta_documents_it() {
        // developers.facebook.com/documentation/business-messaging/whatsapp/flows/guides/sendingaflow/
        // ("Interactive Flow message"): action `{name: "flow", parameters: {…}}`.
        let flow = OutboundContent::Interactive(Interactive::Flow {
            body: "Flow message body".into(),
            header: Some("Flow message header".into()),
            footer: Some("Flow message footer".into()),
            flow_message_version: "3".into(),
            flow_token: Some("AQAAAAACS5FpgQ_cAAAAAD0QI3s.".into()),
            flow_id: Some("1".into()),
            flow_name: None,
            flow_cta: "Book!".into(),
            flow_action: FlowAction::Navigate,
            flow_action_payload: Some(wacrm_domain::outbound::FlowActionPayload {
                screen: "<SCREEN_NAME>".into(),
                data: Some(
                    json!({"product_name": "name", "product_description": "description", "product_price": 100}),
                ),
            }),
        });
        assert_eq!(
            body(flow, None),
            envelope(
                "interactive",
                json!({
                    "type": "flow",
                    "header": {"type": "text", "text": "Flow message header"},
                    "body": {"text": "Flow message body"},
                    "footer": {"text": "Flow message footer"},
                    "action": {"name": "flow", "parameters": {
                        "flow_message_version": "3", "flow_token": "AQAAAAACS5FpgQ_cAAAAAD0QI3s.",
                        "flow_id": "1", "flow_cta": "Book!", "flow_action": "navigate",
                        "flow_action_payload": {"screen": "<SCREEN_NAME>",
                            "data": {"product_name": "name", "product_description": "description", "product_price": 100}}
                    }}
                })
            )
        );
    }

    #[test]
    fn location_contacts_and_a_reaction_without_context() {
        let location = OutboundContent::Location {
            latitude: -1.2921,
            longitude: 36.8219,
            name: Some("Office".into()),
            address: None,
        };
        assert_eq!(
            body(location, None)["location"],
            json!({"latitude": -1.2921, "longitude": 36.8219, "name": "Office"})
        );
        let card = json!({"name": {"formatted_name": "Asha"}, "phones": [{"phone": "+254700000002", "type": "CELL"}]});
        assert_eq!(
            body(
                OutboundContent::Contacts {
                    contacts: vec![card.clone()]
                },
                None
            ),
            envelope("contacts", json!([card]))
        );
        let reaction = body(
            OutboundContent::Reaction {
                message_id: "wamid.IN".into(),
                emoji: "👍".into(),
            },
            Some("wamid.IN"),
        );
        assert_eq!(
            reaction,
            envelope("reaction", json!({"message_id": "wamid.IN", "emoji": "👍"}))
        );
    }
}
