//! What a check found, and its renderings: one file per format (the HTML page is [`crate::html`]'s).

pub(crate) mod json;
pub(crate) mod junit;
mod limits;
pub(crate) mod markdown;
mod options;
mod stages;
pub(crate) mod summary;
mod time;

pub use limits::Limits;
pub(crate) use limits::{AUTHENTICITY_CONTRACT, MEAN_AUTHENTICITY_CONTRACT, MEMORY_CONTRACT};
pub use options::{FailOn, ReportFormat, exit};
pub use stages::{BaselineReport, NotJudged, Regression, StageDistribution, StageMean, WHOLE_RUN};
pub(crate) use time::iso8601;

use ironforge_analysis::TraceAnalysis;
use serde::{Deserialize, Serialize};

use crate::health::{HealthReport, Scorer};
use crate::input_error::InputError;
use crate::verdict::{TraceVerdict, VerdictStatus};
use ironforge_engine::ContractSet;
use ironforge_engine::config::Profile;

/// The version of the JSON report's layout; a `--baseline` must have the same.
pub const SCHEMA_VERSION: u32 = 1;

/// Everything a check found.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    pub schema_version: u32,
    /// The contract file, or the embedded defaults.
    pub contracts_source: String,
    pub profile: &'static str,
    /// What fails the check: `blocking`, or `warning` too (`--strict`, `--fail-on warning`).
    pub fail_on: &'static str,
    /// The input files, as given (`<stdin>` for `-`).
    pub inputs: Vec<String>,
    /// The contracts every trace was held to, in file order.
    pub contracts: Vec<ContractInfo>,
    /// The traces listed in full: every one up to `--max-trace-details`, failing ones first beyond it
    /// (`totals.traces_listed` of `totals.traces`).
    pub traces: Vec<TraceReport>,
    /// Each service's stages, averaged over every trace checked (listed or not): what a `--baseline`
    /// compares with.
    pub stage_means: Vec<StageMean>,
    /// Each service's stages and whole runs over every trace checked: median, spread and samples. What a
    /// later check's `--baseline` compares with.
    pub stage_distributions: Vec<StageDistribution>,
    /// The comparison with `--baseline`, when one was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline: Option<BaselineReport>,
    /// Traces without any IRONFORGE span: not pipeline runs, so not judged.
    pub unmonitored_traces: u64,
    pub input_errors: Vec<InputError>,
    pub totals: Totals,
    pub exit_code: u8,
    /// Health and compliance over the input's traces, as the live monitor would have scored them.
    #[serde(skip)]
    pub health: HealthReport,
    /// The limits the HTML report draws against.
    #[serde(skip)]
    pub limits: Limits,
}

/// One contract as reports name it.
#[derive(Debug, Clone, Serialize)]
pub struct ContractInfo {
    pub id: String,
    pub description: String,
    pub severity: &'static str,
    pub blocks_production: bool,
    /// `"< 3 s"`.
    pub requirement: String,
}

/// One trace: the engine's verdict, the baseline's word on it, and the two together.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TraceReport {
    #[serde(flatten)]
    pub verdict: TraceVerdict,
    /// The input file the trace's first span was read from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_file: Option<String>,
    /// When the run started: its earliest span's start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_unix_nano: Option<u64>,
    /// From the run's earliest span start to its latest span end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_seconds: Option<f64>,
    /// Per-trace regressions; a check judges stages over all its runs instead ([`CheckReport::baseline`]).
    #[serde(default)]
    pub regressions: Vec<Regression>,
    pub outcome: Outcome,
    /// Critical path, stage and session breakdown, recommendations and plan. Not read back from a
    /// baseline: the baseline compares verdicts.
    #[serde(default, skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub analysis: Option<TraceAnalysis>,
}

/// How a trace came out of the check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Pass,
    /// Violations, none blocking.
    Warn,
    /// Failed, not production-ready, or regressed against the baseline.
    Fail,
}

