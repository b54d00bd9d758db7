//! The runtime form of the contract file: which contract reads which span, and what it observes.

use std::sync::Arc;

use crate::config::{
    ContractConfig, ContractFile, MeasureConfig, NumericAttribute, Profile, SetAttribute,
};
use crate::model::{Facts, SpanRecord};
use crate::verdict::{Category, Severity};

/// Contracts ready to evaluate, built from a validated [`ContractFile`].
#[derive(Debug, Clone)]
pub struct ContractSet {
    pub(crate) contracts: Vec<Contract>,
    pub(crate) file: ContractFile,
}

/// One contract with its profile applied.
#[derive(Debug, Clone)]
pub struct Contract {
    pub id: Arc<str>,
    pub config: ContractConfig,
    /// Severity after the profile: `development` turns every violation into a warning.
    pub severity: Severity,
    /// `blocks_production` after the profile: `development` blocks nothing.
    pub blocks_production: bool,
}

impl ContractSet {
    /// Builds the runtime contracts. `profile` overrides the file's own profile when given.
    pub fn new(file: ContractFile, profile: Option<Profile>) -> Self {
        let profile = profile.unwrap_or(file.profile);
        let contracts = file
            .contracts
            .iter()
            .map(|config| {
                let (severity, blocks_production) = match profile {
                    Profile::Production => (config.severity, config.blocks_production),
                    Profile::Development => (Severity::Warning, false),
                };
                Contract {
                    id: config.id.as_str().into(),
                    config: config.clone(),
                    severity,
                    blocks_production,
                }
            })
            .collect();
        Self { contracts, file }
    }

    /// The contract file this set was built from.
    pub fn file(&self) -> &ContractFile {
        &self.file
    }

    /// Every contract, in file order.
    pub fn contracts(&self) -> &[Contract] {
        &self.contracts
    }
}

impl Contract {
    pub fn category(&self) -> Category {
        self.config.category
    }

    /// Whether the contract reads this span.
    pub fn applies_to(&self, span: &SpanRecord) -> bool {
        let scope = &self.config.scope;
        let kind_ok = match (scope.kind, scope.kinds.as_slice()) {
            (Some(kind), _) => span.kind == Some(kind),
            (None, []) => span.kind.is_some(),
            (None, kinds) => span.kind.is_some_and(|kind| kinds.contains(&kind)),
        };
        kind_ok
            && scope.stage.is_none_or(|stage| span.stage == Some(stage))
            && scope.name.as_deref().is_none_or(|name| span.name == name)
    }

    pub fn holds(&self, observed: f64) -> bool {
        self.config
            .comparison
            .holds(observed, self.config.threshold)
    }

    /// `"< 3 s"`: the requirement, for messages.
    pub fn requirement(&self) -> String {
        let unit = match self.config.unit.as_str() {
            "1" => String::new(),
            unit => format!(" {unit}"),
        };
        format!(
            "{} {}{unit}",
            self.config.comparison.symbol(),
            format_number(self.config.threshold)
        )
    }

    /// What a span-scoped contract observes on `span`, with a description of it; `None` when the contract is
    /// trace-scoped or the span does not carry what it measures.
    pub fn observe_span(&self, span: &SpanRecord) -> Option<(f64, String)> {
        match &self.config.measure {
            MeasureConfig::Duration => {
                let seconds = span.duration_seconds();
                Some((seconds, format!("took {} s", format_number(seconds))))
            }
            MeasureConfig::Attribute(attribute) => {
                let value = numeric(&span.facts, *attribute)?;
                Some((
                    value,
                    format!("has {} = {}", attribute.as_str(), format_number(value)),
                ))
            }
            MeasureConfig::ValuesOutside(rule) => {
                let values = set(&span.facts, rule.attribute)?;
                let outside: Vec<&str> = values
                    .iter()
                    .filter(|value| !rule.allowed.contains(value))
                    .map(String::as_str)
                    .collect();
                Some((
                    outside.len() as f64,
                    format!(
                        "has {} outside the allowed set: [{}]",
                        rule.attribute.as_str(),
                        outside.join(", ")
                    ),
                ))
            }
            MeasureConfig::OverheadPerOperation => {
                let overhead = span.facts.instrument_overhead_seconds?;
                let operations = span.facts.instrument_operations.filter(|&n| n > 0)?;
                let per_operation = overhead / operations as f64;
                Some((
                    per_operation,
                    format!(
                        "spent {} s in instrumentation over {operations} operations ({} s each)",
                        format_number(overhead),
                        format_number(per_operation)
                    ),
                ))
            }
            MeasureConfig::AttributeErrors => {
                let errors = &span.facts.attribute_errors;
                Some((
                    errors.len() as f64,
                    format!("has unusable attributes: {}", errors.join("; ")),
                ))
            }
            MeasureConfig::AttributeMax(_)
            | MeasureConfig::AttributeMean(_)
            | MeasureConfig::ValuesMissing(_)
            | MeasureConfig::DuplicateSessionIds
            | MeasureConfig::MissingSessions => None,
        }
    }
}

/// The value of a numeric fact attribute, when the span carries it.
pub(crate) fn numeric(facts: &Facts, attribute: NumericAttribute) -> Option<f64> {
    let int = |value: Option<i64>| value.map(|v| v as f64);
    match attribute {
        NumericAttribute::MemoryUsage => facts.memory_usage_bytes,
        NumericAttribute::MemoryPeak => facts.memory_peak_bytes,
        NumericAttribute::Authenticity => facts.authenticity,
        NumericAttribute::NodeFeatureDim => int(facts.node_feature_dim),
        NumericAttribute::EdgeFeatureDim => int(facts.edge_feature_dim),
        NumericAttribute::CrossSessionEdges => int(facts.cross_session_edges),
        NumericAttribute::HtfOpenCandleReads => int(facts.htf_open_candle_reads),
        NumericAttribute::RunSessionCount => int(facts.run_session_count),
        NumericAttribute::InstrumentOverhead => facts.instrument_overhead_seconds,
        NumericAttribute::InstrumentOperations => int(facts.instrument_operations),
    }
}

/// The values of a set fact attribute, when the span carries it.
pub(crate) fn set(facts: &Facts, attribute: SetAttribute) -> Option<&[String]> {
    match attribute {
        SetAttribute::EventTypes => facts.event_types.as_deref(),
        SetAttribute::EdgeIntents => facts.edge_intents.as_deref(),
    }
}

/// Numbers in messages: integers without a fraction, others with up to 6 significant decimals.
pub(crate) fn format_number(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{value:.0}")
    } else if value.abs() >= 1.0 {
        format!("{value:.3}")
    } else {
        format!("{value:.6}").trim_end_matches('0').to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Comparison;

    #[test]
    fn comparisons_hold_at_their_boundaries() {
        assert!(!Comparison::Lt.holds(3.0, 3.0));
        assert!(Comparison::Le.holds(3.0, 3.0));
        assert!(!Comparison::Gt.holds(0.87, 0.87));
        assert!(Comparison::Ge.holds(0.87, 0.87));
        assert!(Comparison::Eq.holds(51.0, 51.0));
        assert!(!Comparison::Eq.holds(45.0, 51.0));
        assert!(Comparison::Ne.holds(45.0, 51.0));
    }

    #[test]
    fn numbers_read_naturally() {
        assert_eq!(format_number(3.0), "3");
        assert_eq!(format_number(3.4217), "3.422");
        assert_eq!(format_number(0.87), "0.87");
        assert_eq!(format_number(0.0000331), "0.000033");
    }
}
