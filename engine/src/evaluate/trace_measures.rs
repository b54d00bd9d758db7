//! Trace-scoped measures: decided once the whole trace is known.

use std::collections::{BTreeMap, BTreeSet};

use ironforge_proto::semconv::SpanKind;

use super::contracts::{Contract, format_number, numeric, set};
use crate::config::MeasureConfig;
use crate::model::SpanRecord;

/// What a trace-scoped contract observes over the trace's spans, with a description; `None` when the contract
/// is span-scoped or no span in scope carries what it measures.
pub(crate) fn observe_trace(contract: &Contract, spans: &[SpanRecord]) -> Option<(f64, String)> {
    let in_scope = || spans.iter().filter(|span| contract.applies_to(span));
    match &contract.config.measure {
        MeasureConfig::AttributeMax(attribute) => {
            let max = in_scope()
                .filter_map(|span| numeric(&span.facts, *attribute))
                .reduce(f64::max)?;
            Some((
                max,
                format!("peaked at {} = {}", attribute.as_str(), format_number(max)),
            ))
        }
        MeasureConfig::AttributeMean(attribute) => {
            let values: Vec<f64> = in_scope()
                .filter_map(|span| numeric(&span.facts, *attribute))
                .collect();
            if values.is_empty() {
                return None;
            }
            let mean = values.iter().sum::<f64>() / values.len() as f64;
            Some((
                mean,
                format!(
                    "averaged {} = {} over {} spans",
                    attribute.as_str(),
                    format_number(mean),
                    values.len()
                ),
            ))
        }
        MeasureConfig::ValuesMissing(rule) => {
            let mut seen_any = false;
            let mut seen = BTreeSet::new();
            for values in in_scope().filter_map(|span| set(&span.facts, rule.attribute)) {
                seen_any = true;
                seen.extend(values.iter().map(String::as_str));
            }
            if !seen_any {
                return None;
            }
            let missing: Vec<&str> = rule
                .required
                .iter()
                .map(String::as_str)
                .filter(|value| !seen.contains(value))
                .collect();
            Some((
                missing.len() as f64,
                format!(
                    "never saw {} [{}]",
                    rule.attribute.as_str(),
                    missing.join(", ")
                ),
            ))
        }
        MeasureConfig::DuplicateSessionIds => {
            let mut per_stage: BTreeMap<(&str, &str), usize> = BTreeMap::new();
            for span in in_scope() {
                if let Some(session) = span.session_id.as_deref() {
                    let stage = span.stage.map_or("", |stage| stage.as_str());
                    *per_stage.entry((stage, session)).or_default() += 1;
                }
            }
            let duplicated: BTreeSet<&str> = per_stage
                .iter()
                .filter(|(_, count)| **count > 1)
                .map(|((_, session), _)| *session)
                .collect();
            let list: Vec<&str> = duplicated.iter().copied().collect();
            Some((
                duplicated.len() as f64,
                format!(
                    "has session ids on more than one span of a stage: [{}]",
                    list.join(", ")
                ),
            ))
        }
        MeasureConfig::MissingSessions => {
            let declared = spans
                .iter()
                .filter(|span| span.kind == Some(SpanKind::Run))
                .find_map(|span| span.facts.run_session_count)?;
            let mut distinct: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
            for span in in_scope() {
                if let (Some(stage), Some(session)) = (span.stage, span.session_id.as_deref()) {
                    distinct.entry(stage.as_str()).or_default().insert(session);
                }
            }
            let shortfalls: Vec<(&str, i64)> = distinct
                .iter()
                .map(|(stage, sessions)| (*stage, declared - sessions.len() as i64))
                .filter(|(_, short)| *short > 0)
                .collect();
            let worst = shortfalls
                .iter()
                .map(|(_, short)| *short)
                .max()
                .unwrap_or(0);
            let detail: Vec<String> = shortfalls
                .iter()
                .map(|(stage, short)| format!("{stage} short by {short}"))
                .collect();
            Some((
                worst as f64,
                format!(
                    "declared {declared} sessions; distinct sessions per stage: [{}]",
                    detail.join(", ")
                ),
            ))
        }
        MeasureConfig::Duration
        | MeasureConfig::Attribute(_)
        | MeasureConfig::ValuesOutside(_)
        | MeasureConfig::OverheadPerOperation
        | MeasureConfig::AttributeErrors => None,
    }
}
