//! CSV import of WhatsApp contacts: the column mapping checked against the
//! header row, and each data row read into a contact or the reasons it cannot be one.
//!
//! Files are RFC 4180 CSV (comma-separated, `"` quotes a field, `""` inside a
//! quoted field is one quote, a quoted field may hold commas and line breaks),
//! UTF-8 with or without a byte-order mark. Rows are numbered as a spreadsheet
//! shows them: the header is row 1, the n-th record after it row n + 1 (a
//! record whose quoted field holds a line break is still one row; blank lines
//! are no rows).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono_tz::Tz;
use csv::ByteRecord;
use serde::{Deserialize, Serialize};

use crate::phone::{Country, NormalizedPhone, PhoneError};
use crate::time_zone;

/// Longest values a row may carry (longer ones are reported, not cut).
pub const MAX_PHONE_CHARS: usize = 50;
pub const MAX_NAME_CHARS: usize = 200;
pub const MAX_LANGUAGE_CHARS: usize = 35;
pub const MAX_LABEL_CHARS: usize = 50;
pub const MAX_LABELS: usize = 50;
pub const MAX_CUSTOM_FIELD_CHARS: usize = 1_000;
/// Longest custom field key (`custom_fields.<key>`).
pub const MAX_CUSTOM_KEY_CHARS: usize = 64;

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Where a CSV column goes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Target {
    Phone,
    Name,
    Language,
    TimeZone,
    /// Several labels in one field, split on the import's separator.
    Labels,
    /// One custom field, by its key.
    CustomField(String),
}

impl FromStr for Target {
    type Err = ();

    fn from_str(value: &str) -> Result<Self, ()> {
        Ok(match value {
            "phone" => Self::Phone,
            "name" => Self::Name,
            "language" => Self::Language,
            "time_zone" => Self::TimeZone,
            "labels" => Self::Labels,
            other => {
                let key = other.strip_prefix("custom_fields.").ok_or(())?;
                let valid = !key.is_empty()
                    && key.len() <= MAX_CUSTOM_KEY_CHARS
                    && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
                if !valid {
                    return Err(());
                }
                Self::CustomField(key.to_owned())
            }
        })
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Phone => f.write_str("phone"),
            Self::Name => f.write_str("name"),
            Self::Language => f.write_str("language"),
            Self::TimeZone => f.write_str("time_zone"),
            Self::Labels => f.write_str("labels"),
            Self::CustomField(key) => write!(f, "custom_fields.{key}"),
        }
    }
}

/// What to do with a row whose phone is already a contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnDuplicate {
    /// The row's values replace the contact's (labels and custom fields are added).
    Update,
    /// The contact stays as it is.
    Skip,
}

impl OnDuplicate {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Update => "update",
            Self::Skip => "skip",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "update" => Some(Self::Update),
            "skip" => Some(Self::Skip),
            _ => None,
        }
    }
}

/// The header row of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub names: Vec<String>,
    /// Where the first data row starts reading (after the header, any
    /// byte-order mark, and the header's line end, except the `\n` of a
    /// `\r\n`, which a reader takes for a blank line).
    pub end: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    #[error("the file is empty: the first row must name the columns")]
    Empty,
    #[error("the header row is too long")]
    TooLong,
    #[error("the header row is not UTF-8 text")]
    NotUtf8,
}

/// Reads the header row from the start of a file. `complete` says whether
/// `start` is the whole file; when it is not, the header must end within it.
pub fn read_header(start: &[u8], complete: bool) -> Result<Header, HeaderError> {
    let skip = if start.starts_with(BOM) { BOM.len() } else { 0 };
    let data = &start[skip..];
    let mut reader = reader(data);
    let mut record = ByteRecord::new();
    if !reader
        .read_byte_record(&mut record)
        .map_err(|_| HeaderError::NotUtf8)?
    {
        return Err(HeaderError::Empty);
    }
    let end = reader.position().byte();
    let consumed = usize::try_from(end).unwrap_or(usize::MAX);
    // The reader stops at the end of what it was given as at a line end: a
    // header that reaches the end of a partial start may go on beyond it.
    if !complete && consumed >= data.len() && !data.ends_with(b"\n") && !data.ends_with(b"\r") {
        return Err(HeaderError::TooLong);
    }
    let names = record
        .iter()
        .map(|field| std::str::from_utf8(field).map(|name| name.trim().to_owned()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| HeaderError::NotUtf8)?;
    Ok(Header {
        names,
        end: end + skip as u64,
    })
}

/// A CSV reader as imports read files: RFC 4180, no header handling (the
/// caller knows where the header is), rows of any width (reported per row).
pub fn reader<R: std::io::Read>(input: R) -> csv::Reader<R> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(input)
}

