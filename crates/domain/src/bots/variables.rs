//! Filling `{{placeholders}}` in what a bot sends, from the conversation's
//! variables and, in a flow, the flow's own.
//!
//! The placeholder syntax is the quick replies' (`quick_reply::render`). One
//! difference: a quick reply keeps a placeholder it cannot fill so the agent sees
//! it before sending, but nobody reads a bot's message before the customer does,
//! so a bot drops it, with the space before it when punctuation or a space
//! follows: `"Hi {{first_name}}!"` without a name is `"Hi!"`, not `"Hi {{first_name}}!"`.

use crate::quick_reply;

/// Something that knows the value of a (lowercased) variable name.
pub trait Variables {
    fn get(&self, name: &str) -> Option<String>;
}

impl<F: Fn(&str) -> Option<String>> Variables for F {
    fn get(&self, name: &str) -> Option<String> {
        self(name)
    }
}

/// Stands for a placeholder nobody could fill until the tidy-up removes it.
const MISSING: char = '\u{0}';

pub fn render(text: &str, variables: &dyn Variables) -> String {
    let rendered = quick_reply::render(text, &|name: &str| {
        Some(match variables.get(name) {
            // A value must not smuggle in the marker.
            Some(value) => value.replace(MISSING, ""),
            None => MISSING.to_string(),
        })
    });
    if !rendered.contains(MISSING) {
        return rendered;
    }
    let chars: Vec<char> = rendered.chars().collect();
    let mut out = String::with_capacity(rendered.len());
    for (index, c) in chars.iter().enumerate() {
        if *c != MISSING {
            out.push(*c);
            continue;
        }
        let next = chars[index + 1..].iter().find(|c| **c != MISSING);
        let joins_nothing =
            next.is_none_or(|next| *next == ' ' || next.is_ascii_punctuation() || *next == '\n');
        if joins_nothing && out.ends_with(' ') {
            out.pop();
        }
    }
    out.trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asha(name: &str) -> Option<String> {
        match name {
            "first_name" => Some("Asha".into()),
            "evil" => Some("a\u{0}b".into()),
            _ => None,
        }
    }

    #[test]
    fn known_variables_are_filled() {
        assert_eq!(render("Hi {{ First_Name }}!", &asha), "Hi Asha!");
    }

    #[test]
    fn unknown_variables_vanish_with_the_space_before_them() {
        assert_eq!(render("Hi {{name}}!", &asha), "Hi!");
        assert_eq!(render("Hi {{name}}, welcome", &asha), "Hi, welcome");
        assert_eq!(render("Dear {{title}} {{first_name}}", &asha), "Dear Asha");
        assert_eq!(render("{{name}} hello", &asha), "hello");
        assert_eq!(render("Order{{id}}", &asha), "Order");
    }

    #[test]
    fn text_without_placeholders_is_unchanged_and_values_cannot_inject_the_marker() {
        assert_eq!(render("Price: 10  USD", &asha), "Price: 10  USD");
        assert_eq!(render("x {{evil}} y", &asha), "x ab y");
    }
}
