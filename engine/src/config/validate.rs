//! Checks serde cannot express: unique ids, finite thresholds, set rules that name their members.

use std::collections::HashSet;

use super::attributes::{AttributeType, attribute_type, builtin_type};
use super::error::{ConfigError, Located};
use super::{ContractFile, MeasureConfig};

pub(super) fn validate(
    file: &ContractFile,
    text: &str,
    source_name: &str,
) -> Result<(), ConfigError> {
    let source = Source {
        name: source_name,
        text,
    };
    check_completion(file, &source)?;
    check_limits(file, &source)?;
    check_contracts(file, &source)?;
    check_attributes(file, &source)
}

/// The file being checked: its name and its text, where an error finds the line of the offending key.
struct Source<'a> {
    name: &'a str,
    text: &'a str,
}

impl Source<'_> {
    /// An error at the `occurrence`-th (0-based) line whose first key is `key`.
    fn fail(
        &self,
        field: String,
        key: &str,
        occurrence: usize,
        message: String,
    ) -> Result<(), ConfigError> {
        located(
            self.name,
            line_of_key(self.text, key, occurrence),
            field,
            &message,
        )
    }
}

/// The format version and the completion times.
fn check_completion(file: &ContractFile, source: &Source<'_>) -> Result<(), ConfigError> {
    if file.version != 1 {
        return source.fail(
            "version".into(),
            "version",
            0,
            format!("unsupported version {}; expected 1", file.version),
        );
    }
    let completion = &file.completion;
    if !(completion.grace_seconds.is_finite() && completion.grace_seconds >= 0.0) {
        return source.fail(
            "completion.grace_seconds".into(),
            "grace_seconds",
            0,
            "must be a finite number of seconds, 0 or more".into(),
        );
    }
    if !(completion.idle_timeout_seconds.is_finite()
        && completion.idle_timeout_seconds > completion.grace_seconds)
    {
        return source.fail(
            "completion.idle_timeout_seconds".into(),
            "idle_timeout_seconds",
            0,
            "must be a finite number of seconds greater than grace_seconds".into(),
        );
    }
    Ok(())
}

/// The state bounds and the event aggregation window.
fn check_limits(file: &ContractFile, source: &Source<'_>) -> Result<(), ConfigError> {
    let limits = [
        ("max_traces_in_flight", file.limits.max_traces_in_flight),
        ("max_spans_per_trace", file.limits.max_spans_per_trace),
        ("max_bytes_per_trace", file.limits.max_bytes_per_trace),
        ("decided_traces_kept", file.limits.decided_traces_kept),
        (
            "max_violations_per_trace",
            file.limits.max_violations_per_trace,
        ),
        ("max_memory_bytes", file.limits.max_memory_bytes),
        (
            "max_attributes_per_span",
            file.limits.max_attributes_per_span,
        ),
        (
            "max_attribute_value_length",
            file.limits.max_attribute_value_length,
        ),
        (
            "max_attribute_array_length",
            file.limits.max_attribute_array_length,
        ),
    ];
    for (key, value) in limits {
        if value == 0 {
            return source.fail(format!("limits.{key}"), key, 0, "must be at least 1".into());
        }
    }
    let window = file.events.aggregation_window_seconds;
    if !(window.is_finite() && window >= 0.0) {
        return source.fail(
            "events.aggregation_window_seconds".into(),
            "aggregation_window_seconds",
            0,
            "must be a finite number of seconds, 0 or more".into(),
        );
    }
    Ok(())
}

/// Each contract in file order; the first problem found is reported.
fn check_contracts(file: &ContractFile, source: &Source<'_>) -> Result<(), ConfigError> {
    let mut seen = HashSet::new();
    for (index, contract) in file.contracts.iter().enumerate() {
        let at = |field: &str| format!("contracts[{index}].{field}");
        let id_ok = !contract.id.is_empty()
            && contract
                .id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !id_ok {
            return source.fail(
                at("id"),
                "id",
                index,
                "must be non-empty and use only a-z, 0-9 and _".into(),
            );
        }
        if !seen.insert(contract.id.as_str()) {
            return source.fail(
                at("id"),
                "id",
                index,
                format!("duplicate contract id `{}`", contract.id),
            );
        }
        check_contract_body(file, source, index)?;
    }
    Ok(())
}

