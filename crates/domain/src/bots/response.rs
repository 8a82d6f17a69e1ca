//! What a bot answers with: seed 001's response types (`bot_type`), checked on
//! save, and turned into the ordinary outbound messages the worker sends.
//!
//! Texts (`text`, a media `caption`, a `buttons` body, a template's parameters,
//! the rating question) take `{{variables}}`. Whether a template is approved is
//! known only at send time, so the engine checks it then (`Context`); the API
//! should also refuse an unapproved one on save.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::flow::{self, FlowDefinition, FlowEnd};
use super::menu::{self, MenuDefinition, MenuStep};
use super::rating::{self, RatingState};
use super::state::Dialogue;
use super::variables::{Variables, render};
use crate::outbound::{
    ButtonParam, FieldErrors, Interactive, Media, OutboundContent, ReplyButton, TemplateHeader,
};

const MAX_INSTRUCTIONS: usize = 4000;
const MAX_TEXT: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum MediaKind {
    Image,
    Video,
    Audio,
    Document,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Response {
    Text {
        #[cfg_attr(
            feature = "openapi",
            schema(min_length = 1, max_length = 4096, pattern = r"\S")
        )]
        text: String,
        #[serde(default)]
        preview_url: bool,
    },
    /// An approved template: the only response sent outside the 24-hour window.
    Template {
        #[cfg_attr(
            feature = "openapi",
            schema(min_length = 1, max_length = 512, pattern = r"\S")
        )]
        name: String,
        #[cfg_attr(
            feature = "openapi",
            schema(min_length = 1, max_length = 16, pattern = r"\S")
        )]
        language: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        header: Option<TemplateHeader>,
        #[serde(default)]
        #[cfg_attr(feature = "openapi", schema(value_type = Vec<crate::outbound::BodyParamText>))]
        body_params: Vec<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        button_params: Vec<ButtonParam>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        body_param_names: Vec<String>,
    },
    Menu(MenuDefinition),
    Flow(FlowDefinition),
    Media {
        kind: MediaKind,
        #[serde(flatten)]
        media: Media,
    },
    Location {
        #[cfg_attr(feature = "openapi", schema(minimum = -90, maximum = 90))]
        latitude: f64,
        #[cfg_attr(feature = "openapi", schema(minimum = -180, maximum = 180))]
        longitude: f64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        address: Option<String>,
    },
    Buttons {
        #[cfg_attr(
            feature = "openapi",
            schema(min_length = 1, max_length = 1024, pattern = r"\S")
        )]
        body: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(
            feature = "openapi",
            schema(min_length = 1, max_length = 60, pattern = r"\S")
        )]
        header: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(
            feature = "openapi",
            schema(min_length = 1, max_length = 60, pattern = r"\S")
        )]
        footer: Option<String>,
        #[cfg_attr(feature = "openapi", schema(min_items = 1, max_items = 3))]
        buttons: Vec<ReplyButton>,
    },
    Contact {
        /// Cards as Meta documents them (`name.formatted_name`, `phones`…).
        #[cfg_attr(feature = "openapi", schema(value_type = Vec<Object>, min_items = 1))]
        contacts: Vec<Value>,
    },
    /// The worker asks the configured AI (OpenAI / Gemini) and sends the answer
    /// or stores it as a suggestion, as the AI settings say.
    Ai {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", schema(max_length = 4000))]
        instructions: Option<String>,
    },
    Rating {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(
            feature = "openapi",
            schema(min_length = 1, max_length = 4096, pattern = r"\S")
        )]
        question: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(
            feature = "openapi",
            schema(min_length = 1, max_length = 4096, pattern = r"\S")
        )]
        thanks: Option<String>,
    },
}

/// What a bot sends when it fires, and what the next reply will answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Opening {
    pub messages: Vec<OutboundContent>,
    pub dialogue: Option<Dialogue>,
    /// The response handed the conversation to a person (a flow's handoff node).
    pub handoff: bool,
}

