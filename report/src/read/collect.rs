//! What the check keeps of each decided trace. Totals count every trace; the report lists at most
//! `--max-trace-details` of them with their violations and analysis, failing ones first, so a check of
//! thousands of runs holds (and prints) a bounded report rather than one that grows with the input.

use std::collections::{BTreeMap, HashMap, VecDeque};

use ironforge_analysis::TraceAnalysis;
use ironforge_analysis::baseline::Distribution;

use crate::check::{Checked, Outcome, StageDistribution, StageMean, TraceReport, WHOLE_RUN};
use crate::model::TraceId;
use crate::verdict::VerdictStatus;

/// What one trace adds to the totals: enough to take it back out when its verdict is revised.
#[derive(Debug, Clone, Copy, Default)]
struct Tally {
    outcome: Option<Outcome>,
    incomplete: bool,
    production_ready: bool,
    violations: u64,
    blocking_violations: u64,
    regressions: usize,
}

impl Tally {
    fn of(trace: &TraceReport) -> Self {
        Self {
            outcome: Some(trace.outcome),
            incomplete: trace.verdict.status == VerdictStatus::Incomplete,
            production_ready: trace.verdict.production_ready,
            violations: trace.violation_count(),
            blocking_violations: trace
                .verdict
                .violations
                .iter()
                .filter(|violation| violation.blocks_production)
                .count() as u64,
            regressions: trace.regressions.len(),
        }
    }
}

/// Decided traces as they come: every one counted, the most telling listed.
#[derive(Debug)]
pub(super) struct Collector {
    max_details: usize,
    /// Listed traces by outcome (pass, warn, fail), each in the order decided.
    listed: [Vec<TraceReport>; 3],
    /// The tallies of the traces the engine may still revise (it keeps `recent_limit` verdicts), so a
    /// revision can take the old tally out of the totals.
    recent: HashMap<TraceId, Tally>,
    recent_order: VecDeque<TraceId>,
    recent_limit: usize,
    /// The trace last added, when it was listed: its analysis follows.
    last_listed: Option<TraceId>,
    checked: Checked,
    /// Each service's stages' (and whole runs') seconds, a sample per trace, over every trace.
    stages: BTreeMap<(Option<String>, String), Vec<f64>>,
}

fn rank(outcome: Outcome) -> usize {
    match outcome {
        Outcome::Pass => 0,
        Outcome::Warn => 1,
        Outcome::Fail => 2,
    }
}

impl Collector {
    /// Lists at most `max_details` traces; `recent_limit` is how many decided verdicts the engine keeps
    /// (and may revise).
    pub(super) fn new(max_details: usize, recent_limit: usize) -> Self {
        Self {
            max_details,
            listed: Default::default(),
            recent: HashMap::new(),
            recent_order: VecDeque::new(),
            recent_limit,
            last_listed: None,
            checked: Checked::default(),
            stages: BTreeMap::new(),
        }
    }

    /// The counts gathered while reading, beside the traces.
    pub(super) fn checked_mut(&mut self) -> &mut Checked {
        &mut self.checked
    }

    /// A trace just decided.
    pub(super) fn add(&mut self, trace: TraceReport) {
        let service = &trace.verdict.service_name;
        let stages = trace
            .verdict
            .stage_durations
            .iter()
            .map(|stage| (stage.stage.as_str(), stage.seconds));
        for (stage, seconds) in stages.chain(trace.run_seconds.map(|run| (WHOLE_RUN, run))) {
            self.stages
                .entry((service.clone(), stage.to_owned()))
                .or_default()
                .push(seconds);
        }
        let tally = Tally::of(&trace);
        self.count(tally, true);
        let id = trace.verdict.trace_id;
        if self.recent_limit > 0 {
            if self.recent_order.len() >= self.recent_limit
                && let Some(oldest) = self.recent_order.pop_front()
            {
                self.recent.remove(&oldest);
            }
            self.recent_order.push_back(id);
            self.recent.insert(id, tally);
        }
        self.last_listed = self.list(trace).then_some(id);
    }

    /// The analysis of the trace just added, kept when that trace is listed; says whether it was wanted,
    /// so an unlisted trace costs no analysis.
    pub(super) fn wants_analysis(&self, trace_id: &TraceId) -> bool {
        self.last_listed == Some(*trace_id)
    }

    /// Attaches the analysis of the trace just added.
    pub(super) fn analysis(&mut self, trace_id: &TraceId, analysis: Option<TraceAnalysis>) {
        if let Some(trace) = self
            .listed
            .iter_mut()
            .flat_map(|list| list.iter_mut().rev())
            .find(|trace| trace.verdict.trace_id == *trace_id)
        {
            trace.analysis = analysis;
        }
    }

    /// A decided trace's verdict changed: late spans brought violations.
    pub(super) fn revise(&mut self, revised: TraceReport) {
        let id = revised.verdict.trace_id;
        if let Some(old) = self.recent.get_mut(&id) {
            let new = Tally::of(&revised);
            let old = std::mem::replace(old, new);
            self.count(old, false);
            self.count(new, true);
        }
        let mut analysis = None;
        for list in &mut self.listed {
            if let Some(at) = list.iter().position(|trace| trace.verdict.trace_id == id) {
                analysis = list.remove(at).analysis;
                break;
            }
        }
        self.list(TraceReport {
            analysis,
            ..revised
        });
    }