/// One mapped column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Column {
    pub index: usize,
    pub header: String,
    /// The target as written in the mapping (`phone`, `custom_fields.tier`).
    pub target: String,
}

/// The mapping checked against a header: which field of a row goes where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mapping {
    /// How many fields the header has; every row must have as many.
    pub width: usize,
    pub columns: Vec<Column>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MappingError {
    #[error("`{0}` is not a column of the file")]
    UnknownColumn(String),
    #[error("`{0}` names more than one column of the file")]
    AmbiguousColumn(String),
    #[error(
        "`{target}` (for `{column}`) is not phone, name, language, time_zone, labels or custom_fields.<key>"
    )]
    UnknownTarget { column: String, target: String },
    #[error("more than one column is mapped to `{0}`")]
    DuplicateTarget(String),
    #[error("no column is mapped to `phone`")]
    NoPhoneColumn,
}

impl MappingError {
    /// The mapping entry at fault, if one is.
    pub fn column(&self) -> Option<&str> {
        match self {
            Self::UnknownColumn(column) | Self::AmbiguousColumn(column) => Some(column),
            Self::UnknownTarget { column, .. } => Some(column),
            Self::DuplicateTarget(_) | Self::NoPhoneColumn => None,
        }
    }
}

impl Mapping {
    /// Checks `requested` (header name -> target) against `header`; every
    /// problem is reported, not only the first.
    pub fn resolve(
        header: &Header,
        requested: &[(String, String)],
    ) -> Result<Self, Vec<MappingError>> {
        let mut errors = Vec::new();
        let mut columns = Vec::new();
        let mut targets: BTreeMap<Target, usize> = BTreeMap::new();
        for (name, target_name) in requested {
            let mut found = header
                .names
                .iter()
                .enumerate()
                .filter(|(_, header)| *header == name.trim());
            let index = match (found.next(), found.next()) {
                (Some((index, _)), None) => index,
                (None, _) => {
                    errors.push(MappingError::UnknownColumn(name.clone()));
                    continue;
                }
                (Some(_), Some(_)) => {
                    errors.push(MappingError::AmbiguousColumn(name.clone()));
                    continue;
                }
            };
            let Ok(target) = target_name.parse::<Target>() else {
                errors.push(MappingError::UnknownTarget {
                    column: name.clone(),
                    target: target_name.clone(),
                });
                continue;
            };
            *targets.entry(target.clone()).or_default() += 1;
            columns.push(Column {
                index,
                header: header.names[index].clone(),
                target: target.to_string(),
            });
        }
        errors.extend(
            targets
                .iter()
                .filter(|(_, count)| **count > 1)
                .map(|(target, _)| MappingError::DuplicateTarget(target.to_string())),
        );
        if !targets.contains_key(&Target::Phone)
            && !errors
                .iter()
                .any(|error| matches!(error, MappingError::UnknownTarget { target, .. } if target == "phone"))
        {
            errors.push(MappingError::NoPhoneColumn);
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        columns.sort_by_key(|column| column.index);
        Ok(Self {
            width: header.names.len(),
            columns,
        })
    }
}

/// How rows are read, besides the mapping.
#[derive(Debug, Clone, Copy)]
pub struct RowOptions {
    /// For national numbers (`0712 345678`).
    pub default_country: Option<Country>,
    /// Between labels in a `labels` field: `;` or `,`.
    pub label_separator: char,
}

/// A row that can become a contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactRow {
    /// As the file wrote it (trimmed).
    pub phone: String,
    pub phone_normalized: NormalizedPhone,
    pub name: Option<String>,
    pub language: Option<String>,
    /// The row's own time zone, when it has one.
    pub time_zone: Option<String>,
    /// The zone of the phone's country, for a new contact without its own
    /// (UTC for numbers of no single country).
    pub default_time_zone: String,
    pub labels: Vec<String>,
    pub custom_fields: BTreeMap<String, String>,
}

impl ContactRow {
    /// A later row with the same phone, under `update`: its values win, its
    /// labels and custom fields are added, its empty cells change nothing (as
    /// it would update the stored contact).
    pub fn absorb(&mut self, later: ContactRow) {
        self.phone = later.phone;
        self.name = later.name.or(self.name.take());
        self.language = later.language.or(self.language.take());
        self.time_zone = later.time_zone.or(self.time_zone.take());
        for label in later.labels {
            if !self.labels.contains(&label) {
                self.labels.push(label);
            }
        }
        self.custom_fields.extend(later.custom_fields);
    }
}

