//! Bottlenecks across recent runs: the stages and sessions that dominate the critical path or overrun their
//! share of the time budget, ranked.
//!
//! Subjects are stages, sessions, and the untraced time of spans (their time on the critical path outside
//! their children, see [`crate::untraced`]), so work no span explains ranks beside the stages.
//!
//! Severity, by rule, from the subject's worst run in the window against its budget (a stage's budget is its
//! sessions times the session limit; a session's is the session limit; the untraced time of a span outside
//! every stage, the run's own, has the run's limit): `critical` when over it, `high` at
//! 80 % of it or when the subject holds half the critical path on average, `medium` at a fifth of the
//! critical path, `low` otherwise. One overrun is enough to be critical: it broke a contract. Ranked by mean
//! time on the critical path.

use std::collections::VecDeque;

use foldhash::HashMap;
use ironforge_engine::model::TraceId;
use ironforge_proto::semconv::Stage;
use serde::Serialize;

use crate::breakdown::ratio;
use crate::budget::Budgets;
use crate::trace::TraceAnalysis;

/// What a bottleneck is.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Subject {
    Stage {
        stage: Stage,
    },
    Session {
        session_id: String,
        stage: Option<Stage>,
    },
    /// The time spans of this name spend on the critical path outside their children.
    Untraced {
        span: String,
        stage: Option<Stage>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bottleneck {
    pub rank: u32,
    pub subject: Subject,
    pub severity: Severity,
    /// Runs of the window the subject appeared in.
    pub traces: usize,
    pub mean_seconds: f64,
    /// The subject's slowest run in the window.
    pub max_seconds: f64,
    /// Runs in which the subject took longer than its budget.
    pub over_budget_runs: usize,
    pub mean_critical_seconds: f64,
    pub mean_critical_share: f64,
    pub budget_seconds: Option<f64>,
    /// `max_seconds` over the budget.
    pub budget_ratio: Option<f64>,
    /// The runs where it held the largest share of the critical path, largest first (up to five).
    pub trace_ids: Vec<TraceId>,
}

/// What one run contributes to the window: enough to rank without keeping its span tree.
#[derive(Debug, Clone, PartialEq)]
struct Digest {
    trace_id: TraceId,
    critical_path_seconds: f64,
    /// (subject, seconds, critical seconds, budget)
    subjects: Vec<(Subject, f64, f64, Option<f64>)>,
}

/// The last `capacity` runs' digests.
#[derive(Debug, Clone)]
pub struct BottleneckWindow {
    capacity: usize,
    digests: VecDeque<Digest>,
}

/// Sessions kept per run: the ones that can rank are among the slowest on the critical path.
const SESSIONS_PER_RUN: usize = 20;

/// Spans with untraced time kept per run, the most first.
const UNTRACED_PER_RUN: usize = 5;

impl BottleneckWindow {
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            digests: VecDeque::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.digests.len()
    }

    pub fn is_empty(&self) -> bool {
        self.digests.is_empty()
    }

    pub fn push(&mut self, analysis: &TraceAnalysis, budgets: &Budgets) {
        let mut subjects: Vec<(Subject, f64, f64, Option<f64>)> = analysis
            .stages
            .iter()
            .map(|stage| {
                (
                    Subject::Stage { stage: stage.stage },
                    stage.seconds,
                    stage.critical_seconds,
                    budgets.stage_seconds(stage.sessions),
                )
            })
            .collect();
        let mut sessions: Vec<_> = analysis
            .sessions
            .iter()
            .filter(|s| s.critical_seconds > 0.0)
            .collect();
        sessions.sort_by(|a, b| b.critical_seconds.total_cmp(&a.critical_seconds));
        subjects.extend(sessions.into_iter().take(SESSIONS_PER_RUN).map(|session| {
            (
                Subject::Session {
                    session_id: session.session_id.to_string(),
                    stage: session.stage,
                },
                session.seconds,
                session.critical_seconds,
                budgets.session_seconds,
            )
        }));
        subjects.extend(untraced(analysis, budgets));
        self.digests.push_back(Digest {
            trace_id: analysis.trace_id,
            critical_path_seconds: analysis.critical_path_seconds,
            subjects,
        });
        while self.digests.len() > self.capacity {
            self.digests.pop_front();
        }
    }

    /// The ranked bottlenecks, at most `limit`.
    pub fn ranked(&self, limit: usize) -> Vec<Bottleneck> {
        #[derive(Default)]
        struct Sum {
            traces: usize,
            seconds: f64,
            max: f64,
            over: usize,
            critical: f64,
            share: f64,
            budget: Option<f64>,
            shares: Vec<(f64, TraceId)>,
        }
        let mut sums: HashMap<Subject, Sum> = HashMap::default();
        let mut order: Vec<Subject> = Vec::new();
        for digest in &self.digests {
            for (subject, seconds, critical, budget) in &digest.subjects {
                let sum = sums.entry(subject.clone()).or_insert_with(|| {
                    order.push(subject.clone());
                    Sum::default()
                });
                let share = ratio(*critical, digest.critical_path_seconds);
                sum.traces += 1;
                sum.seconds += seconds;
                sum.max = sum.max.max(*seconds);
                sum.over += usize::from(budget.is_some_and(|b| *seconds > b));
                sum.critical += critical;
                sum.share += share;
                sum.budget = sum.budget.or(*budget);
                sum.shares.push((share, digest.trace_id));
            }
        }
        let mut ranked: Vec<Bottleneck> = order
            .into_iter()
            .filter_map(|subject| {
                let mut sum = sums.remove(&subject)?;
                let n = sum.traces as f64;
                let (mean_seconds, mean_critical_share) = (sum.seconds / n, sum.share / n);
                let budget_ratio = sum.budget.map(|budget| ratio(sum.max, budget));
                sum.shares.sort_by(|a, b| b.0.total_cmp(&a.0));
                Some(Bottleneck {
                    rank: 0,
                    severity: severity(budget_ratio, mean_critical_share),
                    subject,
                    traces: sum.traces,
                    mean_seconds,
                    max_seconds: sum.max,
                    over_budget_runs: sum.over,
                    mean_critical_seconds: sum.critical / n,
                    mean_critical_share,
                    budget_seconds: sum.budget,
                    budget_ratio,
                    trace_ids: sum.shares.into_iter().take(5).map(|(_, id)| id).collect(),
                })
            })
            .collect();
        ranked.sort_by(|a, b| {
            b.mean_critical_seconds
                .total_cmp(&a.mean_critical_seconds)
                .then(b.severity.cmp(&a.severity))
        });
        ranked.truncate(limit);
        for (rank, bottleneck) in ranked.iter_mut().enumerate() {
            bottleneck.rank = u32::try_from(rank + 1).unwrap_or(u32::MAX);
        }
        ranked
    }
}