    /// Adds a trace to the list when there is room, or in place of the trace listed last among those of
    /// the best outcome better than its own; says whether it was listed.
    fn list(&mut self, trace: TraceReport) -> bool {
        let rank = rank(trace.outcome);
        if self.listed_count() >= self.max_details {
            let Some(lower) = (0..rank).find(|lower| !self.listed[*lower].is_empty()) else {
                return false;
            };
            self.listed[lower].pop();
        }
        self.listed[rank].push(trace);
        true
    }

    fn listed_count(&self) -> usize {
        self.listed.iter().map(Vec::len).sum()
    }

    fn count(&mut self, tally: Tally, add: bool) {
        let totals = &mut self.checked.totals;
        let step = |count: &mut usize, by: usize| {
            *count = if add {
                count.saturating_add(by)
            } else {
                count.saturating_sub(by)
            }
        };
        let step64 = |count: &mut u64, by: u64| {
            *count = if add {
                count.saturating_add(by)
            } else {
                count.saturating_sub(by)
            }
        };
        step(&mut totals.traces, 1);
        match tally.outcome {
            Some(Outcome::Pass) => step(&mut totals.passed, 1),
            Some(Outcome::Warn) => step(&mut totals.warned, 1),
            Some(Outcome::Fail) => step(&mut totals.failed, 1),
            None => {}
        }
        step(&mut totals.incomplete, usize::from(tally.incomplete));
        step(
            &mut totals.production_ready,
            usize::from(tally.production_ready),
        );
        step64(&mut totals.violations, tally.violations);
        step64(&mut totals.blocking_violations, tally.blocking_violations);
        step(&mut totals.regressions, tally.regressions);
    }

    /// The listed traces in report order (by service, then trace id), with the totals and stage means.
    pub(super) fn finish(self) -> Checked {
        let mut checked = self.checked;
        let mut traces: Vec<TraceReport> = self.listed.into_iter().flatten().collect();
        traces.sort_by(|a, b| {
            (&a.verdict.service_name, a.verdict.trace_id)
                .cmp(&(&b.verdict.service_name, b.verdict.trace_id))
        });
        checked.totals.traces_listed = traces.len();
        checked.traces = traces;
        checked.stage_means = self
            .stages
            .iter()
            .filter(|((_, stage), _)| stage != WHOLE_RUN)
            .map(|((service_name, stage), samples)| StageMean {
                service_name: service_name.clone(),
                stage: stage.clone(),
                traces: samples.len() as u64,
                mean_seconds: samples.iter().sum::<f64>() / samples.len().max(1) as f64,
            })
            .collect();
        checked.stage_distributions = self
            .stages
            .into_iter()
            .map(|((service_name, stage), samples)| StageDistribution {
                service_name,
                stage,
                distribution: Distribution::of(samples),
            })
            .collect();
        checked
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verdict::TraceVerdict;

    fn trace(id: u8, outcome: Outcome) -> TraceReport {
        let verdict = TraceVerdict {
            trace_id: TraceId([id; 16]),
            status: match outcome {
                Outcome::Pass => VerdictStatus::Pass,
                Outcome::Warn => VerdictStatus::Warn,
                Outcome::Fail => VerdictStatus::Fail,
            },
            production_ready: outcome != Outcome::Fail,
            violations: Vec::new(),
            violations_over_limit: 0,
            stage_durations: Vec::new(),
            span_count: 1,
            incomplete_reason: None,
            decided_unix_nano: 0,
            service_name: None,
            evicted: false,
            attributes_truncated: 0,
        };
        TraceReport::new(verdict, Vec::new())
    }

    fn listed(checked: &Checked) -> Vec<u8> {
        checked
            .traces
            .iter()
            .map(|t| t.verdict.trace_id.0[0])
            .collect()
    }

    #[test]
    fn failing_traces_take_the_place_of_passing_ones_and_every_trace_is_counted() {
        let mut collector = Collector::new(2, 10);
        collector.add(trace(1, Outcome::Pass));
        collector.add(trace(2, Outcome::Pass));
        collector.add(trace(3, Outcome::Pass));
        collector.add(trace(4, Outcome::Fail));
        collector.add(trace(5, Outcome::Warn));
        collector.add(trace(6, Outcome::Fail));
        collector.add(trace(7, Outcome::Fail));
        let checked = collector.finish();
        assert_eq!(listed(&checked), [4, 6]);
        let totals = &checked.totals;
        assert_eq!(
            (totals.traces, totals.passed, totals.warned, totals.failed),
            (7, 3, 1, 3)
        );
        assert_eq!(totals.traces_listed, 2);
    }

    #[test]
    fn a_revised_verdict_moves_its_trace_between_the_totals() {
        let mut collector = Collector::new(1, 10);
        collector.add(trace(1, Outcome::Pass));
        collector.add(trace(2, Outcome::Pass));
        collector.revise(trace(2, Outcome::Fail));
        let checked = collector.finish();
        assert_eq!(listed(&checked), [2]);
        let totals = &checked.totals;
        assert_eq!((totals.traces, totals.passed, totals.failed), (2, 1, 1));
    }

    #[test]
    fn analysis_is_wanted_only_for_a_listed_trace() {
        let mut collector = Collector::new(1, 10);
        collector.add(trace(1, Outcome::Fail));
        assert!(collector.wants_analysis(&TraceId([1; 16])));
        collector.add(trace(2, Outcome::Pass));
        assert!(!collector.wants_analysis(&TraceId([2; 16])));
    }
}