impl Opening {
    fn send(content: OutboundContent) -> Self {
        Self {
            messages: vec![content],
            dialogue: None,
            handoff: false,
        }
    }
}

impl Response {
    /// Seed 001's number for the response.
    pub fn bot_type(&self) -> u8 {
        match self {
            Self::Text { .. } => 1,
            Self::Template { .. } => 2,
            Self::Menu(_) => 3,
            Self::Flow(_) => 4,
            Self::Media { .. } => 5,
            Self::Location { .. } => 6,
            Self::Buttons { .. } => 7,
            Self::Contact { .. } => 11,
            Self::Ai { .. } => 12,
            Self::Rating { .. } => 13,
        }
    }

    /// Waits for the customer's next reply (a menu, a flow, a rating).
    pub fn is_dialogue(&self) -> bool {
        matches!(self, Self::Menu(_) | Self::Flow(_) | Self::Rating { .. })
    }

    /// The messages sent when the bot fires; `None` for `ai`, which the worker answers.
    pub fn open(&self, bot_id: Uuid, variables: &dyn Variables) -> Option<Opening> {
        let fill = |text: &str| render(text, variables);
        Some(match self {
            Self::Text { text, preview_url } => Opening::send(OutboundContent::Text {
                text: fill(text),
                preview_url: *preview_url,
            }),
            Self::Template {
                name,
                language,
                header,
                body_params,
                button_params,
                body_param_names,
            } => Opening::send(OutboundContent::Template {
                name: name.clone(),
                language: language.clone(),
                header: header.as_ref().map(|header| match header {
                    TemplateHeader::Text { params } => TemplateHeader::Text {
                        params: params.iter().map(|param| fill(param)).collect(),
                    },
                    other => other.clone(),
                }),
                body_params: body_params.iter().map(|param| fill(param)).collect(),
                button_params: button_params.clone(),
                body_param_names: body_param_names.clone(),
                header_param_name: None,
            }),
            Self::Menu(definition) => match menu::open(definition, bot_id, variables) {
                MenuStep::Show { state, content } => Opening {
                    messages: vec![content],
                    dialogue: Some(Dialogue::Menu(state)),
                    handoff: false,
                },
                _ => Opening {
                    messages: Vec::new(),
                    dialogue: None,
                    handoff: false,
                },
            },
            Self::Flow(definition) => {
                let run = flow::start(definition, bot_id, variables);
                Opening {
                    handoff: run.end == FlowEnd::Handoff,
                    dialogue: run.state.map(Dialogue::Flow),
                    messages: run.messages,
                }
            }
            Self::Media { kind, media } => {
                let media = Media {
                    caption: media.caption.as_deref().map(fill),
                    ..media.clone()
                };
                Opening::send(media_content(*kind, media))
            }
            Self::Location {
                latitude,
                longitude,
                name,
                address,
            } => Opening::send(OutboundContent::Location {
                latitude: *latitude,
                longitude: *longitude,
                name: name.clone(),
                address: address.clone(),
            }),
            Self::Buttons {
                body,
                header,
                footer,
                buttons,
            } => Opening::send(OutboundContent::Interactive(Interactive::Buttons {
                body: fill(body),
                header: header.clone(),
                footer: footer.clone(),
                buttons: buttons.clone(),
            })),
            Self::Contact { contacts } => Opening::send(OutboundContent::Contacts {
                contacts: contacts.clone(),
            }),
            Self::Ai { .. } => return None,
            Self::Rating { question, .. } => Opening {
                messages: vec![rating::question(&fill(
                    question.as_deref().unwrap_or(rating::DEFAULT_QUESTION),
                ))],
                dialogue: Some(Dialogue::Rating(RatingState::new(bot_id))),
                handoff: false,
            },
        })
    }

