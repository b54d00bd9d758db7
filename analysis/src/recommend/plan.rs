//! The plan: the recommendations that change the run's time, in phases of rising effort, each re-timed on
//! the span tree with every change before it, and the rule that decides which gains are worth a step.
//!
//! The rule, so a plan never asks for work that cannot show:
//! - a gain counts when it is at least [`gain_floor`]: the larger of `min_gain_share` of the run and
//!   `noise_floor_seconds` (what one run's timing varies by anyway: scheduling, clock skew between hosts);
//! - a run that took less than `budget_share` of its duration budget is far inside it: no speed-up is
//!   recommended for it ([`far_inside_budget`]), only changes that bring a session back within its own
//!   budget, which broke a contract;
//! - a phase that adds less than the floor to the phases before it is left out, so every phase shows.

use serde::{Deserialize, Serialize};

use super::{Category, Level, RecommendOptions, Recommendation};
use crate::breakdown::ratio;
use crate::budget::Budgets;
use crate::tree::SpanTree;
use crate::units::duration;
use crate::whatif::{Scenario, simulate};

/// Below half a millisecond a figure prints as 0 ms: never a step of a plan, whatever the options.
const MIN_STEP_SECONDS: f64 = 0.0005;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Phase {
    /// 1, 2, ... in order.
    pub phase: u32,
    /// The effort class of the phase's recommendations.
    pub effort: Level,
    /// Ids of the recommendations taken in this phase.
    pub recommendations: Vec<String>,
    /// The run's estimated time with this phase and those before it applied.
    pub run_seconds_after: f64,
    /// What this phase adds to the phases before it.
    pub gain_seconds: f64,
    /// `gain_seconds` over the recorded run.
    pub gain_percent: f64,
    /// What this phase and those before it gain together.
    pub cumulative_gain_seconds: f64,
    pub cumulative_gain_percent: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub run_seconds_before: f64,
    pub run_seconds_after: f64,
    pub total_gain_seconds: f64,
    pub total_gain_percent: f64,
    pub phases: Vec<Phase>,
    /// The highest risk among the plan's recommendations; `low` for an empty plan.
    pub overall_risk: Level,
    pub assumption: String,
    /// The plan in one sentence, or why there is none (the run is far inside its budget, or no change
    /// gains enough to show).
    pub summary: String,
}

/// The smallest gain worth a recommendation or a phase, for a run of `run_seconds`.
pub fn gain_floor(run_seconds: f64, options: &RecommendOptions) -> f64 {
    (options.min_gain_share * run_seconds)
        .max(options.noise_floor_seconds)
        .max(MIN_STEP_SECONDS)
}

/// The run's budget when the run took less than `budget_share` of it: too little for a speed-up to matter.
pub fn far_inside_budget(
    run_seconds: f64,
    budgets: &Budgets,
    options: &RecommendOptions,
) -> Option<f64> {
    budgets
        .run_seconds
        .filter(|&budget| budget > 0.0 && run_seconds < options.budget_share * budget)
}

/// The recommendations that change the run's time, in phases by effort (low, medium, high), each re-timed
/// together with the phases before it. Untraced-time recommendations are not steps: instrumenting time
/// shows where it goes but does not shorten it.
pub fn plan(
    tree: &SpanTree,
    recommendations: &[Recommendation],
    budgets: &Budgets,
    options: &RecommendOptions,
) -> Plan {
    let before = tree.run_seconds();
    let floor = gain_floor(before, options);
    let mut phases: Vec<Phase> = Vec::new();
    let mut applied: Vec<Scenario> = Vec::new();
    let mut taken_risks = Vec::new();
    let mut previous = before;
    for effort in [Level::Low, Level::Medium, Level::High] {
        let taken: Vec<&Recommendation> = recommendations
            .iter()
            .filter(|r| r.effort == effort && r.category != Category::Untraced)
            .collect();
        if taken.is_empty() {
            continue;
        }
        let mut trial = applied.clone();
        trial.extend(taken.iter().map(|r| r.scenario.clone()));
        let after = simulate(tree, &trial, options.skew_tolerance).run_seconds();
        if previous - after < floor {
            continue;
        }
        applied = trial;
        taken_risks.extend(taken.iter().map(|r| r.risk));
        phases.push(Phase {
            phase: u32::try_from(phases.len() + 1).unwrap_or(u32::MAX),
            effort,
            recommendations: taken.iter().map(|r| r.id.clone()).collect(),
            run_seconds_after: after,
            gain_seconds: previous - after,
            gain_percent: percent(ratio(previous - after, before)),
            cumulative_gain_seconds: before - after,
            cumulative_gain_percent: percent(ratio(before - after, before)),
        });
        previous = after;
    }
    let summary = summary(before, previous, &phases, budgets, options);
    Plan {
        run_seconds_before: before,
        run_seconds_after: previous,
        total_gain_seconds: before - previous,
        total_gain_percent: percent(ratio(before - previous, before)),
        phases,
        overall_risk: taken_risks.into_iter().max().unwrap_or(Level::Low),
        assumption: format!(
            "each phase is re-timed on the recorded span tree with every change up to it applied together; a phase's gain is what it adds to those before it, and one adding less than {} is left out",
            duration(floor)
        ),
        summary,
    }
}

fn summary(
    before: f64,
    after: f64,
    phases: &[Phase],
    budgets: &Budgets,
    options: &RecommendOptions,
) -> String {
    if !phases.is_empty() {
        let changes: usize = phases.iter().map(|p| p.recommendations.len()).sum();
        return format!(
            "{changes} change{} in {} phase{} take{} the run from {} to {} ({:.0} % less)",
            if changes == 1 { "" } else { "s" },
            phases.len(),
            if phases.len() == 1 { "" } else { "s" },
            if changes == 1 { "s" } else { "" },
            duration(before),
            duration(after),
            percent(ratio(before - after, before))
        );
    }
    if let Some(budget) = far_inside_budget(before, budgets, options) {
        return format!(
            "The run took {} of its {} budget ({:.2} %), far inside it: below {:.0} % of the budget no speed-up is worth its risk, so none is planned",
            duration(before),
            duration(budget),
            percent(ratio(before, budget)),
            percent(options.budget_share)
        );
    }
    format!(
        "No change gains {} or more (the larger of {:.0} % of the run and the {} noise floor): nothing to plan",
        duration(gain_floor(before, options)),
        percent(options.min_gain_share),
        duration(options.noise_floor_seconds)
    )
}

pub(crate) fn percent(fraction: f64) -> f64 {
    fraction * 100.0
}
