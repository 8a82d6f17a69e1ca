//! A mapping's optional condition on the event: a field equals a value, is
//! one of several, or is greater than a number or a time. "Invoices over
//! 1,000 only", "tickets of priority high or urgent".

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::schedule::parse_time;
use super::{check_path, field};

/// The most values an `in` condition may list.
pub const MAX_VALUES: usize = 100;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({"field": "invoice.total", "op": "greater_than", "value": 1000})))]
#[serde(deny_unknown_fields)]
pub struct Condition {
    /// A field path of the event's record, e.g. `invoice.total`.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 200))]
    pub field: String,
    pub op: Op,
    /// `equals`: a string, number or boolean; `in`: a list of them;
    /// `greater_than`: a number, or a date / RFC 3339 time.
    pub value: Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Op {
    Equals,
    In,
    GreaterThan,
}

/// A scalar's text, so `5` equals `"5"` (CRMs send numbers either way).
fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.trim().to_owned()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(number) => number.as_f64(),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}

fn equal(a: &Value, b: &Value) -> bool {
    match (number(a), number(b)) {
        (Some(x), Some(y)) => (x - y).abs() < f64::EPSILON,
        _ => scalar(a).is_some() && scalar(a) == scalar(b),
    }
}

impl Condition {
    /// Problems as (sub-field, message), e.g. `("value", "must be a list")`.
    pub fn validate(&self, roots: &[&str]) -> Vec<(&'static str, String)> {
        let mut problems = Vec::new();
        if let Err(problem) = check_path(&self.field, roots) {
            problems.push(("field", problem));
        }
        let valid = match self.op {
            Op::Equals => scalar(&self.value).is_some(),
            Op::In => self.value.as_array().is_some_and(|values| {
                !values.is_empty()
                    && values.len() <= MAX_VALUES
                    && values.iter().all(|value| scalar(value).is_some())
            }),
            Op::GreaterThan => number(&self.value).is_some() || parse_time(&self.value).is_some(),
        };
        if !valid {
            problems.push((
                "value",
                match self.op {
                    Op::Equals => "must be a string, number or boolean".to_owned(),
                    Op::In => {
                        format!("must be a list of 1 to {MAX_VALUES} strings, numbers or booleans")
                    }
                    Op::GreaterThan => "must be a number, a date or an RFC 3339 time".to_owned(),
                },
            ));
        }
        problems
    }

    /// Whether `record` meets the condition (a missing field never does).
    pub fn holds(&self, record: &Value) -> bool {
        let Some(actual) = field(record, &self.field) else {
            return false;
        };
        match self.op {
            Op::Equals => equal(actual, &self.value),
            Op::In => self
                .value
                .as_array()
                .is_some_and(|values| values.iter().any(|value| equal(actual, value))),
            Op::GreaterThan => match (number(actual), number(&self.value)) {
                (Some(x), Some(y)) => x > y,
                _ => match (parse_time(actual), parse_time(&self.value)) {
                    (Some(x), Some(y)) => x > y,
                    _ => false,
                },
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn condition(value: Value) -> Condition {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn conditions_compare_numbers_text_and_times() {
        let record = json!({"invoice": {"total": "1250.50", "status": "unpaid", "due_date": "2026-12-10"},
            "ticket": {"priority": "high"}});
        assert!(
            condition(json!({"field": "invoice.total", "op": "greater_than", "value": 1000}))
                .holds(&record)
        );
        assert!(
            !condition(json!({"field": "invoice.total", "op": "greater_than", "value": 2000}))
                .holds(&record)
        );
        assert!(
            condition(json!({"field": "invoice.status", "op": "equals", "value": "unpaid"}))
                .holds(&record)
        );
        assert!(
            condition(json!({"field": "invoice.total", "op": "equals", "value": 1250.5}))
                .holds(&record)
        );
        assert!(
            condition(json!({"field": "ticket.priority", "op": "in", "value": ["high", "urgent"]}))
                .holds(&record)
        );
        assert!(
            !condition(json!({"field": "ticket.priority", "op": "in", "value": ["low"]}))
                .holds(&record)
        );
        assert!(
            condition(
                json!({"field": "invoice.due_date", "op": "greater_than", "value": "2026-12-01"})
            )
            .holds(&record)
        );
        assert!(
            !condition(json!({"field": "invoice.missing", "op": "equals", "value": "x"}))
                .holds(&record)
        );
    }

    #[test]
    fn a_condition_names_what_is_wrong() {
        let bad = condition(json!({"field": "lead.name", "op": "in", "value": "high"}));
        let problems = bad.validate(&["ticket"]);
        let fields: Vec<_> = problems.iter().map(|(field, _)| *field).collect();
        assert_eq!(fields, ["field", "value"]);
        assert!(
            condition(json!({"field": "ticket.priority", "op": "equals", "value": "high"}))
                .validate(&["ticket"])
                .is_empty()
        );
    }
}