/// Why a row, or one of its fields, cannot be imported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// The header of the field at fault; `None` for the row as a whole.
    pub column: Option<String>,
    pub reason: String,
}

/// Reads one data row. Every field at fault is reported.
pub fn parse_row(
    record: &ByteRecord,
    mapping: &Mapping,
    options: RowOptions,
) -> Result<ContactRow, Vec<RowError>> {
    if record.len() != mapping.width {
        return Err(vec![RowError {
            column: None,
            reason: format!(
                "the row has {} fields, the header {}",
                record.len(),
                mapping.width
            ),
        }]);
    }
    let mut errors = Vec::new();
    let mut phone = None;
    let mut name = None;
    let mut language = None;
    let mut time_zone = None;
    let mut labels = Vec::new();
    let mut custom_fields = BTreeMap::new();
    for column in &mapping.columns {
        let mut fail = |reason: String| {
            errors.push(RowError {
                column: Some(column.header.clone()),
                reason,
            });
        };
        let Some(value) = record.get(column.index) else {
            continue;
        };
        let Ok(value) = std::str::from_utf8(value) else {
            fail("is not UTF-8 text".into());
            continue;
        };
        let value = value.trim();
        let Ok(target) = column.target.parse::<Target>() else {
            continue;
        };
        match target {
            Target::Phone => match phone_of(value, options.default_country) {
                Ok(parsed) => phone = Some((value.to_owned(), parsed)),
                Err(reason) => fail(reason),
            },
            Target::Name => match bounded(value, MAX_NAME_CHARS) {
                Ok(value) => name = value,
                Err(reason) => fail(reason),
            },
            Target::Language => match bounded(value, MAX_LANGUAGE_CHARS) {
                Ok(Some(value)) if !is_language_tag(&value) => {
                    fail(format!("`{value}` is not a language tag (e.g. en, pt_BR)"));
                }
                Ok(value) => language = value,
                Err(reason) => fail(reason),
            },
            Target::TimeZone => match value {
                "" => {}
                zone => match zone.parse::<Tz>() {
                    Ok(zone) => time_zone = Some(zone.name().to_owned()),
                    Err(_) => fail(format!("`{}` is not an IANA time zone", shorten(zone))),
                },
            },
            Target::Labels => match labels_of(value, options.label_separator) {
                Ok(value) => labels = value,
                Err(reason) => fail(reason),
            },
            Target::CustomField(key) => match bounded(value, MAX_CUSTOM_FIELD_CHARS) {
                Ok(Some(value)) => {
                    custom_fields.insert(key, value);
                }
                Ok(None) => {}
                Err(reason) => fail(reason),
            },
        }
    }
    match phone {
        Some((phone, phone_normalized)) if errors.is_empty() => {
            let default_time_zone = time_zone::of_phone(&phone_normalized)
                .map_or_else(|| "UTC".to_owned(), |zone| zone.name().to_owned());
            Ok(ContactRow {
                phone,
                phone_normalized,
                name,
                language,
                time_zone,
                default_time_zone,
                labels,
                custom_fields,
            })
        }
        _ => Err(errors),
    }
}

fn phone_of(value: &str, country: Option<Country>) -> Result<NormalizedPhone, String> {
    if value.is_empty() {
        return Err("the phone is missing".into());
    }
    if value.chars().count() > MAX_PHONE_CHARS {
        return Err(format!("is longer than {MAX_PHONE_CHARS} characters"));
    }
    NormalizedPhone::parse(value, country).map_err(|error| match error {
        PhoneError::NeedsCountry(_) => {
            format!("`{value}` is a national number; set default_country or write it with +")
        }
        PhoneError::Invalid(_) | PhoneError::UnknownCountry(_) => {
            format!("`{value}` is not a phone number")
        }
    })
}

/// `None` for an empty field; an error past `max` characters.
fn bounded(value: &str, max: usize) -> Result<Option<String>, String> {
    if value.chars().count() > max {
        return Err(format!("is longer than {max} characters"));
    }
    Ok((!value.is_empty()).then(|| value.to_owned()))
}

fn labels_of(value: &str, separator: char) -> Result<Vec<String>, String> {
    let mut labels: Vec<String> = Vec::new();
    for label in value
        .split(separator)
        .map(str::trim)
        .filter(|l| !l.is_empty())
    {
        if label.chars().count() > MAX_LABEL_CHARS {
            return Err(format!(
                "the label `{}` is longer than {MAX_LABEL_CHARS} characters",
                shorten(label)
            ));
        }
        if !labels.iter().any(|known| known == label) {
            labels.push(label.to_owned());
        }
    }
    if labels.len() > MAX_LABELS {
        return Err(format!("has more than {MAX_LABELS} labels"));
    }
    Ok(labels)
}

