//! A template with the source of each of its parameters: what a campaign or a
//! notification mapping stores, and renders into a concrete template message
//! for one recipient or event (see [`crate::placeholders`]).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::outbound::{ButtonParam, ButtonSubType, OutboundContent, TemplateHeader};
use crate::placeholders::ValueSource;
use crate::template::{self, TemplateRequirements};

/// The most parameters of one kind a mapping may give (WhatsApp bodies rarely
/// exceed 10; the limit only bounds the request).
pub const MAX_PARAMETERS: usize = 50;

/// Where a template's parameters come from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct MappedParameters {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<MappedHeader>,
    /// One source per body placeholder, in order.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_items = 50))]
    pub body: Vec<ValueSource>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_items = 50))]
    pub buttons: Vec<MappedButton>,
}

/// A header: its text parameters' sources, or the media it shows, by a
/// public HTTPS link (a `{{field}}` reference is allowed, e.g. a per-recipient
/// invoice document) or by the id the provider gave an upload: exactly one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum MappedHeader {
    Text {
        params: Vec<ValueSource>,
    },
    Image {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        link: Option<ValueSource>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        media_id: Option<ValueSource>,
    },
    Video {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        link: Option<ValueSource>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        media_id: Option<ValueSource>,
    },
    Document {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        link: Option<ValueSource>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        media_id: Option<ValueSource>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        filename: Option<ValueSource>,
    },
}

impl MappedHeader {
    /// A media header's sources: `(link, media_id)`.
    fn media(&self) -> Option<(Option<&ValueSource>, Option<&ValueSource>)> {
        match self {
            Self::Text { .. } => None,
            Self::Image { link, media_id }
            | Self::Video { link, media_id }
            | Self::Document { link, media_id, .. } => Some((link.as_ref(), media_id.as_ref())),
        }
    }
}

/// A button's value by its position among the template's buttons.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct MappedButton {
    /// 0-based position of the button in the template.
    #[cfg_attr(feature = "openapi", schema(maximum = 9))]
    pub index: u8,
    pub sub_type: ButtonSubType,
    pub param: ValueSource,
}

/// A problem with a mapping, at a field path of the request (`body[1]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingProblem {
    pub field: String,
    pub message: String,
}

impl MappedParameters {
    fn sources(&self) -> Vec<(String, &ValueSource)> {
        let mut sources = Vec::new();
        match &self.header {
            Some(MappedHeader::Text { params }) => {
                for (i, param) in params.iter().enumerate() {
                    sources.push((format!("header.params[{i}]"), param));
                }
            }
            Some(media) => {
                let (link, media_id) = media.media().unwrap_or_default();
                sources.extend(link.map(|link| ("header.link".to_owned(), link)));
                sources.extend(media_id.map(|id| ("header.media_id".to_owned(), id)));
            }
            None => {}
        }
        if let Some(MappedHeader::Document {
            filename: Some(filename),
            ..
        }) = &self.header
        {
            sources.push(("header.filename".to_owned(), filename));
        }
        for (i, param) in self.body.iter().enumerate() {
            sources.push((format!("body[{i}]"), param));
        }
        for (i, button) in self.buttons.iter().enumerate() {
            sources.push((format!("buttons[{i}].param"), &button.param));
        }
        sources
    }

