//! Phone numbers as wacrm stores and matches them: E.164 digits without the `+`.
//!
//! Parsing and country rules come from `phonenumber` (a port of Google's
//! libphonenumber); this module only decides how loosely written input reaches it.

use std::fmt;
use std::str::FromStr;

use phonenumber::Mode;
use phonenumber::country::Id;

/// The country whose national numbers are assumed when input carries no
/// international prefix, e.g. `KE` for `0712 345678`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Country(Id);

impl FromStr for Country {
    type Err = PhoneError;

    fn from_str(code: &str) -> Result<Self, Self::Err> {
        code.trim()
            .to_ascii_uppercase()
            .parse::<Id>()
            .map(Country)
            .map_err(|_| PhoneError::UnknownCountry(code.to_owned()))
    }
}

impl Country {
    /// The ISO 3166 alpha-2 code, e.g. `KE`.
    pub fn as_str(&self) -> &str {
        self.0.as_ref()
    }
}

/// A phone number reduced to its E.164 digits, e.g. `254712345678`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NormalizedPhone(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error("`{0}` is not a phone number")]
    Invalid(String),
    #[error("`{0}` is a national number and no default country is configured")]
    NeedsCountry(String),
    #[error("`{0}` is not an ISO 3166 country code")]
    UnknownCountry(String),
}

impl NormalizedPhone {
    /// Normalises what a person or a provider wrote.
    ///
    /// Spaces, dashes, dots and parentheses are ignored; `+` and `00` mark an
    /// international number. Digits without either are international when no
    /// default country is given (providers send `254712345678`), and national
    /// numbers of `default_country` otherwise, unless they already start with
    /// that country's calling code and are too long to be national.
    pub fn parse(input: &str, default_country: Option<Country>) -> Result<Self, PhoneError> {
        let invalid = || PhoneError::Invalid(input.to_owned());
        let compact: String = input
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')' | '\u{a0}'))
            .collect();
        let (international, digits) = if let Some(rest) = compact.strip_prefix('+') {
            (true, rest)
        } else if let Some(rest) = compact.strip_prefix("00") {
            (true, rest)
        } else {
            (false, compact.as_str())
        };
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid());
        }
        let digits = match (international, default_country) {
            // An international number is already E.164: keep its digits as
            // written. libphonenumber only vouches for its country code here,
            // because it also strips national prefixes from international
            // input (`+7 8…`), which would make normalising unstable.
            (true, _) | (false, None) => {
                phonenumber::parse(None, format!("+{digits}")).map_err(|_| invalid())?;
                digits.to_owned()
            }
            (false, Some(Country(id))) => {
                let national = phonenumber::parse(Some(id), digits)
                    .ok()
                    .filter(phonenumber::is_valid);
                match national {
                    Some(number) => number
                        .format()
                        .mode(Mode::E164)
                        .to_string()
                        .trim_start_matches('+')
                        .to_owned(),
                    // Not a valid national number: maybe an international one without `+`.
                    None => {
                        phonenumber::parse(None, format!("+{digits}")).map_err(|_| invalid())?;
                        digits.to_owned()
                    }
                }
            }
        };
        if digits.len() < 7 || digits.len() > 15 {
            return Err(invalid());
        }
        Ok(Self(digits))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The country the number belongs to (`None` for non-geographic numbers).
    pub fn country(&self) -> Option<Country> {
        let number = phonenumber::parse(None, format!("+{}", self.0)).ok()?;
        number.country().id().map(Country)
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for NormalizedPhone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn norm(input: &str, country: Option<&str>) -> Result<String, PhoneError> {
        let country = country.map(|c| c.parse().unwrap());
        NormalizedPhone::parse(input, country).map(NormalizedPhone::into_string)
    }

    #[test]
    fn international_forms_agree() {
        for input in [
            "+254 712 345 678",
            "+254-712-345-678",
            "00254712345678",
            "254712345678",
            "(+254) 712.345.678",
        ] {
            assert_eq!(norm(input, None).as_deref(), Ok("254712345678"), "{input}");
        }
    }

    #[test]
    fn national_numbers_use_the_default_country() {
        assert_eq!(
            norm("0712 345678", Some("KE")).as_deref(),
            Ok("254712345678")
        );
        assert_eq!(
            norm("(415) 555-2671", Some("us")).as_deref(),
            Ok("14155552671")
        );
    }

    #[test]
    fn a_full_international_number_survives_a_default_country() {
        assert_eq!(
            norm("254712345678", Some("KE")).as_deref(),
            Ok("254712345678")
        );
        assert_eq!(
            norm("+44 20 7946 0958", Some("KE")).as_deref(),
            Ok("442079460958")
        );
    }

    #[test]
    fn garbage_is_rejected() {
        for input in [
            "",
            "+",
            "254XXXXXXX",
            "call me",
            "12",
            "+1234567890123456789",
        ] {
            assert!(norm(input, None).is_err(), "{input}");
        }
    }

    #[test]
    fn unknown_countries_are_rejected() {
        assert!(matches!(
            "ZZ".parse::<Country>(),
            Err(PhoneError::UnknownCountry(_))
        ));
    }

    proptest! {
        /// Formatting characters never change which number is meant.
        #[test]
        fn formatting_is_ignored(national in "[2-9][0-9]{8}", seps in proptest::collection::vec(prop_oneof![Just(" "), Just("-"), Just("."), Just("")], 9)) {
            let plain = format!("+254{national}");
            let mut decorated = String::from("+254 ");
            for (digit, sep) in national.chars().zip(&seps) {
                decorated.push(digit);
                decorated.push_str(sep);
            }
            prop_assert_eq!(norm(&plain, None), norm(&decorated, None));
        }

        /// Normalising twice gives the same digits as normalising once.
        #[test]
        fn normalising_is_idempotent(digits in "[1-9][0-9]{7,13}") {
            if let Ok(once) = norm(&digits, None) {
                prop_assert_eq!(norm(&once, None), Ok(once.clone()));
                prop_assert_eq!(norm(&format!("+{once}"), None), Ok(once.clone()));
                prop_assert_eq!(norm(&format!("00{once}"), None), Ok(once));
            }
        }
    }
}
