//! Who a WhatsApp sender is: a lead, else a contact, else a staff member
//! (seed 001's order), else nobody we know (`general`).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RelType {
    Lead,
    Contact,
    Staff,
    General,
}

impl RelType {
    pub const ALL: [Self; 4] = [Self::Lead, Self::Contact, Self::Staff, Self::General];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Lead => "lead",
            Self::Contact => "contact",
            Self::Staff => "staff",
            Self::General => "general",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|rel| rel.as_str() == name)
    }
}

/// What a lookup of each kind of record found for the sender's phone.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Candidates<Id> {
    pub lead: Option<Id>,
    pub contact: Option<Id>,
    pub staff: Option<Id>,
}

/// The first kind that matched, in seed 001's order.
pub fn identify<Id>(found: Candidates<Id>) -> (RelType, Option<Id>) {
    if let Some(id) = found.lead {
        (RelType::Lead, Some(id))
    } else if let Some(id) = found.contact {
        (RelType::Contact, Some(id))
    } else if let Some(id) = found.staff {
        (RelType::Staff, Some(id))
    } else {
        (RelType::General, None)
    }
}

/// Every spelling under which the same WhatsApp user may be stored, the given
/// one first. WhatsApp reports some countries' mobiles without a digit that
/// people write (and the reverse):
/// - Brazil (55): the ninth digit `9` after the two-digit area code;
/// - Mexico (52): the `1` after the country code on older numbers;
/// - Argentina (54): the `9` after the country code for mobiles.
pub fn phone_variants(digits: &str) -> Vec<String> {
    let mut variants = vec![digits.to_owned()];
    let mut add = |variant: String| {
        if !variants.contains(&variant) {
            variants.push(variant);
        }
    };
    if let Some(rest) = digits.strip_prefix("55") {
        match rest.len() {
            // 55 + area (2) + 9 + 8 digits of a mobile (6-9) -> drop the 9.
            11 if rest.as_bytes()[2] == b'9' && matches!(rest.as_bytes()[3], b'6'..=b'9') => {
                add(format!("55{}{}", &rest[..2], &rest[3..]))
            }
            // 55 + area (2) + 8 digits of a mobile (6-9) -> add the 9.
            10 if matches!(rest.as_bytes()[2], b'6'..=b'9') => {
                add(format!("55{}9{}", &rest[..2], &rest[2..]))
            }
            _ => {}
        }
    }
    if let Some(rest) = digits.strip_prefix("52") {
        match rest.len() {
            11 if rest.starts_with('1') => add(format!("52{}", &rest[1..])),
            10 => add(format!("521{rest}")),
            _ => {}
        }
    }
    if let Some(rest) = digits.strip_prefix("54") {
        match rest.len() {
            11 if rest.starts_with('9') => add(format!("54{}", &rest[1..])),
            10 => add(format!("549{rest}")),
            _ => {}
        }
    }
    variants
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn leads_win_over_contacts_and_contacts_over_staff() {
        let all = Candidates {
            lead: Some(1),
            contact: Some(2),
            staff: Some(3),
        };
        assert_eq!(identify(all), (RelType::Lead, Some(1)));
        assert_eq!(
            identify(Candidates { lead: None, ..all }),
            (RelType::Contact, Some(2))
        );
        assert_eq!(
            identify(Candidates {
                lead: None,
                contact: None,
                staff: Some(3)
            }),
            (RelType::Staff, Some(3))
        );
        assert_eq!(
            identify(Candidates::<u8>::default()),
            (RelType::General, None)
        );
    }

    #[test]
    fn brazil_matches_with_and_without_the_ninth_digit() {
        assert_eq!(
            phone_variants("5511987654321"),
            ["5511987654321", "551187654321"]
        );
        assert_eq!(
            phone_variants("551187654321"),
            ["551187654321", "5511987654321"]
        );
        // A landline (starts 2-5) has no ninth-digit twin.
        assert_eq!(phone_variants("551132654321"), ["551132654321"]);
    }

    #[test]
    fn mexico_and_argentina_mobiles_have_twins() {
        assert_eq!(
            phone_variants("5215512345678"),
            ["5215512345678", "525512345678"]
        );
        assert_eq!(
            phone_variants("5491123456789"),
            ["5491123456789", "541123456789"]
        );
    }

    #[test]
    fn other_countries_have_one_spelling() {
        assert_eq!(phone_variants("254712345678"), ["254712345678"]);
    }

    proptest! {
        /// Twins are symmetric: each variant lists the original among its own.
        #[test]
        fn variants_are_symmetric(digits in "(55|52|54|254|1)[0-9]{8,11}") {
            for variant in phone_variants(&digits) {
                prop_assert!(phone_variants(&variant).contains(&digits), "{} -> {}", digits, variant);
            }
        }
    }
}