/// A contract's threshold, scope and measure, each error at its key within the contract.
fn check_contract_body(
    file: &ContractFile,
    source: &Source<'_>,
    index: usize,
) -> Result<(), ConfigError> {
    let contract = &file.contracts[index];
    let at = |field: &str| format!("contracts[{index}].{field}");
    let occurrence = file.contracts[..index]
        .iter()
        .filter(|c| c.id == contract.id)
        .count();
    let key_in_contract = |key: &str| nth_key_after(source.text, &contract.id, occurrence, key);
    if !contract.threshold.is_finite() {
        return located(
            source.name,
            key_in_contract("threshold"),
            at("threshold"),
            "must be a finite number",
        );
    }
    if contract.scope.kind.is_some() && !contract.scope.kinds.is_empty() {
        return located(
            source.name,
            key_in_contract("kinds"),
            at("scope"),
            "give `kind` or `kinds`, not both",
        );
    }
    if let Some(message) = set_problem(&contract.measure)
        .map(str::to_owned)
        .or_else(|| attribute_problem(file, &contract.measure))
    {
        return located(
            source.name,
            key_in_contract("measure"),
            at("measure"),
            &message,
        );
    }
    Ok(())
}

/// Why a set measure's rule is malformed: each takes exactly one non-empty list.
fn set_problem(measure: &MeasureConfig) -> Option<&'static str> {
    match measure {
        MeasureConfig::ValuesOutside(rule)
            if rule.allowed.is_empty() || !rule.required.is_empty() =>
        {
            Some("values_outside takes a non-empty `allowed` list and no `required`")
        }
        MeasureConfig::ValuesMissing(rule)
            if rule.required.is_empty() || !rule.allowed.is_empty() =>
        {
            Some("values_missing takes a non-empty `required` list and no `allowed`")
        }
        _ => None,
    }
}

/// Declared attribute types must agree with the IRONFORGE conventions.
fn check_attributes(file: &ContractFile, source: &Source<'_>) -> Result<(), ConfigError> {
    for (key, declared) in &file.attributes {
        if let Some(builtin) = builtin_type(key).filter(|builtin| builtin != declared) {
            return source.fail(
                format!("attributes.{key}"),
                key,
                0,
                format!(
                    "`{key}` is an IRONFORGE attribute of type {builtin}; it cannot be declared {declared}"
                ),
            );
        }
    }
    Ok(())
}

/// Why a measure cannot read its attribute: not declared, or of a type the measure cannot use.
fn attribute_problem(file: &ContractFile, measure: &MeasureConfig) -> Option<String> {
    let key = measure.attribute()?;
    let (wanted, accepts): (&str, fn(AttributeType) -> bool) = match measure {
        MeasureConfig::ValuesOutside(_) | MeasureConfig::ValuesMissing(_) => {
            ("string or string_array", AttributeType::is_set)
        }
        _ => ("int or double", AttributeType::is_numeric),
    };
    match attribute_type(file, key) {
        None => Some(format!(
            "attribute `{key}` is not an IRONFORGE attribute; declare its type under `attributes:` (e.g. `{key}: double`)"
        )),
        Some(found) if !accepts(found) => Some(format!(
            "attribute `{key}` is declared {found}; this measure reads {wanted}"
        )),
        Some(_) => None,
    }
}

fn located(
    file: &str,
    line: Option<usize>,
    field: String,
    message: &str,
) -> Result<(), ConfigError> {
    Err(ConfigError::Invalid(Located {
        file: file.to_owned(),
        line,
        column: None,
        field: Some(field),
        message: message.to_owned(),
    }))
}

/// 1-based line of the `occurrence`-th (0-based) line whose first key is `key`.
fn line_of_key(text: &str, key: &str, occurrence: usize) -> Option<usize> {
    key_lines(text, key).nth(occurrence)
}

/// 1-based line of the first `key` after the `occurrence`-th contract with id `id`.
fn nth_key_after(text: &str, id: &str, occurrence: usize, key: &str) -> Option<usize> {
    let start = key_lines(text, "id")
        .filter(|&line| {
            text.lines()
                .nth(line - 1)
                .and_then(|l| l.split_once(':'))
                .is_some_and(|(_, value)| value.trim().trim_matches(['"', '\'']) == id)
        })
        .nth(occurrence)?;
    key_lines(text, key).find(|&line| line >= start)
}

pub(super) fn key_lines<'a>(text: &'a str, key: &'a str) -> impl Iterator<Item = usize> + 'a {
    text.lines().enumerate().filter_map(move |(index, line)| {
        let trimmed = line.trim_start().trim_start_matches("- ").trim_start();
        let found = trimmed
            .strip_prefix(key)
            .is_some_and(|rest| rest.trim_start().starts_with(':'))
            || trimmed.starts_with('{') && trimmed.contains(&format!("{key}:"));
        found.then_some(index + 1)
    })
}