    /// Every way the response cannot be sent, by field path.
    pub fn validate(&self) -> Result<(), FieldErrors> {
        match self {
            Self::Menu(definition) => menu::validate(definition),
            Self::Flow(definition) => flow::validate(definition),
            Self::Ai { instructions } => match instructions {
                Some(text) if text.chars().count() > MAX_INSTRUCTIONS => Err(vec![(
                    "instructions".into(),
                    format!("must be at most {MAX_INSTRUCTIONS} characters"),
                )]),
                _ => Ok(()),
            },
            Self::Rating { question, thanks } => {
                let mut errors = FieldErrors::new();
                for (field, text) in [("question", question), ("thanks", thanks)] {
                    if let Some(text) = text {
                        let length = text.chars().count();
                        if text.trim().is_empty() || length > MAX_TEXT {
                            errors.push((
                                field.into(),
                                format!("must be 1 to {MAX_TEXT} characters"),
                            ));
                        }
                    }
                }
                if errors.is_empty() {
                    Ok(())
                } else {
                    Err(errors)
                }
            }
            Self::Text { .. }
            | Self::Template { .. }
            | Self::Media { .. }
            | Self::Location { .. }
            | Self::Buttons { .. }
            // Each placeholder stands for a one-letter value, so a text that is only
            // a placeholder is not empty; the send path checks the filled length again.
            | Self::Contact { .. } => {
                validate_contents(self.open(Uuid::nil(), &|_: &str| Some("x".to_owned())))
            }
        }
    }
}