/// `en`, `pt-BR`, `pt_BR`, `zh-Hant-TW`: a primary language and subtags.
fn is_language_tag(value: &str) -> bool {
    let mut parts = value.split(['-', '_']);
    let primary = parts.next().unwrap_or_default();
    (2..=3).contains(&primary.len())
        && primary.bytes().all(|b| b.is_ascii_alphabetic())
        && parts.all(|part| {
            (1..=8).contains(&part.len()) && part.bytes().all(|b| b.is_ascii_alphanumeric())
        })
}

/// A value quoted in a reason, cut so a reason stays short.
fn shorten(value: &str) -> String {
    const MAX: usize = 60;
    if value.chars().count() <= MAX {
        value.to_owned()
    } else {
        format!("{}…", value.chars().take(MAX).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(text: &str) -> Header {
        read_header(text.as_bytes(), true).unwrap()
    }

    fn mapping(head: &Header, pairs: &[(&str, &str)]) -> Mapping {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect();
        Mapping::resolve(head, &pairs).unwrap()
    }

    fn kenya() -> RowOptions {
        RowOptions {
            default_country: Some("KE".parse().unwrap()),
            label_separator: ';',
        }
    }

    /// The data rows of `text` (after its header), each with its row number.
    fn rows(text: &str, mapping: &Mapping) -> Vec<(u64, Result<ContactRow, Vec<RowError>>)> {
        let head = read_header(text.as_bytes(), true).unwrap();
        let start = usize::try_from(head.end).unwrap();
        let mut reader = reader(&text.as_bytes()[start..]);
        let mut record = ByteRecord::new();
        let mut out = Vec::new();
        while reader.read_byte_record(&mut record).unwrap() {
            // The header is row 1; `record()` counts the records read so far.
            let row = reader.position().record() + 1;
            out.push((row, parse_row(&record, mapping, kenya())));
        }
        out
    }

    #[test]
    fn phones_in_several_spellings_are_one_number() {
        let text = "Phone,Name\n+254 712 345 678,A\n0712345678,B\n254712345678,C\n";
        let map = mapping(&header(text), &[("Phone", "phone"), ("Name", "name")]);
        let parsed = rows(text, &map);
        assert_eq!(parsed.len(), 3);
        for (_, row) in &parsed {
            assert_eq!(
                row.as_ref().unwrap().phone_normalized.as_str(),
                "254712345678"
            );
        }
        let first = parsed[0].1.as_ref().unwrap();
        assert_eq!(first.phone, "+254 712 345 678");
        assert_eq!(first.default_time_zone, "Africa/Nairobi");
        assert_eq!(first.time_zone, None);
    }

    /// RFC 4180 §2, rules 6 and 7: `"b,c"` is one field holding a comma, and
    /// `""` inside a quoted field is one quote, as in the RFC's own example
    /// `"aaa","b""bb","ccc"`.
    #[test]
    fn quoted_fields_keep_their_commas_and_doubled_quotes() {
        let text = "phone,name,company\n\
                    +254712345678,\"Otieno, Jane\",\"b\"\"bb\"\n";
        let map = mapping(
            &header(text),
            &[
                ("phone", "phone"),
                ("name", "name"),
                ("company", "custom_fields.company"),
            ],
        );
        let parsed = rows(text, &map);
        let row = parsed[0].1.as_ref().unwrap();
        assert_eq!(row.name.as_deref(), Some("Otieno, Jane"));
        assert_eq!(row.custom_fields["company"], "b\"bb");
    }

    /// RFC 4180 §2 rule 6: a quoted field may hold a line break (here a
    /// CRLF, as spreadsheets write them); the record is still one row.
    #[test]
    fn a_line_break_in_a_quoted_field_is_still_one_row() {
        let text = "phone,name\r\n+254712345678,\"two\r\nlines\"\r\n\r\nnot-a-phone,X\r\n";
        let map = mapping(&header(text), &[("phone", "phone"), ("name", "name")]);
        let parsed = rows(text, &map);
        assert_eq!(parsed[0].0, 2);
        assert_eq!(
            parsed[0].1.as_ref().unwrap().name.as_deref(),
            Some("two\r\nlines")
        );
        assert_eq!(parsed[1].0, 3);
        assert_eq!(
            parsed[1].1.as_ref().unwrap_err()[0].column.as_deref(),
            Some("phone")
        );
    }

    #[test]
    fn every_bad_field_of_a_row_is_reported_by_column() {
        let text =
            "tel,tz,lang,name\nabc,Mars/Olympus,english!,\n+254712345678,Europe/Paris,pt_BR,Ann\n";
        let map = mapping(
            &header(text),
            &[
                ("tel", "phone"),
                ("tz", "time_zone"),
                ("lang", "language"),
                ("name", "name"),
            ],
        );
        let parsed = rows(text, &map);
        let errors = parsed[0].1.as_ref().unwrap_err();
        let columns: Vec<_> = errors
            .iter()
            .map(|e| e.column.as_deref().unwrap())
            .collect();
        assert_eq!(columns, ["tel", "tz", "lang"]);
        assert!(
            errors[1].reason.contains("not an IANA time zone"),
            "{errors:?}"
        );
        let good = parsed[1].1.as_ref().unwrap();
        assert_eq!(good.time_zone.as_deref(), Some("Europe/Paris"));
        assert_eq!(good.language.as_deref(), Some("pt_BR"));
    }

    #[test]
    fn too_long_values_and_wrong_widths_are_refused() {
        let long = "x".repeat(MAX_NAME_CHARS + 1);
        let text = format!("phone,name\n+254712345678,{long}\n+254712345678\n");
        let map = mapping(&header(&text), &[("phone", "phone"), ("name", "name")]);
        let parsed = rows(&text, &map);
        let errors = parsed[0].1.as_ref().unwrap_err();
        assert_eq!(errors[0].column.as_deref(), Some("name"));
        assert_eq!(errors[0].reason, "is longer than 200 characters");
        let errors = parsed[1].1.as_ref().unwrap_err();
        assert_eq!(errors[0].column, None);
        assert_eq!(errors[0].reason, "the row has 1 fields, the header 2");
    }

    #[test]
    fn labels_split_trim_and_deduplicate() {
        let text = "phone,tags\n+254712345678, vip ;gold;;vip\n";
        let map = mapping(&header(text), &[("phone", "phone"), ("tags", "labels")]);
        let row = rows(text, &map).remove(0).1.unwrap();
        assert_eq!(row.labels, ["vip", "gold"]);
    }

    #[test]
    fn a_later_duplicate_wins_but_keeps_what_it_leaves_empty() {
        let text = "phone,name,tags,lang\n+254712345678,Old,a,en\n0712345678,New,b,\n";
        let map = mapping(
            &header(text),
            &[
                ("phone", "phone"),
                ("name", "name"),
                ("tags", "labels"),
                ("lang", "language"),
            ],
        );
        let mut parsed = rows(text, &map).into_iter().map(|(_, row)| row.unwrap());
        let mut first = parsed.next().unwrap();
        first.absorb(parsed.next().unwrap());
        assert_eq!(first.name.as_deref(), Some("New"));
        assert_eq!(first.phone, "0712345678");
        assert_eq!(first.language.as_deref(), Some("en"));
        assert_eq!(first.labels, ["a", "b"]);
    }

    #[test]
    fn the_mapping_must_name_real_columns_and_a_phone() {
        let head = header("\u{feff}Phone,Name,Name\n");
        assert_eq!(head.names, ["Phone", "Name", "Name"]);
        let pairs = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(a, b)| ((*a).into(), (*b).into()))
                .collect()
        };
        let errors = Mapping::resolve(
            &head,
            &pairs(&[
                ("Mobile", "phone"),
                ("Name", "name"),
                ("Phone", "custom_fields.a b"),
            ]),
        )
        .unwrap_err();
        assert_eq!(
            errors,
            [
                MappingError::UnknownColumn("Mobile".into()),
                MappingError::AmbiguousColumn("Name".into()),
                MappingError::UnknownTarget {
                    column: "Phone".into(),
                    target: "custom_fields.a b".into()
                },
                MappingError::NoPhoneColumn,
            ]
        );
        let ok = Mapping::resolve(&head, &pairs(&[("Phone", "phone")])).unwrap();
        assert_eq!(ok.width, 3);
        assert_eq!(ok.columns[0].index, 0);
    }

    #[test]
    fn the_header_must_end_within_the_first_part_of_the_file() {
        assert_eq!(read_header(b"", true), Err(HeaderError::Empty));
        assert_eq!(read_header(b"phone,na", false), Err(HeaderError::TooLong));
        let head = read_header(b"\xEF\xBB\xBFphone,name\r\n+1", false).unwrap();
        // Up to the `\r`: the reader skips the `\n` left over as a blank line.
        assert_eq!(head.end, 3 + 11);
        assert_eq!(read_header(b"phone,name", true).unwrap().end, 10);
    }
}
