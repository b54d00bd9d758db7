//! Reading the monitored span attributes into a [`SpanRecord`].
//!
//! A monitored attribute of the wrong type is never dropped in silence: the span keeps an explanation naming
//! the attribute, the type it arrived as and the type expected, and the engine reports it.

use std::fmt::Display;
use std::str::FromStr;

use ironforge_proto::otlp::common::any_value::Value;
use ironforge_proto::semconv::{SpanKind, Stage, attr};

use super::quote;
use crate::model::SpanRecord;

/// Applies one attribute; attributes the monitor does not read are ignored.
pub(super) fn apply(record: &mut SpanRecord, key: &str, value: Option<Value>) {
    let facts = &mut record.facts;
    let errors = &mut facts.attribute_errors;
    match key {
        attr::SPAN_KIND => record.kind = keep(errors, one_of(key, value, SpanKind::ALL)),
        attr::STAGE => record.stage = keep(errors, one_of(key, value, Stage::ALL)),
        attr::SESSION_ID => record.session_id = keep(errors, string(key, value)),
        attr::RUN_SESSION_COUNT => facts.run_session_count = keep(errors, integer(key, value)),
        attr::PROCESS_MEMORY_USAGE => facts.memory_usage_bytes = keep(errors, number(key, value)),
        attr::MEMORY_PEAK => facts.memory_peak_bytes = keep(errors, number(key, value)),
        attr::PATTERN_AUTHENTICITY => facts.authenticity = keep(errors, number(key, value)),
        attr::GRAPH_EVENT_TYPES => facts.event_types = keep(errors, strings(key, value)),
        attr::GRAPH_EDGE_INTENTS => facts.edge_intents = keep(errors, strings(key, value)),
        attr::GRAPH_NODE_FEATURE_DIM => facts.node_feature_dim = keep(errors, integer(key, value)),
        attr::GRAPH_EDGE_FEATURE_DIM => facts.edge_feature_dim = keep(errors, integer(key, value)),
        attr::GRAPH_CROSS_SESSION_EDGES => {
            facts.cross_session_edges = keep(errors, integer(key, value));
        }
        attr::HTF_OPEN_CANDLE_READS => {
            facts.htf_open_candle_reads = keep(errors, integer(key, value));
        }
        attr::INSTRUMENT_OVERHEAD => {
            facts.instrument_overhead_seconds = keep(errors, number(key, value));
        }
        attr::INSTRUMENT_OPERATIONS => {
            facts.instrument_operations = keep(errors, integer(key, value));
        }
        _ => {}
    }
}

fn keep<T>(errors: &mut Vec<String>, read: Result<T, String>) -> Option<T> {
    read.map_err(|error| errors.push(error)).ok()
}

fn string(key: &str, value: Option<Value>) -> Result<String, String> {
    match value {
        Some(Value::StringValue(text)) => Ok(text),
        other => Err(type_error(key, "string", other.as_ref())),
    }
}

/// A string naming one member of a convention enum.
fn one_of<T: FromStr + Display>(key: &str, value: Option<Value>, all: &[T]) -> Result<T, String> {
    let text = string(key, value)?;
    text.parse().map_err(|_| {
        let expected: Vec<String> = all.iter().map(ToString::to_string).collect();
        format!(
            "attribute `{key}`: expected one of {}, received string {}",
            expected.join(", "),
            quote(&text)
        )
    })
}

/// A measurement: an int is as good as a double (SDKs of dynamic languages send whole numbers as ints).
fn number(key: &str, value: Option<Value>) -> Result<f64, String> {
    match value {
        Some(Value::IntValue(int)) => Ok(int as f64),
        Some(Value::DoubleValue(double)) if double.is_finite() => Ok(double),
        Some(Value::DoubleValue(double)) => Err(format!(
            "attribute `{key}`: expected a finite double, received double {double}"
        )),
        other => Err(type_error(key, "double or int", other.as_ref())),
    }
}

/// A count or dimension: a double is accepted only when it holds a whole number that fits an i64.
fn integer(key: &str, value: Option<Value>) -> Result<i64, String> {
    match value {
        Some(Value::IntValue(int)) => Ok(int),
        // `i64::MAX as f64` rounds up to 2^63, which is out of range, hence the strict upper bound.
        Some(Value::DoubleValue(double))
            if double.fract() == 0.0 && double >= i64::MIN as f64 && double < i64::MAX as f64 =>
        {
            Ok(double as i64)
        }
        other => Err(type_error(key, "int", other.as_ref())),
    }
}

fn strings(key: &str, value: Option<Value>) -> Result<Vec<String>, String> {
    let array = match value {
        Some(Value::ArrayValue(array)) => array,
        other => return Err(type_error(key, "array of strings", other.as_ref())),
    };
    let mut texts = Vec::with_capacity(array.values.len());
    for (index, element) in array.values.into_iter().enumerate() {
        match element.value {
            Some(Value::StringValue(text)) => texts.push(text),
            other => {
                return Err(format!(
                    "attribute `{key}`: expected array of strings, received array with {} at index {index}",
                    describe(other.as_ref())
                ));
            }
        }
    }
    Ok(texts)
}

/// The explanation of an attribute that arrived with the wrong type.
pub(super) fn type_error(key: &str, expected: &str, received: Option<&Value>) -> String {
    format!(
        "attribute `{key}`: expected {expected}, received {}",
        describe(received)
    )
}

fn describe(value: Option<&Value>) -> String {
    match value {
        None => "an empty value".to_owned(),
        Some(Value::StringValue(text)) => format!("string {}", quote(text)),
        Some(Value::BoolValue(flag)) => format!("bool {flag}"),
        Some(Value::IntValue(int)) => format!("int {int}"),
        Some(Value::DoubleValue(double)) => format!("double {double}"),
        Some(Value::ArrayValue(array)) => format!("array of {} value(s)", array.values.len()),
        Some(Value::KvlistValue(list)) => {
            format!("key-value list of {} entries", list.values.len())
        }
        Some(Value::BytesValue(bytes)) => format!("bytes ({} bytes)", bytes.len()),
        Some(Value::StringValueStrindex(index)) => format!("string-table index {index}"),
    }
}
