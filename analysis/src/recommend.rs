//! Recommendations and the plan that orders them, each with its gain estimated on the span tree.
//!
//! Candidates, from the run's breakdown:
//! - **parallelism**: a stage of at least two sessions that ran below `lanes`-wide and holds at least 5 % of
//!   the critical path: run its sessions `lanes`-wide.
//! - **compute**: a stage holding at least 20 % of the critical path: make it `speedup_percent` faster.
//! - **outlier**: a session on the critical path taking more than `outlier_factor` × its stage's median, or
//!   over the session budget: bring it down to the smaller of the median and the budget. The three slowest.
//!
//! Classes, by rule:
//! - effort: parallelism `low` (a concurrency setting: IRONFORGE sessions share no edges), outlier `medium`
//!   (one session's data or code path), compute `high` (work on the stage's code).
//! - risk: compute `medium`; outlier `low`; parallelism `medium`, or `high` when the run's peak memory
//!   scaled by the added width would pass the memory limit (memory assumed to grow with concurrent sessions).
//! - priority: from the estimated gain, `high` at 20 % of the run or more, `medium` at 5 %, `low` below;
//!   `critical` when the run broke its duration budget and this change alone brings it back under.
//!   Candidates gaining less than 0.5 % of the run are dropped.
//!
//! The plan takes the recommendations by priority, then effort, then gain; phase 1 holds the low-effort
//! ones, phase 2 medium, phase 3 high. Each phase's figure re-times everything up to it on the tree together.

use ironforge_proto::semconv::Stage;
use serde::Serialize;

use crate::breakdown::{SessionBreakdown, StageBreakdown, ratio};
use crate::budget::Budgets;
use crate::tree::SpanTree;
use crate::whatif::{Change, Scenario, Target, simulate};

/// Which kind of change a recommendation makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Parallelism,
    Compute,
    Outlier,
}

/// Effort and risk classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Low,
    Medium,
    High,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Low,
    Medium,
    High,
    Critical,
}

/// The knobs of the candidates.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RecommendOptions {
    pub lanes: u32,
    pub speedup_percent: f64,
    pub outlier_factor: f64,
    /// Memory limit the parallelism risk is judged against, in bytes.
    pub memory_limit_bytes: f64,
    pub skew_tolerance: f64,
}

impl Default for RecommendOptions {
    fn default() -> Self {
        Self {
            lanes: 4,
            speedup_percent: 20.0,
            outlier_factor: 2.0,
            memory_limit_bytes: 104_857_600.0,
            skew_tolerance: crate::critical_path::DEFAULT_SKEW_TOLERANCE_SECONDS,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recommendation {
    /// Stable for the same change, so runs can be compared.
    pub id: String,
    pub title: String,
    pub category: Category,
    pub priority: Priority,
    pub effort: Level,
    pub risk: Level,
    pub scenario: Scenario,
    /// Seconds the run would be shorter, re-timed on its span tree.
    pub gain_seconds: f64,
    pub gain_percent: f64,
    pub assumption: String,
    pub evidence: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Phase {
    pub phase: u32,
    /// Ids of the recommendations taken in this phase.
    pub recommendations: Vec<String>,
    /// The run's estimated time with this phase and those before it applied.
    pub run_seconds_after: f64,
    pub gain_seconds: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    pub run_seconds_before: f64,
    pub run_seconds_after: f64,
    pub total_gain_seconds: f64,
    pub total_gain_percent: f64,
    pub phases: Vec<Phase>,
    /// The highest risk among the plan's recommendations; `low` for an empty plan.
    pub overall_risk: Level,
    pub assumption: String,
}

impl Category {
    pub const fn as_str(self) -> &'static str {
        match self {
            Category::Parallelism => "parallelism",
            Category::Compute => "compute",
            Category::Outlier => "outlier",
        }
    }
}

impl Level {
    pub const fn as_str(self) -> &'static str {
        match self {
            Level::Low => "low",
            Level::Medium => "medium",
            Level::High => "high",
        }
    }
}

impl Priority {
    pub const fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Medium => "medium",
            Priority::High => "high",
            Priority::Critical => "critical",
        }
    }
}

