//! Trace-scoped measures: decided once the whole trace is known, from the running accumulators and the
//! kept spans.

use std::collections::BTreeSet;

use ironforge_proto::semconv::Stage;

use super::contracts::{Contract, format_number, quote_list};
use super::state::{Accumulator, TraceState, stage_slot};
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
/// Sessions are compared by their place in the trace's strings, and stages by theirs in [`Stage::ALL`], so
/// no text is compared.
fn duplicated_sessions(contract: &Contract, trace: &TraceState) -> TraceObservation {
    let mut pairs: Vec<(Option<usize>, u32)> = trace
        .spans
        .iter()
        .filter(|s| contract.applies_to(trace.view(s)))
        .filter_map(|span| Some((span.stage.and_then(stage_slot), trace.session_index(span)?)))
        .collect();
    pairs.sort_unstable();
    let duplicated: BTreeSet<&str> = pairs
        .windows(2)
        .filter(|pair| pair[0] == pair[1])
        .filter_map(|pair| trace.string(pair[0].1))
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
    let mut reached = [false; Stage::ALL.len()];
    for slot in trace
        .spans
        .iter()
        .filter_map(|span| span.stage)
        .filter(per_session)
        .filter(|stage| contract.config.scope.stage.is_none_or(|s| s == *stage))
        .filter_map(stage_slot)
    {
        reached[slot] = true;
    }
    let mut pairs: Vec<(usize, u32)> = trace
        .spans
        .iter()
        .filter(|s| contract.applies_to(trace.view(s)))
        .filter_map(|span| {
            let stage = span.stage.filter(per_session)?;
            Some((stage_slot(stage)?, trace.session_index(span)?))
        })
        .collect();
    pairs.sort_unstable();
    pairs.dedup();
    let mut distinct = [0i64; Stage::ALL.len()];
    for (slot, _) in pairs {
        distinct[slot] += 1;
    }
    let mut stages_reached: Vec<(&str, i64)> = (Stage::ALL.iter().zip(reached).zip(distinct))
        .filter(|((_, reached), _)| *reached)
        .map(|((stage, _), sessions)| (stage.as_str(), sessions))
        .collect();
    stages_reached.sort_unstable();
    let mut shortfalls: Vec<(String, i64)> = stages_reached
        .iter()
        .map(|(stage, sessions)| ((*stage).to_owned(), declared - sessions))
        .filter(|(_, short)| *short > 0)
        .collect();
    // A run that declared sessions but reached no stage at all processed none of them.
    if stages_reached.is_empty() && declared > 0 {
        shortfalls.push(("every stage".to_owned(), declared));
    }
    Some(TraceObservation::Short {
        declared,
        shortfalls,
    })
}