impl Outcome {
    fn of(verdict: &TraceVerdict, regressions: &[Regression]) -> Self {
        if !verdict.production_ready
            || verdict.status == VerdictStatus::Fail
            || !regressions.is_empty()
        {
            Outcome::Fail
        } else if verdict.status == VerdictStatus::Warn || !verdict.violations.is_empty() {
            Outcome::Warn
        } else {
            Outcome::Pass
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Warn => "warn",
            Outcome::Fail => "fail",
        }
    }
}

/// What reading and deciding the input produced.
#[derive(Debug, Default)]
pub struct Checked {
    /// The traces listed in full.
    pub traces: Vec<TraceReport>,
    /// Counted over every trace, listed or not; `input_errors` is filled in by the report.
    pub totals: Totals,
    pub stage_means: Vec<StageMean>,
    pub stage_distributions: Vec<StageDistribution>,
    pub unmonitored_traces: u64,
    pub input_errors: Vec<InputError>,
    /// The input files, as reports name them.
    pub inputs: Vec<String>,
    /// The most traces the engine held undecided at once while reading.
    pub max_traces_in_flight: usize,
}

/// Counts over the whole check.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Totals {
    pub traces: usize,
    /// Traces the report lists in full; the others count only here.
    pub traces_listed: usize,
    pub passed: usize,
    pub warned: usize,
    pub failed: usize,
    pub incomplete: usize,
    pub production_ready: usize,
    pub violations: u64,
    pub blocking_violations: u64,
    pub regressions: usize,
    pub input_errors: usize,
    /// The most traces held undecided at once while reading: what the check's memory follows. Traces are
    /// decided as the spans' times pass their completion, so it stays small for runs recorded one after
    /// another, however many.
    pub max_traces_in_flight: usize,
}

impl Totals {
    /// `3 trace(s): 1 passed, 1 warned, 1 failed`.
    pub fn outcomes(&self) -> String {
        format!(
            "{} trace(s): {} passed, {} warned, {} failed",
            self.traces, self.passed, self.warned, self.failed
        )
    }

    /// `listed: 100 of 3,000 traces (failing first); the rest count only in the totals`, when some
    /// traces are not listed.
    pub fn unlisted(&self) -> Option<String> {
        (self.traces_listed < self.traces).then(|| {
            format!(
                "listed: {} of {} traces (failing first, then warned; --max-trace-details); the rest count only in the totals",
                self.traces_listed, self.traces
            )
        })
    }
}

impl TraceReport {
    pub fn new(verdict: TraceVerdict, regressions: Vec<Regression>) -> Self {
        let outcome = Outcome::of(&verdict, &regressions);
        Self {
            verdict,
            input_file: None,
            started_unix_nano: None,
            run_seconds: None,
            regressions,
            outcome,
            analysis: None,
        }
    }

    /// Blocking violations listed on the trace.
    pub fn blocking_count(&self) -> u64 {
        self.verdict
            .violations
            .iter()
            .filter(|violation| violation.blocks_production)
            .count() as u64
    }

    /// Violations that do not block: the rest of [`TraceReport::violation_count`].
    pub fn warning_count(&self) -> u64 {
        self.violation_count().saturating_sub(self.blocking_count())
    }

    /// The run's start in UTC, ISO 8601, or `unknown start`.
    pub fn started(&self) -> String {
        self.started_unix_nano
            .map(iso8601)
            .unwrap_or_else(|| "unknown start".to_owned())
    }

    /// The pipeline: the trace's `service.name`.
    pub fn pipeline(&self) -> &str {
        self.verdict.service_name.as_deref().unwrap_or("(unknown)")
    }

    /// Violations decided on the trace, those the per-trace limit left out included.
    pub fn violation_count(&self) -> u64 {
        self.verdict.violations.len() as u64 + self.verdict.violations_over_limit
    }
}

