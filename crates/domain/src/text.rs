//! How what a customer wrote is read, by bots and for stop words: one normal form
//! in which case, accents, width variants and the punctuation around words no
//! longer matter.
//!
//! `normalize("  Olá, QUERO o Preço!! ")` is `"ola quero o preco"`. Punctuation
//! *inside* a word stays (`e-mail`, `what's`, `1.5`) because it changes meaning;
//! punctuation around words goes, so `"preço?"` and `"preço"` are the same word.
//! Emoji are not punctuation and stay, so a trigger on `👍` still works.
//!
//! The three ways a bot compares are all on the normal form:
//! - [`Said::is`]: the whole message equals the value (trigger `exact`);
//! - [`Said::contains`]: the value appears anywhere, even inside a word, so
//!   `refund` matches `refunds` (trigger `contains`, flow `contains` edges);
//! - [`Said::mentions`]: the value appears as whole words, so `hi` does not
//!   match `this` (triggers `keyword`, `synonym`, `human_request`).

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// `text` lowercased, without accents, with compatibility forms folded
/// (full-width `Ｏｋ` is `ok`), the punctuation around each word removed and
/// the words separated by single spaces.
pub fn normalize(text: &str) -> String {
    let folded = fold(&fold(text));
    let mut out = String::with_capacity(folded.len());
    for word in folded.split_whitespace() {
        let word = word.trim_matches(is_punctuation);
        if word.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// Decompose, drop the accents, lowercase. Lowercasing can itself produce an
/// accent (`İ` lowercases to `i` + a combining dot), so `normalize` folds twice.
fn fold(text: &str) -> String {
    text.nfkd()
        .filter(|c| !is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .collect()
}

/// ASCII punctuation and the punctuation common in the languages our customers
/// write (Spanish and Portuguese quotes and marks, typographic dashes and quotes,
/// CJK full stops). The standard library has no Unicode punctuation class.
fn is_punctuation(c: char) -> bool {
    c.is_ascii_punctuation()
        || matches!(
            c,
            '¡' | '¿'
                | '«'
                | '»'
                | '…'
                | '‐'
                | '‑'
                | '‒'
                | '–'
                | '—'
                | '‘'
                | '’'
                | '‚'
                | '“'
                | '”'
                | '„'
                | '·'
                | '•'
                | '、'
                | '。'
                | '，'
                | '！'
                | '？'
                | '：'
                | '；'
        )
}

/// A message, normalised once, asked the questions triggers and edges ask.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Said {
    normalized: String,
}

impl Said {
    pub fn new(text: &str) -> Self {
        Self {
            normalized: normalize(text),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.normalized
    }

    pub fn is_empty(&self) -> bool {
        self.normalized.is_empty()
    }

    /// The whole message is `value`. A value that normalises to nothing never matches.
    pub fn is(&self, value: &str) -> bool {
        let value = normalize(value);
        !value.is_empty() && value == self.normalized
    }

    /// `value` appears anywhere in the message, even inside a word.
    pub fn contains(&self, value: &str) -> bool {
        let value = normalize(value);
        !value.is_empty() && self.normalized.contains(&value)
    }

    /// `phrase` appears as a run of whole words.
    pub fn mentions(&self, phrase: &str) -> bool {
        let phrase = normalize(phrase);
        if phrase.is_empty() {
            return false;
        }
        let wanted: Vec<&str> = phrase.split(' ').collect();
        let words: Vec<&str> = self.normalized.split(' ').collect();
        words
            .windows(wanted.len())
            .any(|window| window == wanted.as_slice())
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn case_accents_and_surrounding_punctuation_do_not_matter() {
        assert_eq!(normalize("  Olá, QUERO o Preço!! "), "ola quero o preco");
        assert_eq!(normalize("¿Cuánto cuesta?"), "cuanto cuesta");
        assert_eq!(normalize("«Ação»"), "acao");
        assert_eq!(normalize("ＯＫ"), "ok");
        assert_eq!(normalize("İstanbul"), "istanbul");
    }

    #[test]
    fn punctuation_inside_words_and_emoji_stay() {
        assert_eq!(normalize("My e-mail, what's 1.5?"), "my e-mail what's 1.5");
        assert_eq!(normalize(" 👍 "), "👍");
        assert_eq!(normalize("?!..."), "");
    }

    #[test]
    fn exact_match_ignores_case_accents_and_punctuation() {
        let said = Said::new("Oi, Bom dia!");
        assert!(said.is("oi bom dia"));
        assert!(said.is("OI, BÓM DIA"));
        assert!(!said.is("oi"));
        assert!(!Said::new("?").is("!"), "empty never matches empty");
    }

    #[test]
    fn contains_matches_inside_words_and_mentions_only_whole_words() {
        let said = Said::new("I want refunds for this order");
        assert!(said.contains("refund"));
        assert!(said.contains("HI"), "`this` contains `hi`");
        assert!(!said.mentions("hi"));
        assert!(said.mentions("this order"));
        assert!(said.mentions("Refunds!"));
        assert!(!said.mentions("order this"));
        assert!(!said.contains(""));
        assert!(!said.mentions(" ... "));
    }

    proptest! {
        #[test]
        fn normalisation_is_idempotent(text in any::<String>()) {
            let once = normalize(&text);
            prop_assert_eq!(normalize(&once), once.clone());
        }

        #[test]
        fn the_normal_form_has_no_edge_spaces_nor_double_spaces(text in any::<String>()) {
            let normal = normalize(&text);
            prop_assert_eq!(normal.trim(), normal.as_str());
            prop_assert!(!normal.contains("  "));
        }

        #[test]
        fn a_message_is_and_contains_and_mentions_itself(text in "[a-zA-Zçãéí ,.!?]{0,30}") {
            let said = Said::new(&text);
            if !said.is_empty() {
                prop_assert!(said.is(&text));
                prop_assert!(said.contains(&text));
                prop_assert!(said.mentions(&text));
            }
        }
    }
}