const MIN_GAIN_PERCENT: f64 = 0.5;
const MAX_OUTLIERS: usize = 3;

/// What the run's recording suggests, best first.
pub fn recommend(
    tree: &SpanTree,
    stages: &[StageBreakdown],
    sessions: &[SessionBreakdown],
    budgets: &Budgets,
    peak_memory_bytes: Option<f64>,
    options: &RecommendOptions,
) -> Vec<Recommendation> {
    let before = tree.run_seconds();
    let gain = |scenario: &Scenario| {
        let after =
            simulate(tree, std::slice::from_ref(scenario), options.skew_tolerance).run_seconds();
        before - after
    };
    let mut candidates = Vec::new();
    for stage in stages {
        let name = stage.stage.as_str();
        let share = percent(stage.critical_share);
        let lanes = f64::from(options.lanes.max(1));
        if stage.sessions >= 2 && stage.parallelism < 0.75 * lanes && stage.critical_share >= 0.05 {
            let widened = peak_memory_bytes.map(|peak| peak * lanes / stage.parallelism.max(1.0));
            let risk = match widened {
                Some(bytes) if bytes > options.memory_limit_bytes => Level::High,
                _ => Level::Medium,
            };
            candidates.push(Draft {
                id: format!("parallelize-{name}-{}", options.lanes),
                title: format!("Run the {name} stage's sessions {}-wide", options.lanes),
                category: Category::Parallelism,
                effort: Level::Low,
                risk,
                scenario: Scenario::Widen { stage: stage.stage, lanes: options.lanes },
                assumption: format!(
                    "sessions are independent (no edge crosses sessions) and the machine runs {} at once; memory grows with concurrent sessions{}",
                    options.lanes,
                    widened.map_or(String::new(), |b| format!(", to about {:.0} MB at peak", b / 1e6))
                ),
                evidence: format!(
                    "{} sessions ran {:.1}-wide over {:.2} s; {share:.0} % of the critical path",
                    stage.sessions, stage.parallelism, stage.seconds
                ),
            });
        }
        if stage.critical_share >= 0.2 {
            candidates.push(Draft {
                id: format!("speed-up-{name}-{:.0}", options.speedup_percent),
                title: format!(
                    "Make the {name} stage {:.0} % faster",
                    options.speedup_percent
                ),
                category: Category::Compute,
                effort: Level::High,
                risk: Level::Medium,
                scenario: Scenario::Retime {
                    target: Target::Stage(stage.stage),
                    change: Change::Percent(-options.speedup_percent),
                },
                assumption: format!(
                    "every span of the stage, its sessions included, takes {:.0} % less time",
                    options.speedup_percent
                ),
                evidence: format!(
                    "{share:.0} % of the critical path ({:.2} s)",
                    stage.critical_seconds
                ),
            });
        }
    }
    candidates.extend(outliers(sessions, budgets, options));
    let mut recommendations: Vec<Recommendation> = candidates
        .into_iter()
        .filter_map(|draft| {
            let gain_seconds = gain(&draft.scenario);
            let gain_percent = percent(ratio(gain_seconds, before));
            (gain_percent >= MIN_GAIN_PERCENT).then(|| {
                let rescues = budgets
                    .run_seconds
                    .is_some_and(|limit| before >= limit && before - gain_seconds < limit);
                draft.finish(gain_seconds, gain_percent, priority(gain_percent, rescues))
            })
        })
        .collect();
    recommendations.sort_by(|a, b| {
        b.priority
            .cmp(&a.priority)
            .then(a.effort.cmp(&b.effort))
            .then(b.gain_seconds.total_cmp(&a.gain_seconds))
    });
    recommendations
}

