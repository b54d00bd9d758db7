//! Recommendations, each with its gain estimated on the span tree; [`plan`] orders them into phases.
//!
//! Candidates, from the run's breakdown:
//! - **parallelism**: a stage of at least two sessions that ran below `lanes`-wide and holds at least 5 % of
//!   the critical path: run its sessions `lanes`-wide.
//! - **compute**: a stage holding at least 20 % of the critical path: make it `speedup_percent` faster.
//! - **outlier**: a session on the critical path taking more than `outlier_factor` × its stage's median, or
//!   over the session budget: bring it down to the smaller of the median and the budget. The three slowest.
//! - **untraced**: a span holding at least `untraced_min_share` of the critical path outside its children
//!   (see [`crate::untraced`]): instrument where that time goes. Its gain is an upper bound (the run with
//!   that time gone); it is not a step of the plan, since instrumenting shows time without shortening it.
//!
//! Classes, by rule:
//! - effort: parallelism `low` (a concurrency setting: IRONFORGE sessions share no edges), outlier `medium`
//!   (one session's data or code path), compute `high` (work on the stage's code), untraced `low` (adding
//!   spans).
//! - risk: compute `medium`; outlier and untraced `low`; parallelism `medium`, or `high` when the run's peak memory
//!   scaled by the added width would pass the memory limit (memory assumed to grow with concurrent sessions).
//! - priority: from the estimated gain, `high` at 20 % of the run or more, `medium` at 5 %, `low` below;
//!   `critical` when the run broke its duration budget and this change alone brings it back under; for
//!   untraced time, from its share of the critical path.
//!
//! Which gains count is the rule of `plan`: a speed-up must gain at least [`gain_floor`], and
//! none is recommended for a run far inside its duration budget unless it brings a session back within
//! the session budget. Untraced time is named whatever the budget: knowing where time goes costs little.

use ironforge_proto::semconv::Stage;
use serde::{Deserialize, Serialize};

use crate::breakdown::{SessionBreakdown, StageBreakdown, ratio};
use crate::budget::Budgets;
use crate::critical_path::critical_path;
mod plan;

use crate::tree::SpanTree;
use crate::units::{bytes, duration};
use crate::untraced;
use crate::whatif::{Change, Scenario, Target, simulate};
use plan::percent;
pub use plan::{Phase, Plan, far_inside_budget, gain_floor, plan};

/// Which kind of change a recommendation makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Parallelism,
    Compute,
    Outlier,
    /// Time a span spends outside its children: instrument it.
    Untraced,
}

/// Effort and risk classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Low,
    Medium,
    High,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
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
    /// A speed-up counts when it gains at least this share of the run (0.01: 1 %) ...
    pub min_gain_share: f64,
    /// ... and at least this many seconds, what one run's timing varies by anyway (scheduling jitter,
    /// clock skew between hosts).
    pub noise_floor_seconds: f64,
    /// A run that took less than this share of its duration budget is far inside it: no speed-up is
    /// recommended, only what brings a session back within the session budget.
    pub budget_share: f64,
    /// Untraced time is named when one span holds at least this share of the critical path outside its
    /// children (and the noise floor), whatever the budget: a quarter of a run unexplained is worth knowing
    /// about, and instrumenting it costs little.
    pub untraced_min_share: f64,
}

impl Default for RecommendOptions {
    fn default() -> Self {
        Self {
            lanes: 4,
            speedup_percent: 20.0,
            outlier_factor: 2.0,
            memory_limit_bytes: 104_857_600.0,
            skew_tolerance: crate::critical_path::DEFAULT_SKEW_TOLERANCE_SECONDS,
            min_gain_share: 0.01,
            noise_floor_seconds: 0.005,
            budget_share: 0.5,
            untraced_min_share: 0.25,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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

impl Category {
    pub const fn as_str(self) -> &'static str {
        match self {
            Category::Parallelism => "parallelism",
            Category::Compute => "compute",
            Category::Outlier => "outlier",
            Category::Untraced => "untraced",
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
    let mut candidates = stage_drafts(stages, peak_memory_bytes, options);
    candidates.extend(outliers(sessions, budgets, options));
    let quiet = far_inside_budget(before, budgets, options).is_some();
    let floor = gain_floor(before, options);
    let mut recommendations: Vec<Recommendation> = candidates
        .into_iter()
        .filter(|draft| !quiet || draft.restores_budget)
        .filter_map(|draft| {
            let gain_seconds = gain(&draft.scenario);
            let gain_percent = percent(ratio(gain_seconds, before));
            (gain_seconds >= floor).then(|| {
                let rescues = budgets
                    .run_seconds
                    .is_some_and(|limit| before >= limit && before - gain_seconds < limit);
                draft.finish(gain_seconds, gain_percent, priority(gain_percent, rescues))
            })
        })
        .collect();
    recommendations.extend(untraced_time(tree, options, &gain));
    recommendations.sort_by(|a, b| {
        b.priority
            .cmp(&a.priority)
            .then(a.effort.cmp(&b.effort))
            .then(b.gain_seconds.total_cmp(&a.gain_seconds))
    });
    recommendations
}

/// The parallelism and compute candidates of the run's stages.
fn stage_drafts(
    stages: &[StageBreakdown],
    peak_memory_bytes: Option<f64>,
    options: &RecommendOptions,
) -> Vec<Draft> {
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
                    widened.map_or(String::new(), |b| format!(", to about {} at peak", bytes(b)))
                ),
                evidence: format!(
                    "{} sessions ran {:.1}-wide over {}; {share:.0} % of the critical path",
                    stage.sessions,
                    stage.parallelism,
                    duration(stage.seconds)
                ),
                restores_budget: false,
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
                    "{share:.0} % of the critical path ({})",
                    duration(stage.critical_seconds)
                ),
                restores_budget: false,
            });
        }
    }
    candidates
}

