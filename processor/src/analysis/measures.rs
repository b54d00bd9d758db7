//! What a decided run adds to the history: its measures, named as the history and the regression metric
//! label spell them, and which way each gets worse.

use ironforge_analysis::TraceAnalysis;
use ironforge_analysis::regression::Direction;
use ironforge_engine::config::Comparison;
use ironforge_engine::{ContractSet, DecidedTrace};
use ironforge_history::{Measure, RunRecord};

/// The run's wall time.
pub const RUN_DURATION: &str = "run.duration_seconds";
/// The run's critical path.
pub const CRITICAL_PATH: &str = "run.critical_path_seconds";
/// The largest `process.memory.usage` any span of the run reported.
pub const MEMORY_PEAK: &str = "memory.peak_bytes";
const STAGE_PREFIX: &str = "stage.";
const STAGE_SUFFIX: &str = ".duration_seconds";
const CONTRACT_PREFIX: &str = "contract.";

/// The run as the history keeps it.
pub(super) fn run_record(trace: &DecidedTrace, analysis: &TraceAnalysis) -> RunRecord {
    let mut measures = vec![
        measure(RUN_DURATION, analysis.run_seconds),
        measure(CRITICAL_PATH, analysis.critical_path_seconds),
    ];
    measures.extend(analysis.stages.iter().map(|stage| {
        measure(
            &format!("{STAGE_PREFIX}{}{STAGE_SUFFIX}", stage.stage),
            stage.seconds,
        )
    }));
    if let Some(peak) = trace
        .spans
        .iter()
        .filter_map(|span| span.memory_bytes)
        .max()
    {
        measures.push(measure(MEMORY_PEAK, peak as f64));
    }
    for observation in &trace.observations {
        let name = format!("{CONTRACT_PREFIX}{}", observation.contract_id);
        if observation.value.is_finite() && !measures.iter().any(|m| m.name == name) {
            measures.push(measure(&name, observation.value));
        }
    }
    measures.retain(|m| m.value.is_finite());
    RunRecord {
        trace_id: trace.verdict.trace_id.0,
        service: trace.verdict.service_name.clone().unwrap_or_default(),
        decided_unix_nano: trace.verdict.decided_unix_nano,
        status: trace.verdict.status.as_str().to_owned(),
        production_ready: trace.verdict.production_ready,
        measures,
        verdict: None,
        analysis: None,
    }
}

fn measure(name: &str, value: f64) -> Measure {
    Measure {
        name: name.to_owned(),
        value,
    }
}

/// Which way a measure gets worse: times and memory up; a contract's measure away from its threshold's side
/// (`lt`/`le` up, `gt`/`ge` down). `None` for a contract of equality, which has no worse side.
pub(super) fn direction(name: &str, contracts: &ContractSet) -> Option<Direction> {
    let Some(id) = name.strip_prefix(CONTRACT_PREFIX) else {
        return Some(Direction::HigherIsWorse);
    };
    let contract = contracts.contracts().iter().find(|c| &*c.id == id)?;
    match contract.config.comparison {
        Comparison::Lt | Comparison::Le => Some(Direction::HigherIsWorse),
        Comparison::Gt | Comparison::Ge => Some(Direction::LowerIsWorse),
        Comparison::Eq | Comparison::Ne => None,
    }
}