impl CheckReport {
    /// Totals and exit code follow from the traces, errors and baseline regressions; `fail_on` says
    /// whether warnings fail.
    pub fn new(
        contracts: &ContractSet,
        contracts_source: String,
        profile: Profile,
        checked: Checked,
        baseline: Option<BaselineReport>,
        fail_on: FailOn,
    ) -> Self {
        let Checked {
            traces,
            mut totals,
            stage_means,
            stage_distributions,
            unmonitored_traces,
            input_errors,
            inputs,
            max_traces_in_flight,
        } = checked;
        let health = health(contracts, &traces);
        let limits = Limits::from_contracts(contracts);
        let profile = match profile {
            Profile::Production => "production",
            Profile::Development => "development",
        };
        let contracts = contracts
            .contracts()
            .iter()
            .map(|contract| ContractInfo {
                id: contract.id.to_string(),
                description: contract.config.description.clone(),
                severity: contract.severity.as_str(),
                blocks_production: contract.blocks_production,
                requirement: contract.requirement(),
            })
            .collect();
        totals.input_errors = input_errors.len();
        totals.max_traces_in_flight = max_traces_in_flight;
        totals.regressions = baseline.as_ref().map_or(0, |b| b.regressions.len());
        let exit_code = if !input_errors.is_empty() {
            exit::BAD_INPUT
        } else if totals.failed > 0 || totals.regressions > 0 {
            exit::BLOCKING
        } else if fail_on == FailOn::Warning && totals.warned > 0 {
            exit::WARNINGS
        } else {
            exit::PASS
        };
        Self {
            schema_version: SCHEMA_VERSION,
            contracts_source,
            profile,
            fail_on: match fail_on {
                FailOn::Blocking => "blocking",
                FailOn::Warning => "warning",
            },
            inputs,
            contracts,
            traces,
            stage_means,
            stage_distributions,
            baseline,
            unmonitored_traces,
            input_errors,
            totals,
            exit_code,
            health,
            limits,
        }
    }

    /// Whether warnings fail the check.
    pub fn warnings_fail(&self) -> bool {
        self.fail_on == "warning"
    }

    /// The check's result in one word.
    pub fn result(&self) -> &'static str {
        match self.exit_code {
            exit::PASS => "PASS",
            exit::BLOCKING => "FAIL",
            exit::WARNINGS => "WARNINGS (strict)",
            _ => "BAD INPUT",
        }
    }
}

/// The live monitor's compliance and health rule over the traces, in the order they were decided.
fn health(contracts: &ContractSet, traces: &[TraceReport]) -> HealthReport {
    let mut scorer = Scorer::new(contracts);
    let mut ordered: Vec<&TraceReport> = traces.iter().collect();
    ordered.sort_by_key(|trace| trace.verdict.decided_unix_nano);
    for trace in ordered {
        scorer.record(&trace.verdict);
    }
    scorer.report()
}

/// A number as reports print it: up to six significant decimals, no trailing zeros.
pub(crate) fn number(value: f64) -> String {
    let text = format!("{value:.6}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".to_owned()
    } else {
        text.to_owned()
    }
}

/// A value with its unit, the dimensionless `1` left out: `3.5 s`, `0.31`.
pub(crate) fn quantity(value: f64, unit: &str) -> String {
    match unit {
        "" | "1" => number(value),
        unit => format!("{} {unit}", number(value)),
    }
}

/// Where a violation happened, in words: `session NY_2025-08-04 (discovery), span 1a2b…`.
pub(crate) fn place(violation: &crate::verdict::Violation) -> String {
    let mut parts = Vec::new();
    match (&violation.session_id, &violation.stage) {
        (Some(session), Some(stage)) => parts.push(format!("session {session} ({stage})")),
        (Some(session), None) => parts.push(format!("session {session}")),
        (None, Some(stage)) => parts.push(format!("stage {stage}")),
        (None, None) => {}
    }
    match violation.span_id {
        Some(span) => parts.push(format!("span {span}")),
        None => parts.push("whole trace".to_owned()),
    }
    parts.join(", ")
}