fn outliers(
    sessions: &[SessionBreakdown],
    budgets: &Budgets,
    options: &RecommendOptions,
) -> Vec<Draft> {
    let median = |stage: Option<Stage>| {
        let mut times: Vec<f64> = sessions
            .iter()
            .filter(|s| s.stage == stage)
            .map(|s| s.seconds)
            .collect();
        times.sort_by(f64::total_cmp);
        times.get(times.len() / 2).copied()
    };
    // `sessions` comes slowest first.
    sessions
        .iter()
        .filter(|session| session.critical_seconds > 0.0)
        .filter_map(|session| {
            let median = median(session.stage)?;
            let over_budget = budgets.session_seconds.is_some_and(|limit| session.seconds > limit);
            let outlying = session.seconds > options.outlier_factor * median;
            if !(over_budget || outlying) {
                return None;
            }
            let goal = budgets.session_seconds.map_or(median, |limit| median.min(limit));
            let stage = session.stage.map_or("run", Stage::as_str);
            Some(Draft {
                id: format!("outlier-{stage}-{}", session.session_id),
                title: format!("Bring session {} in {stage} down to {goal:.3} s", session.session_id),
                category: Category::Outlier,
                effort: Level::Medium,
                risk: Level::Low,
                scenario: Scenario::Retime {
                    target: Target::Session {
                        session_id: session.session_id.clone(),
                        stage: session.stage,
                    },
                    change: Change::Seconds(goal - session.seconds),
                },
                assumption: "the session can run as fast as the stage's median session (or its budget)".to_owned(),
                evidence: format!(
                    "{:.2} s against a stage median of {median:.2} s{}; {:.2} s on the critical path",
                    session.seconds,
                    if over_budget { ", over the session budget" } else { "" },
                    session.critical_seconds
                ),
            })
        })
        .take(MAX_OUTLIERS)
        .collect()
}

/// The recommendations in phases, with the gain of each re-timed together on the tree.
pub fn plan(tree: &SpanTree, recommendations: &[Recommendation], skew_tolerance: f64) -> Plan {
    let before = tree.run_seconds();
    let mut phases = Vec::new();
    let mut applied: Vec<Scenario> = Vec::new();
    let mut previous = before;
    for (number, effort) in [(1, Level::Low), (2, Level::Medium), (3, Level::High)] {
        let taken: Vec<&Recommendation> = recommendations
            .iter()
            .filter(|r| r.effort == effort)
            .collect();
        if taken.is_empty() {
            continue;
        }
        applied.extend(taken.iter().map(|r| r.scenario.clone()));
        let after = simulate(tree, &applied, skew_tolerance).run_seconds();
        phases.push(Phase {
            phase: number,
            recommendations: taken.iter().map(|r| r.id.clone()).collect(),
            run_seconds_after: after,
            gain_seconds: previous - after,
        });
        previous = after;
    }
    Plan {
        run_seconds_before: before,
        run_seconds_after: previous,
        total_gain_seconds: before - previous,
        total_gain_percent: percent(ratio(before - previous, before)),
        phases,
        overall_risk: recommendations.iter().map(|r| r.risk).max().unwrap_or(Level::Low),
        assumption: "each phase is re-timed on the recorded span tree with every change up to it applied together; gains are not added up".to_owned(),
    }
}

fn priority(gain_percent: f64, rescues_budget: bool) -> Priority {
    if rescues_budget {
        Priority::Critical
    } else if gain_percent >= 20.0 {
        Priority::High
    } else if gain_percent >= 5.0 {
        Priority::Medium
    } else {
        Priority::Low
    }
}

fn percent(fraction: f64) -> f64 {
    fraction * 100.0
}

/// A candidate before its gain is known.
struct Draft {
    id: String,
    title: String,
    category: Category,
    effort: Level,
    risk: Level,
    scenario: Scenario,
    assumption: String,
    evidence: String,
}

impl Draft {
    fn finish(self, gain_seconds: f64, gain_percent: f64, priority: Priority) -> Recommendation {
        Recommendation {
            id: self.id,
            title: self.title,
            category: self.category,
            priority,
            effort: self.effort,
            risk: self.risk,
            scenario: self.scenario,
            gain_seconds,
            gain_percent,
            assumption: self.assumption,
            evidence: self.evidence,
        }
    }
}