fn severity(budget_ratio: Option<f64>, share: f64) -> Severity {
    match budget_ratio {
        Some(r) if r >= 1.0 => Severity::Critical,
        Some(r) if r >= 0.8 => Severity::High,
        _ if share >= 0.5 => Severity::High,
        _ if share >= 0.2 => Severity::Medium,
        _ => Severity::Low,
    }
}

/// The untraced time of each span name (and stage) on the run's critical path, the most first.
fn untraced(analysis: &TraceAnalysis, budgets: &Budgets) -> Vec<(Subject, f64, f64, Option<f64>)> {
    let mut sums: Vec<(Subject, f64)> = Vec::new();
    for step in analysis
        .critical_path
        .iter()
        .filter(|s| s.untraced_seconds > 0.0)
    {
        let subject = Subject::Untraced {
            span: step.name.to_string(),
            stage: step.stage,
        };
        match sums.iter_mut().find(|(s, _)| *s == subject) {
            Some((_, seconds)) => *seconds += step.untraced_seconds,
            None => sums.push((subject, step.untraced_seconds)),
        }
    }
    sums.sort_by(|a, b| b.1.total_cmp(&a.1));
    sums.into_iter()
        .take(UNTRACED_PER_RUN)
        .map(|(subject, seconds)| {
            let budget = match &subject {
                Subject::Untraced { stage: None, .. } => budgets.run_seconds,
                _ => None,
            };
            (subject, seconds, seconds, budget)
        })
        .collect()
}
