//! Trace-scoped measures: decided once the whole trace is known, from the running accumulators and the
//! kept spans.

use std::collections::{BTreeMap, BTreeSet};

use ironforge_proto::semconv::Stage;

use super::contracts::{Contract, format_number, quote_list};
use super::state::{Accumulator, TraceState};
use crate::config::{MeasureConfig, StageWork};

/// What a trace-scoped contract observed, with what is needed to describe it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum TraceObservation {
    Max(f64),
    Mean {
        mean: f64,
        count: u64,
    },
    Missing(Vec<String>),
    Duplicated(Vec<String>),
    Short {
        declared: i64,
        shortfalls: Vec<(String, i64)>,
    },
}

impl TraceObservation {
    pub(super) fn value(&self) -> f64 {
        match self {
            TraceObservation::Max(value) => *value,
            TraceObservation::Mean { mean, .. } => *mean,
            TraceObservation::Missing(missing) => missing.len() as f64,
            TraceObservation::Duplicated(duplicated) => duplicated.len() as f64,
            TraceObservation::Short { shortfalls, .. } => shortfalls
                .iter()
                .map(|(_, short)| *short)
                .max()
                .unwrap_or(0) as f64,
        }
    }

    /// What the run showed, in words: built only for a violation.
    pub(super) fn describe(&self, contract: &Contract) -> String {
        let list = |items: &[String]| {
            let refs: Vec<&str> = items.iter().map(String::as_str).collect();
            quote_list(&refs)
        };
        let attribute = match &contract.config.measure {
            MeasureConfig::AttributeMax(key) | MeasureConfig::AttributeMean(key) => key.as_str(),
            MeasureConfig::ValuesMissing(rule) => rule.attribute.as_str(),
            _ => "",
        };
        match self {
            TraceObservation::Max(max) => {
                format!("peaked at {attribute} = {}", format_number(*max))
            }
            TraceObservation::Mean { mean, count } => format!(
                "averaged {attribute} = {} over {count} spans",
                format_number(*mean)
            ),
            TraceObservation::Missing(missing) => {
                format!("never saw {attribute} [{}]", list(missing))
            }
            TraceObservation::Duplicated(duplicated) => format!(
                "has session ids on more than one span of a stage: [{}]",
                list(duplicated)
            ),
            TraceObservation::Short {
                declared,
                shortfalls,
            } => {
                let detail: Vec<String> = shortfalls
                    .iter()
                    .map(|(stage, short)| format!("{stage} short by {short}"))
                    .collect();
                format!(
                    "declared {declared} sessions; distinct sessions per stage: [{}]",
                    detail.join(", ")
                )
            }
        }
    }
}

/// What a trace-scoped contract observes over the trace; `None` when the contract is span-scoped or no span
/// in scope carried what it measures.
pub(crate) fn observe_trace(
    contract: &Contract,
    accumulator: &Accumulator,
    trace: &TraceState,
) -> Option<TraceObservation> {
    match (&contract.config.measure, accumulator) {
        (MeasureConfig::AttributeMax(_), Accumulator::Max(max)) => max.map(TraceObservation::Max),
        (MeasureConfig::AttributeMean(_), Accumulator::Mean { sum, count }) => {
            (*count > 0).then(|| TraceObservation::Mean {
                mean: sum / *count as f64,
                count: *count,
            })
        }
        (MeasureConfig::ValuesMissing(rule), Accumulator::Seen(seen)) => {
            let seen = seen.as_ref()?;
            let missing = rule
                .required
                .iter()
                .zip(seen)
                .filter(|(_, seen)| !**seen)
                .map(|(member, _)| member.clone())
                .collect();
            Some(TraceObservation::Missing(missing))
        }
        (MeasureConfig::DuplicateSessionIds, _) => Some(duplicated_sessions(contract, trace)),
        (MeasureConfig::MissingSessions, _) => missing_sessions(contract, trace),
        _ => None,
    }
}

/// The sessions a trace holds more than once within one stage, among the spans the contract applies to.
fn duplicated_sessions(contract: &Contract, trace: &TraceState) -> TraceObservation {
    let mut per_stage: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for span in trace
        .spans
        .iter()
        .filter(|s| contract.applies_to(trace.view(s)))
    {
        if let Some(session) = trace.session(span) {
            let stage = span.stage.map_or("", |stage| stage.as_str());
            *per_stage.entry((stage, session)).or_default() += 1;
        }
    }
    let duplicated: BTreeSet<&str> = per_stage
        .iter()
        .filter(|(_, count)| **count > 1)
        .map(|((_, session), _)| *session)
        .collect();
    TraceObservation::Duplicated(duplicated.into_iter().map(str::to_owned).collect())
}

/// How many sessions each stage the run reached is short of those the run declared; `None` when it
/// declared none.
fn missing_sessions(contract: &Contract, trace: &TraceState) -> Option<TraceObservation> {
    let declared = trace.declared_sessions?;
    // Every stage the run reached starts at zero, so a stage span with no session under it is short
    // by all the run declared rather than absent from the count. A stage the contract file says works
    // over the whole run has no sessions to count.
    let stages = &trace.contracts.file().completion.stages;
    let per_session = |stage: &Stage| stages.get(stage) != Some(&StageWork::WholeRun);
    let mut distinct: BTreeMap<&str, BTreeSet<&str>> = trace
        .spans
        .iter()
        .filter_map(|span| span.stage)
        .filter(per_session)
        .filter(|stage| contract.config.scope.stage.is_none_or(|s| s == *stage))
        .map(|stage| (stage.as_str(), BTreeSet::new()))
        .collect();
    for span in trace
        .spans
        .iter()
        .filter(|s| contract.applies_to(trace.view(s)))
    {
        if let (Some(stage), Some(session)) = (span.stage, trace.session(span))
            && per_session(&stage)
        {
            distinct.entry(stage.as_str()).or_default().insert(session);
        }
    }
    let mut shortfalls: Vec<(String, i64)> = distinct
        .iter()
        .map(|(stage, sessions)| ((*stage).to_owned(), declared - sessions.len() as i64))
        .filter(|(_, short)| *short > 0)
        .collect();
    // A run that declared sessions but reached no stage at all processed none of them.
    if distinct.is_empty() && declared > 0 {
        shortfalls.push(("every stage".to_owned(), declared));
    }
    Some(TraceObservation::Short {
        declared,
        shortfalls,
    })
}