/// One recommendation for each span holding at least `untraced_min_share` of the critical path (and the
/// noise floor) outside its children, worded from where its largest gap lies.
fn untraced_time(
    tree: &SpanTree,
    options: &RecommendOptions,
    gain: &dyn Fn(&Scenario) -> f64,
) -> Vec<Recommendation> {
    let path = critical_path(tree, options.skew_tolerance);
    let path_seconds: f64 = path.iter().map(|s| s.seconds()).sum();
    let before = tree.run_seconds();
    let floor = (options.untraced_min_share * path_seconds).max(options.noise_floor_seconds);
    untraced::spans_on_path(tree, &path)
        .into_iter()
        .filter(|span| span.seconds > 0.0 && span.seconds >= floor)
        .map(|span| {
            let node = &tree.nodes[span.node];
            let share = percent(ratio(span.seconds, path_seconds));
            let place = span.largest.place(tree);
            let scenario = Scenario::Retime {
                target: Target::Untraced {
                    span: node.name.to_string(),
                    stage: node.stage,
                },
                change: Change::Percent(-100.0),
            };
            let gain_seconds = gain(&scenario);
            // A stage span is named after its stage: "in discovery" would only repeat it.
            let stage = node
                .stage
                .filter(|s| s.as_str() != &*node.name)
                .map_or(String::new(), |s| format!(" in {s}"));
            Draft {
                id: format!("instrument-{}{}", node.name, node.stage.map_or(String::new(), |s| format!("-{s}"))),
                title: format!(
                    "{share:.0} % of the run is in `{}`{stage} outside its child spans: instrument what happens {place}",
                    node.name
                ),
                category: Category::Untraced,
                effort: Level::Low,
                risk: Level::Low,
                scenario,
                assumption: "the gain is an upper bound: the run with this untraced time gone; instrumenting it shows how much of it can go".to_owned(),
                evidence: format!(
                    "{} of the {} critical path with no child span of `{}` running; the largest stretch, {} {place}",
                    duration(span.seconds),
                    duration(path_seconds),
                    node.name,
                    duration(span.largest.seconds()),
                ),
                restores_budget: false,
            }
            .finish(gain_seconds, percent(ratio(gain_seconds, before)), priority(share, false))
        })
        .collect()
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
            let over_budget = budgets
                .session_seconds
                .is_some_and(|limit| session.seconds > limit);
            let outlying = session.seconds > options.outlier_factor * median;
            if !(over_budget || outlying) {
                return None;
            }
            let goal = budgets
                .session_seconds
                .map_or(median, |limit| median.min(limit));
            let stage = session.stage.map_or("run", Stage::as_str);
            Some(Draft {
                id: format!("outlier-{stage}-{}", session.session_id),
                title: format!(
                    "Bring session {} in {stage} down to {}",
                    session.session_id,
                    duration(goal)
                ),
                category: Category::Outlier,
                effort: Level::Medium,
                risk: Level::Low,
                scenario: Scenario::Retime {
                    target: Target::Session {
                        session_id: session.session_id.to_string(),
                        stage: session.stage,
                    },
                    change: Change::Seconds(goal - session.seconds),
                },
                assumption:
                    "the session can run as fast as the stage's median session (or its budget)"
                        .to_owned(),
                evidence: format!(
                    "{} against a stage median of {}{}; {} on the critical path",
                    duration(session.seconds),
                    duration(median),
                    if over_budget {
                        ", over the session budget"
                    } else {
                        ""
                    },
                    duration(session.critical_seconds)
                ),
                restores_budget: over_budget,
            })
        })
        .take(MAX_OUTLIERS)
        .collect()
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
    /// It brings a session back within the session budget: a contract the run broke.
    restores_budget: bool,
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