fn validate_contents(opening: Option<Opening>) -> Result<(), FieldErrors> {
    let errors: FieldErrors = opening
        .into_iter()
        .flat_map(|opening| opening.messages)
        .filter_map(|content| content.validate().err())
        .flatten()
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

fn media_content(kind: MediaKind, media: Media) -> OutboundContent {
    match kind {
        MediaKind::Image => OutboundContent::Image(media),
        MediaKind::Video => OutboundContent::Video(media),
        MediaKind::Audio => OutboundContent::Audio(media),
        MediaKind::Document => OutboundContent::Document(media),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn asha(name: &str) -> Option<String> {
        (name == "first_name").then(|| "Asha".to_owned())
    }

    fn parse(value: Value) -> Response {
        serde_json::from_value(value).unwrap()
    }

    fn bot() -> Uuid {
        Uuid::from_u128(1)
    }

    fn sent(response: &Response) -> Vec<OutboundContent> {
        response.open(bot(), &asha).unwrap().messages
    }

    #[test]
    fn bot_types_are_seed_001s_numbers() {
        let numbers: Vec<u8> = [
            json!({"type": "text", "text": "hi"}),
            json!({"type": "template", "name": "welcome", "language": "en"}),
            json!({"type": "menu", "body": "Pick", "items": [{"title": "A", "reply": "a"}]}),
            json!({"type": "flow", "start": "a", "nodes": [{"id": "a", "type": "end"}]}),
            json!({"type": "media", "kind": "image", "link": "https://x.test/a.png"}),
            json!({"type": "location", "latitude": -23.5, "longitude": -46.6}),
            json!({"type": "buttons", "body": "Ok?", "buttons": [{"id": "y", "title": "Yes"}]}),
            json!({"type": "contact", "contacts": [{"name": {"formatted_name": "Shop"}}]}),
            json!({"type": "ai"}),
            json!({"type": "rating"}),
        ]
        .into_iter()
        .map(|value| parse(value).bot_type())
        .collect();
        assert_eq!(numbers, [1, 2, 3, 4, 5, 6, 7, 11, 12, 13]);
    }

    #[test]
    fn text_fills_variables() {
        let text = parse(json!({"type": "text", "text": "Hi {{first_name}}, welcome!"}));
        assert_eq!(
            sent(&text),
            [OutboundContent::Text {
                text: "Hi Asha, welcome!".into(),
                preview_url: false
            }]
        );
        assert_eq!(text.validate(), Ok(()));
        assert!(!text.is_dialogue());
    }

    #[test]
    fn template_fills_its_parameters() {
        let template = parse(json!({
            "type": "template", "name": "order_update", "language": "pt_BR",
            "body_params": ["{{first_name}}", "#1042"],
            "header": {"type": "text", "params": ["{{first_name}}"]}
        }));
        let messages = sent(&template);
        let [
            OutboundContent::Template {
                body_params,
                header,
                ..
            },
        ] = messages.as_slice()
        else {
            panic!("one template");
        };
        assert_eq!(body_params, &["Asha", "#1042"]);
        assert_eq!(
            header,
            &Some(TemplateHeader::Text {
                params: vec!["Asha".into()]
            })
        );
        assert_eq!(template.validate(), Ok(()));
    }

    #[test]
    fn media_location_buttons_and_contact_become_their_outbound_kinds() {
        let media = parse(json!({
            "type": "media", "kind": "document", "link": "https://x.test/menu.pdf",
            "filename": "menu.pdf", "caption": "For {{first_name}}"
        }));
        let messages = sent(&media);
        let [OutboundContent::Document(document)] = messages.as_slice() else {
            panic!("a document");
        };
        assert_eq!(document.caption.as_deref(), Some("For Asha"));
        assert_eq!(media.validate(), Ok(()));

        let location = parse(json!({"type": "location", "latitude": 91.0, "longitude": 0.0}));
        assert_eq!(
            location.validate().unwrap_err()[0].0,
            "latitude",
            "checked as the send path checks"
        );

        let buttons = parse(json!({
            "type": "buttons", "body": "Hi {{first_name}}, ok?",
            "buttons": [{"id": "y", "title": "Yes"}, {"id": "n", "title": "No"}]
        }));
        assert_eq!(sent(&buttons)[0].preview(), "Hi Asha, ok?");
        assert_eq!(buttons.validate(), Ok(()));

        let contact = parse(json!({"type": "contact", "contacts": [{}]}));
        assert!(contact.validate().is_err());
    }

    #[test]
    fn an_audio_caption_or_an_empty_text_is_refused() {
        let audio = parse(json!({
            "type": "media", "kind": "audio", "link": "https://x.test/a.ogg", "caption": "hi"
        }));
        assert!(audio.validate().is_err());
        assert!(
            parse(json!({"type": "text", "text": "  "}))
                .validate()
                .is_err()
        );
        // A text that is only a placeholder is fine: the value fills it.
        assert_eq!(
            parse(json!({"type": "text", "text": "{{first_name}}"})).validate(),
            Ok(())
        );
    }

    #[test]
    fn ai_is_answered_by_the_worker() {
        let ai = parse(json!({"type": "ai", "instructions": "Be brief."}));
        assert_eq!(ai.open(bot(), &asha), None);
        assert_eq!(ai.validate(), Ok(()));
        let long = Response::Ai {
            instructions: Some("x".repeat(MAX_INSTRUCTIONS + 1)),
        };
        assert!(long.validate().is_err());
    }

    #[test]
    fn rating_asks_the_question_and_waits_for_the_answer() {
        let rating = parse(json!({"type": "rating", "question": "Rate us, {{first_name}}!"}));
        let opening = rating.open(bot(), &asha).unwrap();
        assert_eq!(opening.messages[0].preview(), "Rate us, Asha!");
        assert_eq!(
            opening.dialogue,
            Some(Dialogue::Rating(RatingState::new(bot())))
        );
        assert!(rating.is_dialogue());
        assert!(
            parse(json!({"type": "rating", "thanks": ""}))
                .validate()
                .is_err()
        );
    }

    #[test]
    fn menu_and_flow_open_a_dialogue() {
        let menu =
            parse(json!({"type": "menu", "body": "Pick", "items": [{"title": "A", "reply": "a"}]}));
        let opening = menu.open(bot(), &asha).unwrap();
        assert!(matches!(opening.dialogue, Some(Dialogue::Menu(_))));
        assert_eq!(menu.validate(), Ok(()));

        let flow = parse(json!({
            "type": "flow", "start": "a",
            "nodes": [{"id": "a", "type": "handoff", "text": "One moment"}]
        }));
        let opening = flow.open(bot(), &asha).unwrap();
        assert!(opening.handoff);
        assert_eq!(opening.dialogue, None);
        assert_eq!(flow.validate(), Ok(()));
    }
}
