//! Quick replies: canned answers whose `{{variables}}` are filled in for the
//! conversation they are sent in.
//!
//! A placeholder is `{{name}}`, with optional spaces inside the braces
//! (`{{ name }}`); names are letters, digits, `_` and `.`, matched without
//! regard to case. A placeholder the caller cannot fill stays exactly as
//! written, so the agent sees what is missing instead of sending a blank.

const OPEN: &str = "{{";
const CLOSE: &str = "}}";
const MAX_NAME: usize = 64;

/// `body` with every placeholder that `variables` knows replaced by its value.
///
/// `variables` is asked with the lowercased name; `None` keeps the placeholder.
/// Values are inserted as they are: a value containing `{{` is not expanded again.
pub fn render(body: &str, variables: &impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(body.len());
    let mut rest = body;
    while let Some(start) = rest.find(OPEN) {
        out.push_str(&rest[..start]);
        let candidate = &rest[start..];
        match placeholder(candidate)
            .and_then(|(name, len)| variables(&name).map(|value| (value, len)))
        {
            Some((value, len)) => {
                out.push_str(&value);
                rest = &candidate[len..];
            }
            // Not a placeholder here, or not one we can fill: keep this brace
            // and look again from the next character (`{{{name}}}` still
            // fills the inner `{{name}}`).
            None => {
                out.push('{');
                rest = &candidate[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The distinct placeholder names in `body`, lowercased, in order of first use.
pub fn variables(body: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let mut rest = body;
    while let Some(start) = rest.find(OPEN) {
        let candidate = &rest[start..];
        match placeholder(candidate) {
            Some((name, len)) => {
                if !names.contains(&name) {
                    names.push(name);
                }
                rest = &candidate[len..];
            }
            None => rest = &candidate[1..],
        }
    }
    names
}

/// The lowercased name and byte length of the placeholder `text` starts with.
fn placeholder(text: &str) -> Option<(String, usize)> {
    let inner_start = OPEN.len();
    let inner_len = text[inner_start..].find(CLOSE)?;
    let name = text[inner_start..inner_start + inner_len].trim_matches(' ');
    let valid = !name.is_empty()
        && name.len() <= MAX_NAME
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
    valid.then(|| {
        (
            name.to_ascii_lowercase(),
            inner_start + inner_len + CLOSE.len(),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known(name: &str) -> Option<String> {
        match name {
            "name" => Some("Ana Souza".into()),
            "first_name" => Some("Ana".into()),
            "phone" => Some("+5511987654321".into()),
            "agent" => Some("Carla".into()),
            _ => None,
        }
    }

    #[test]
    fn known_variables_are_filled_with_or_without_spaces() {
        assert_eq!(
            render(
                "Hi {{first_name}}, this is {{ agent }}. We will call {{phone}}.",
                &known
            ),
            "Hi Ana, this is Carla. We will call +5511987654321."
        );
        assert_eq!(render("{{name}}{{name}}", &known), "Ana SouzaAna Souza");
    }

    #[test]
    fn names_are_matched_without_regard_to_case() {
        assert_eq!(render("Dear {{Name}}", &known), "Dear Ana Souza");
    }

    #[test]
    fn unknown_variables_and_stray_braces_stay_as_written() {
        for text in [
            "Your order {{order_id}} ships today",
            "{{ not a name }}",
            "{{}} and {{ }}",
            "an unclosed {{name",
            "a lone }} and {{",
            "{ {name} }",
        ] {
            assert_eq!(render(text, &known), text);
        }
    }

    #[test]
    fn a_placeholder_inside_extra_braces_is_still_filled() {
        assert_eq!(render("{{{name}}}", &known), "{Ana Souza}");
        assert_eq!(render("{{ x {{agent}}", &known), "{{ x Carla");
    }

    #[test]
    fn values_are_not_expanded_again() {
        let sneaky = |name: &str| (name == "name").then(|| "{{agent}}".to_owned());
        assert_eq!(render("{{name}} {{agent}}", &sneaky), "{{agent}} {{agent}}");
    }

    #[test]
    fn multibyte_text_around_placeholders_survives() {
        assert_eq!(
            render("Olá {{first_name}} 👋 — até já", &known),
            "Olá Ana 👋 — até já"
        );
    }

    #[test]
    fn variables_lists_each_name_once_in_order() {
        assert_eq!(
            variables("{{agent}} for {{ Name }}: {{name}}, {{order_id}} {{bad name}} {{phone"),
            ["agent", "name", "order_id"]
        );
        assert!(variables("no placeholders").is_empty());
    }

    mod properties {
        use proptest::prelude::*;

        use super::super::*;

        proptest! {
            #[test]
            fn text_without_placeholders_is_returned_unchanged(
                text in any::<String>().prop_filter("no `{{`", |t| !t.contains("{{"))
            ) {
                prop_assert_eq!(render(&text, &|_| Some("X".to_owned())), text);
            }

            #[test]
            fn nothing_changes_when_no_variable_is_known(text in "[a-z{} ]{0,40}") {
                prop_assert_eq!(render(&text, &|_| None), text);
            }

            #[test]
            fn every_listed_variable_is_filled(text in "[a-z{} _]{0,40}") {
                let rendered = render(&text, &|name| Some(format!("<{name}>")));
                for name in variables(&text) {
                    let marker = format!("<{}>", name);
                    prop_assert!(rendered.contains(&marker));
                }
            }
        }
    }
}
