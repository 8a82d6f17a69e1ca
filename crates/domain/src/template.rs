//! Which parameters a template needs, read from its components as Meta lists them
//! (`[{type: HEADER|BODY|FOOTER|BUTTONS, format, text, buttons}]`), and whether a
//! message supplies exactly those, so a wrong send is refused here with a sentence a
//! person can act on instead of by the provider with error 132000.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::outbound::{ButtonParam, ButtonSubType, TemplateHeader};

/// The media a template's header shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HeaderMedia {
    Image,
    Video,
    Document,
    /// Meta allows location headers; wacrm cannot fill one yet, so `check` refuses.
    Location,
}

impl HeaderMedia {
    fn noun(self) -> &'static str {
        match self {
            Self::Image => "an image",
            Self::Video => "a video",
            Self::Document => "a document",
            Self::Location => "a location",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateRequirements {
    /// Distinct placeholders in a TEXT header (WhatsApp allows at most one).
    pub header_text_params: usize,
    pub header_media: Option<HeaderMedia>,
    /// Distinct placeholders in the body.
    pub body_params: usize,
    /// Buttons that cannot be sent without a value: URL buttons whose link holds a
    /// placeholder, copy-code buttons, and authentication (OTP) buttons, which take
    /// the code as a URL parameter.
    pub button_params: Vec<(u8, ButtonSubType)>,
    /// Quick replies, which accept an optional payload.
    pub quick_reply_buttons: Vec<u8>,
    /// For named-parameter templates: the header's placeholder names, in order.
    pub header_param_names: Vec<String>,
    /// For named-parameter templates: the body's placeholder names, in order of first use.
    pub body_param_names: Vec<String>,
}

pub fn requirements(components: &Value) -> TemplateRequirements {
    let mut requirements = TemplateRequirements::default();
    let Some(components) = components.as_array() else {
        return requirements;
    };
    for component in components {
        let kind = upper(component.get("type"));
        let text = component.get("text").and_then(Value::as_str).unwrap_or("");
        match kind.as_str() {
            "HEADER" => match upper(component.get("format")).as_str() {
                "IMAGE" => requirements.header_media = Some(HeaderMedia::Image),
                "VIDEO" => requirements.header_media = Some(HeaderMedia::Video),
                "DOCUMENT" => requirements.header_media = Some(HeaderMedia::Document),
                "LOCATION" => requirements.header_media = Some(HeaderMedia::Location),
                // TEXT, or no format at all (a text header as some providers list it).
                _ => {
                    let found = placeholders(text);
                    requirements.header_text_params = found.count();
                    requirements.header_param_names = found.named;
                }
            },
            "BODY" => {
                let found = placeholders(text);
                requirements.body_params = found.count();
                requirements.body_param_names = found.named;
            }
            "BUTTONS" => {
                let buttons = component.get("buttons").and_then(Value::as_array);
                for (position, button) in buttons.into_iter().flatten().enumerate() {
                    let Ok(index) = u8::try_from(position) else {
                        break;
                    };
                    match upper(button.get("type")).as_str() {
                        "URL" => {
                            let url = button.get("url").and_then(Value::as_str).unwrap_or("");
                            if placeholders(url).count() > 0 {
                                requirements.button_params.push((index, ButtonSubType::Url));
                            }
                        }
                        "COPY_CODE" => requirements
                            .button_params
                            .push((index, ButtonSubType::CopyCode)),
                        "OTP" => requirements.button_params.push((index, ButtonSubType::Url)),
                        "QUICK_REPLY" => requirements.quick_reply_buttons.push(index),
                        // PHONE_NUMBER, FLOW, CATALOG…: nothing to fill at send time.
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    requirements
}

/// The body as the customer reads it: the template's BODY text with each
/// placeholder (`{{1}}`, or `{{name}}` of a named-parameter template) replaced
/// by its value; `None` when the template has no body text.
pub fn body_text(components: &Value, params: &[String], names: &[String]) -> Option<String> {
    let body = components
        .as_array()?
        .iter()
        .find(|component| upper(component.get("type")) == "BODY")?;
    let mut text = body.get("text").and_then(Value::as_str)?.to_owned();
    for (i, value) in params.iter().enumerate() {
        let key = names.get(i).cloned().unwrap_or_else(|| (i + 1).to_string());
        text = text.replace(&format!("{{{{{key}}}}}"), value);
    }
    Some(text)
}

/// `Ok` when the message gives each placeholder exactly one value; else one sentence
/// per problem, joined by "; ", e.g. "the body needs 2 parameters, 1 given".
pub fn check(
    requirements: &TemplateRequirements,
    header: Option<&TemplateHeader>,
    body_params: &[String],
    button_params: &[ButtonParam],
) -> Result<(), String> {
    let mut problems = Vec::new();
    check_header(requirements, header, &mut problems);
    if body_params.len() != requirements.body_params {
        problems.push(format!(
            "the body needs {}, {} given",
            parameters(requirements.body_params),
            body_params.len()
        ));
    }
    check_buttons(requirements, button_params, &mut problems);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

fn check_header(
    requirements: &TemplateRequirements,
    header: Option<&TemplateHeader>,
    problems: &mut Vec<String>,
) {
    let given_media = header.and_then(header_media);
    match (requirements.header_media, given_media) {
        (Some(HeaderMedia::Location), _) => problems
            .push("the header needs a location, which wacrm cannot send in a template".to_owned()),
        (Some(needed), Some(given)) if needed != given => problems.push(format!(
            "the header needs {}, {} given",
            needed.noun(),
            given.noun()
        )),
        (Some(needed), None) => {
            problems.push(format!("the header needs {}, none given", needed.noun()))
        }
        (None, Some(given)) => problems.push(format!(
            "the template has no media header, {} given",
            given.noun()
        )),
        _ => {}
    }
    let given_params = match header {
        Some(TemplateHeader::Text { params }) => params.len(),
        _ => 0,
    };
    if requirements.header_media.is_none() && given_params != requirements.header_text_params {
        problems.push(format!(
            "the header needs {}, {} given",
            parameters(requirements.header_text_params),
            given_params
        ));
    }
}

fn check_buttons(
    requirements: &TemplateRequirements,
    given: &[ButtonParam],
    problems: &mut Vec<String>,
) {
    for &(index, needed) in &requirements.button_params {
        let at_index: Vec<&ButtonParam> = given.iter().filter(|p| p.index == index).collect();
        match at_index.as_slice() {
            [] => problems.push(format!(
                "button {index} needs {}, none given",
                button_noun(needed)
            )),
            [one] if one.sub_type != needed => problems.push(format!(
                "button {index} needs {}, {} given",
                button_noun(needed),
                button_noun(one.sub_type)
            )),
            [_] => {}
            many => problems.push(format!(
                "button {index} needs 1 parameter, {} given",
                many.len()
            )),
        }
    }
    let mut reported = BTreeSet::new();
    for param in given {
        let required = requirements
            .button_params
            .iter()
            .any(|&(index, _)| index == param.index);
        let quick_reply = param.sub_type == ButtonSubType::QuickReply
            && requirements.quick_reply_buttons.contains(&param.index);
        if !required && !quick_reply && reported.insert(param.index) {
            problems.push(format!(
                "button {} takes no parameter, {} given",
                param.index,
                button_noun(param.sub_type)
            ));
        }
    }
}

fn header_media(header: &TemplateHeader) -> Option<HeaderMedia> {
    match header {
        TemplateHeader::Text { .. } => None,
        TemplateHeader::Image { .. } => Some(HeaderMedia::Image),
        TemplateHeader::Video { .. } => Some(HeaderMedia::Video),
        TemplateHeader::Document { .. } => Some(HeaderMedia::Document),
    }
}

fn parameters(count: usize) -> String {
    match count {
        0 => "no parameters".to_owned(),
        1 => "1 parameter".to_owned(),
        many => format!("{many} parameters"),
    }
}

fn button_noun(sub_type: ButtonSubType) -> String {
    format!("a {} parameter", sub_type.as_str())
}

fn upper(value: Option<&Value>) -> String {
    value
        .and_then(Value::as_str)
        .unwrap_or("")
        .trim()
        .to_ascii_uppercase()
}

/// The distinct placeholders of one text: positional (`{{1}}`) and named (`{{first_name}}`).
#[derive(Debug, Default)]
struct Placeholders {
    positional: BTreeSet<u32>,
    named: Vec<String>,
}

impl Placeholders {
    fn count(&self) -> usize {
        self.positional.len() + self.named.len()
    }
}

fn placeholders(text: &str) -> Placeholders {
    let mut found = Placeholders::default();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            break;
        };
        let inner = after[..end].trim();
        if !inner.is_empty() && inner.bytes().all(|byte| byte.is_ascii_digit()) {
            if let Ok(number) = inner.parse() {
                found.positional.insert(number);
            }
        } else if is_parameter_name(inner) && !found.named.iter().any(|name| name == inner) {
            found.named.push(inner.to_owned());
        }
        rest = &after[end + 2..];
    }
    found
}

/// Meta's rule for named parameters: lowercase letters, digits and underscores,
/// starting with a letter or an underscore.
fn is_parameter_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|first| first.is_ascii_lowercase() || first == b'_')
        && bytes.all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'_')
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    fn order_update() -> Value {
        json!([
            {"type": "HEADER", "format": "IMAGE", "example": {"header_handle": ["https://x"]}},
            {"type": "BODY", "text": "Hi {{1}}, your order {{2}} ships on {{3}}. Questions? Reply to {{1}}."},
            {"type": "FOOTER", "text": "Shop"},
            {"type": "BUTTONS", "buttons": [
                {"type": "QUICK_REPLY", "text": "Stop"},
                {"type": "URL", "text": "Track", "url": "https://shop.example/track/{{1}}"},
                {"type": "URL", "text": "Shop", "url": "https://shop.example"},
                {"type": "COPY_CODE", "example": "SAVE10"},
                {"type": "PHONE_NUMBER", "text": "Call", "phone_number": "+254700000000"}
            ]}
        ])
    }

    fn button(index: u8, sub_type: ButtonSubType) -> ButtonParam {
        ButtonParam {
            index,
            sub_type,
            param: "v".into(),
        }
    }

    fn strings(count: usize) -> Vec<String> {
        (0..count).map(|n| format!("p{n}")).collect()
    }

    #[test]
    fn reads_what_a_template_needs() {
        assert_eq!(
            requirements(&order_update()),
            TemplateRequirements {
                header_text_params: 0,
                header_media: Some(HeaderMedia::Image),
                body_params: 3,
                button_params: vec![(1, ButtonSubType::Url), (3, ButtonSubType::CopyCode)],
                quick_reply_buttons: vec![0],
                header_param_names: vec![],
                body_param_names: vec![],
            }
        );
    }

    #[test]
    fn reads_named_parameters_in_order_of_first_use() {
        let components = json!([
            {"type": "HEADER", "format": "TEXT", "text": "Our {{sale_name}} is on!"},
            {"type": "BODY", "text": "Hi {{first_name}}, use {{ code }} before {{end_date}}, {{first_name}}. {{Not_A_Name}} {{}} {{open"}
        ]);
        let found = requirements(&components);
        assert_eq!(found.header_text_params, 1);
        assert_eq!(found.header_param_names, ["sale_name"]);
        assert_eq!(found.body_params, 3);
        assert_eq!(found.body_param_names, ["first_name", "code", "end_date"]);
    }

    #[test]
    fn an_authentication_template_needs_its_code_twice() {
        let components = json!([
            {"type": "BODY", "text": "*{{1}}* is your verification code.", "add_security_recommendation": true},
            {"type": "BUTTONS", "buttons": [{"type": "OTP", "otp_type": "COPY_CODE", "text": "Copy code"}]}
        ]);
        let found = requirements(&components);
        assert_eq!(found.body_params, 1);
        assert_eq!(found.button_params, vec![(0, ButtonSubType::Url)]);
    }

    #[test]
    fn anything_but_a_components_array_needs_nothing() {
        assert_eq!(requirements(&json!(null)), TemplateRequirements::default());
        assert_eq!(
            requirements(&json!({"type": "BODY"})),
            TemplateRequirements::default()
        );
    }

    #[test]
    fn exactly_the_parameters_pass() {
        let needed = requirements(&order_update());
        let header = TemplateHeader::Image {
            link: Some("https://cdn.example/p.jpg".into()),
            media_id: None,
        };
        let buttons = [
            button(1, ButtonSubType::Url),
            button(3, ButtonSubType::CopyCode),
            // An optional quick-reply payload is fine.
            button(0, ButtonSubType::QuickReply),
        ];
        assert_eq!(check(&needed, Some(&header), &strings(3), &buttons), Ok(()));
    }

    #[test]
    fn each_problem_is_a_sentence() {
        let needed = requirements(&order_update());
        assert_eq!(
            check(
                &needed,
                None,
                &strings(1),
                &[
                    button(1, ButtonSubType::CopyCode),
                    button(2, ButtonSubType::Url)
                ]
            ),
            Err(
                "the header needs an image, none given; the body needs 3 parameters, 1 given; \
                 button 1 needs a url parameter, a copy_code parameter given; \
                 button 3 needs a copy_code parameter, none given; \
                 button 2 takes no parameter, a url parameter given"
                    .to_owned()
            )
        );
        let video = TemplateHeader::Video {
            link: None,
            media_id: Some("1013859600285441".into()),
        };
        assert_eq!(
            check(
                &needed,
                Some(&video),
                &strings(3),
                &[
                    button(1, ButtonSubType::Url),
                    button(1, ButtonSubType::Url),
                    button(3, ButtonSubType::CopyCode)
                ]
            ),
            Err(
                "the header needs an image, a video given; button 1 needs 1 parameter, 2 given"
                    .to_owned()
            )
        );
    }

    #[test]
    fn text_headers_and_templates_without_a_header() {
        let needed = requirements(&json!([
            {"type": "HEADER", "format": "TEXT", "text": "{{1}} registration"},
            {"type": "BODY", "text": "Welcome!"}
        ]));
        let text = |count| TemplateHeader::Text {
            params: strings(count),
        };
        assert_eq!(check(&needed, Some(&text(1)), &[], &[]), Ok(()));
        assert_eq!(
            check(&needed, None, &strings(1), &[]),
            Err(
                "the header needs 1 parameter, 0 given; the body needs no parameters, 1 given"
                    .to_owned()
            )
        );
        let plain = requirements(&json!([{"type": "BODY", "text": "Hello"}]));
        let document = TemplateHeader::Document {
            link: Some("https://cdn.example/d.pdf".into()),
            media_id: None,
            filename: None,
        };
        assert_eq!(
            check(&plain, Some(&document), &[], &[]),
            Err("the template has no media header, a document given".to_owned())
        );
        assert_eq!(
            check(&plain, Some(&text(1)), &[], &[]),
            Err("the header needs no parameters, 1 given".to_owned())
        );
    }

    #[test]
    fn a_location_header_cannot_be_filled() {
        let needed = requirements(&json!([{"type": "HEADER", "format": "LOCATION"}]));
        assert_eq!(
            check(&needed, None, &[], &[]),
            Err("the header needs a location, which wacrm cannot send in a template".to_owned())
        );
    }

    /// What a generated template is made of.
    #[derive(Debug, Clone)]
    enum Header {
        None,
        Text(bool),
        Media(HeaderMedia),
    }

    #[derive(Debug, Clone, Copy)]
    enum Button {
        DynamicUrl,
        StaticUrl,
        QuickReply,
        CopyCode,
        Phone,
    }

    fn header_strategy() -> impl Strategy<Value = Header> {
        prop_oneof![
            Just(Header::None),
            any::<bool>().prop_map(Header::Text),
            Just(Header::Media(HeaderMedia::Image)),
            Just(Header::Media(HeaderMedia::Video)),
            Just(Header::Media(HeaderMedia::Document)),
        ]
    }

    fn button_strategy() -> impl Strategy<Value = Button> {
        prop_oneof![
            Just(Button::DynamicUrl),
            Just(Button::StaticUrl),
            Just(Button::QuickReply),
            Just(Button::CopyCode),
            Just(Button::Phone),
        ]
    }

    fn components(header: &Header, body: usize, named: bool, buttons: &[Button]) -> Value {
        let placeholder = |n: usize| {
            if named {
                format!("{{{{param_{n}}}}}")
            } else {
                format!("{{{{{}}}}}", n + 1)
            }
        };
        let body_text: Vec<String> = (0..body)
            .map(|n| format!("word {} and", placeholder(n)))
            .collect();
        let mut list =
            vec![json!({"type": "BODY", "text": format!("Hello {}", body_text.join(" "))})];
        match header {
            Header::None => {}
            Header::Text(with_param) => {
                let text = if *with_param { "Hi {{1}}" } else { "Hi" };
                list.push(json!({"type": "HEADER", "format": "TEXT", "text": text}));
            }
            Header::Media(media) => {
                let format = match media {
                    HeaderMedia::Image => "IMAGE",
                    HeaderMedia::Video => "VIDEO",
                    _ => "DOCUMENT",
                };
                list.push(json!({"type": "HEADER", "format": format}));
            }
        }
        let buttons: Vec<Value> = buttons
            .iter()
            .map(|button| match button {
                Button::DynamicUrl => json!({"type": "URL", "url": "https://x.example/{{1}}"}),
                Button::StaticUrl => json!({"type": "URL", "url": "https://x.example/"}),
                Button::QuickReply => json!({"type": "QUICK_REPLY", "text": "Stop"}),
                Button::CopyCode => json!({"type": "COPY_CODE"}),
                Button::Phone => json!({"type": "PHONE_NUMBER", "phone_number": "+1"}),
            })
            .collect();
        if !buttons.is_empty() {
            list.push(json!({"type": "BUTTONS", "buttons": buttons}));
        }
        Value::Array(list)
    }

    fn matching_header(header: &Header) -> Option<TemplateHeader> {
        let link = Some("https://cdn.example/m".to_owned());
        match header {
            Header::None | Header::Text(false) => None,
            Header::Text(true) => Some(TemplateHeader::Text {
                params: vec!["Asha".into()],
            }),
            Header::Media(HeaderMedia::Image) => Some(TemplateHeader::Image {
                link,
                media_id: None,
            }),
            Header::Media(HeaderMedia::Video) => Some(TemplateHeader::Video {
                link,
                media_id: None,
            }),
            Header::Media(_) => Some(TemplateHeader::Document {
                link,
                media_id: None,
                filename: None,
            }),
        }
    }

    fn matching_buttons(buttons: &[Button]) -> Vec<ButtonParam> {
        buttons
            .iter()
            .enumerate()
            .filter_map(|(index, kind)| {
                let sub_type = match kind {
                    Button::DynamicUrl => ButtonSubType::Url,
                    Button::CopyCode => ButtonSubType::CopyCode,
                    _ => return None,
                };
                Some(button(u8::try_from(index).ok()?, sub_type))
            })
            .collect()
    }

    proptest! {
        #[test]
        fn check_accepts_exactly_the_counts_requirements_reports(
            header in header_strategy(),
            body in 0usize..12,
            named in any::<bool>(),
            buttons in proptest::collection::vec(button_strategy(), 0..6),
        ) {
            let needed = requirements(&components(&header, body, named, &buttons));
            prop_assert_eq!(needed.body_params, body);
            prop_assert_eq!(needed.body_param_names.len(), if named { body } else { 0 });

            let header_value = matching_header(&header);
            let button_values = matching_buttons(&buttons);
            prop_assert_eq!(
                check(&needed, header_value.as_ref(), &strings(body), &button_values),
                Ok(())
            );
            // One body parameter too many, or one too few, is always refused.
            prop_assert!(check(&needed, header_value.as_ref(), &strings(body + 1), &button_values).is_err());
            if body > 0 {
                prop_assert!(check(&needed, header_value.as_ref(), &strings(body - 1), &button_values).is_err());
            }
            // So is a missing required button value.
            if !button_values.is_empty() {
                prop_assert!(check(&needed, header_value.as_ref(), &strings(body), &button_values[1..]).is_err());
            }
        }
    }

    #[test]
    fn the_body_reads_with_its_values() {
        let components =
            json!([{"type": "BODY", "text": "Hi {{1}}, use {{2}} before {{1}} leaves"}]);
        assert_eq!(
            body_text(&components, &["Asha".into(), "A1".into()], &[]).as_deref(),
            Some("Hi Asha, use A1 before Asha leaves")
        );
        let named = json!([{"type": "BODY", "text": "Hi {{first_name}}"}]);
        assert_eq!(
            body_text(&named, &["Asha".into()], &["first_name".into()]).as_deref(),
            Some("Hi Asha")
        );
        assert_eq!(body_text(&json!([]), &[], &[]), None);
    }
}