    /// Checks each source (syntax, fields under `roots`) and that the mapping
    /// gives `requirements` exactly the parameters it needs.
    pub fn validate(
        &self,
        roots: &[&str],
        requirements: &TemplateRequirements,
    ) -> Result<(), Vec<MappingProblem>> {
        let mut problems: Vec<MappingProblem> = Vec::new();
        if self.body.len() > MAX_PARAMETERS || self.buttons.len() > MAX_PARAMETERS {
            problems.push(MappingProblem {
                field: "parameters".into(),
                message: format!("at most {MAX_PARAMETERS} body parameters and buttons"),
            });
        }
        match self.header.as_ref().and_then(MappedHeader::media) {
            Some((None, None)) => problems.push(MappingProblem {
                field: "header.link".into(),
                message: "a link or a media_id is required".into(),
            }),
            Some((Some(_), Some(_))) => problems.push(MappingProblem {
                field: "header.media_id".into(),
                message: "give a link or a media_id, not both".into(),
            }),
            _ => {}
        }
        for (field, source) in self.sources() {
            if let Err(error) = source.validate(roots) {
                problems.push(MappingProblem {
                    field,
                    message: error.to_string(),
                });
            }
        }
        let sample = self.shape();
        if let OutboundContent::Template {
            header,
            body_params,
            button_params,
            ..
        } = &sample
            && let Err(problem) =
                template::check(requirements, header.as_ref(), body_params, button_params)
        {
            problems.push(MappingProblem {
                field: "parameters".into(),
                message: problem,
            });
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }

    /// The message the mapping makes, with every source standing in for its
    /// value: what a provider is asked whether it can carry.
    pub fn shape(&self) -> OutboundContent {
        let fill = |_: &ValueSource| Ok::<String, String>("x".to_owned());
        self.build(
            String::new(),
            String::new(),
            &TemplateRequirements::default(),
            fill,
        )
        .unwrap_or_else(|_| OutboundContent::Text {
            text: String::new(),
            preview_url: false,
        })
    }

    /// The template message for one `record`; `Err` names the first field
    /// that is missing without a fallback.
    pub fn render(
        &self,
        name: &str,
        language: &str,
        requirements: &TemplateRequirements,
        record: &Value,
    ) -> Result<OutboundContent, String> {
        self.build(
            name.to_owned(),
            language.to_owned(),
            requirements,
            |source| source.render(record),
        )
    }

    fn build(
        &self,
        name: String,
        language: String,
        requirements: &TemplateRequirements,
        fill: impl Fn(&ValueSource) -> Result<String, String>,
    ) -> Result<OutboundContent, String> {
        let header = match &self.header {
            None => None,
            Some(MappedHeader::Text { params }) => Some(TemplateHeader::Text {
                params: params.iter().map(&fill).collect::<Result<_, _>>()?,
            }),
            Some(MappedHeader::Image { link, media_id }) => Some(TemplateHeader::Image {
                link: link.as_ref().map(&fill).transpose()?,
                media_id: media_id.as_ref().map(&fill).transpose()?,
            }),
            Some(MappedHeader::Video { link, media_id }) => Some(TemplateHeader::Video {
                link: link.as_ref().map(&fill).transpose()?,
                media_id: media_id.as_ref().map(&fill).transpose()?,
            }),
            Some(MappedHeader::Document {
                link,
                media_id,
                filename,
            }) => Some(TemplateHeader::Document {
                link: link.as_ref().map(&fill).transpose()?,
                media_id: media_id.as_ref().map(&fill).transpose()?,
                filename: filename.as_ref().map(&fill).transpose()?,
            }),
        };
        let body_params = self.body.iter().map(&fill).collect::<Result<_, _>>()?;
        let button_params = self
            .buttons
            .iter()
            .map(|button| {
                Ok(ButtonParam {
                    index: button.index,
                    sub_type: button.sub_type,
                    param: fill(&button.param)?,
                })
            })
            .collect::<Result<_, String>>()?;
        Ok(OutboundContent::Template {
            name,
            language,
            header,
            body_params,
            button_params,
            body_param_names: requirements.body_param_names.clone(),
            header_param_name: requirements.header_param_names.first().cloned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::outbound::MediaSource;

    fn requirements(body: &str) -> TemplateRequirements {
        template::requirements(&json!([{"type": "BODY", "text": body}]))
    }

    fn mapping(value: Value) -> MappedParameters {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn each_record_gets_its_own_parameters() {
        let mapped = mapping(
            json!({"body": [{"value": "{{name}}", "fallback": "there"}, {"value": "{{custom_fields.code}}"}]}),
        );
        let needs = requirements("Hi {{1}}, use {{2}}");
        assert!(mapped.validate(&["name", "custom_fields"], &needs).is_ok());
        let asha = mapped
            .render(
                "promo",
                "en",
                &needs,
                &json!({"name": "Asha", "custom_fields": {"code": "A1"}}),
            )
            .unwrap();
        let OutboundContent::Template {
            body_params,
            name,
            language,
            ..
        } = asha
        else {
            panic!("a template");
        };
        assert_eq!((name.as_str(), language.as_str()), ("promo", "en"));
        assert_eq!(body_params, ["Asha", "A1"]);
        let nameless = mapped
            .render(
                "promo",
                "en",
                &needs,
                &json!({"custom_fields": {"code": "B2"}}),
            )
            .unwrap();
        let OutboundContent::Template { body_params, .. } = nameless else {
            panic!("a template");
        };
        assert_eq!(body_params, ["there", "B2"]);
        assert_eq!(
            mapped.render("promo", "en", &needs, &json!({"name": "Ben"})),
            Err("custom_fields.code".to_owned())
        );
    }

    #[test]
    fn a_mapping_that_does_not_fit_the_template_is_refused() {
        let mapped = mapping(json!({"body": [{"value": "{{name}}"}]}));
        let problems = mapped
            .validate(&["name"], &requirements("Hi {{1}}, use {{2}}"))
            .unwrap_err();
        assert_eq!(problems[0].field, "parameters");
        assert!(problems[0].message.contains("needs 2"), "{problems:?}");

        let unknown = mapping(json!({"body": [{"value": "{{invoice.total}}"}]}));
        let problems = unknown
            .validate(&["name"], &requirements("Total {{1}}"))
            .unwrap_err();
        assert_eq!(problems[0].field, "body[0]");
    }

    #[test]
    fn a_media_header_comes_from_a_link_or_an_uploaded_id_never_both() {
        let needs = template::requirements(&json!([
            {"type": "HEADER", "format": "IMAGE"},
            {"type": "BODY", "text": "Your invoice"}
        ]));
        let by_link = mapping(
            json!({"header": {"type": "image", "link": {"value": "{{custom_fields.card}}"}}}),
        );
        assert!(by_link.validate(&["custom_fields"], &needs).is_ok());
        let record = json!({"custom_fields": {"card": "https://cdn.example/asha.png"}});
        let Ok(OutboundContent::Template { header, .. }) =
            by_link.render("t", "en", &needs, &record)
        else {
            panic!("a template");
        };
        let header = header.unwrap();
        assert_eq!(
            header.media_source(),
            Some(MediaSource::Link("https://cdn.example/asha.png"))
        );

        let uploaded = mapping(
            json!({"header": {"type": "image", "media_id": {"value": "1013859600285441"}}}),
        );
        assert!(uploaded.validate(&[], &needs).is_ok());
        let Ok(OutboundContent::Template { header, .. }) =
            uploaded.render("t", "en", &needs, &json!({}))
        else {
            panic!("a template");
        };
        assert_eq!(
            header.unwrap().media_source(),
            Some(MediaSource::Uploaded("1013859600285441"))
        );

        let neither = mapping(json!({"header": {"type": "image"}}));
        let problems = neither.validate(&[], &needs).unwrap_err();
        assert_eq!(problems[0].field, "header.link", "{problems:?}");
        let both = mapping(
            json!({"header": {"type": "image", "link": {"value": "https://cdn.example/a.png"},
                                              "media_id": {"value": "1013859600285441"}}}),
        );
        let problems = both.validate(&[], &needs).unwrap_err();
        assert_eq!(problems[0].field, "header.media_id", "{problems:?}");
    }

    #[test]
    fn named_parameter_templates_carry_their_names() {
        let needs = requirements("Hi {{first_name}}");
        let mapped = mapping(json!({"body": [{"value": "{{name}}"}]}));
        let OutboundContent::Template {
            body_param_names, ..
        } = mapped
            .render("promo", "en", &needs, &json!({"name": "Asha"}))
            .unwrap()
        else {
            panic!("a template");
        };
        assert_eq!(body_param_names, ["first_name"]);
    }
}
