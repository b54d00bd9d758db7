//! Where a run's time went, per stage and per session: wall time, time on the critical path, self time,
//! and the parallelism actually achieved.

use std::sync::Arc;

use foldhash::HashMap;
use ironforge_proto::semconv::{SpanKind, Stage};
use serde::{Deserialize, Serialize};

use crate::critical_path::Segment;
use crate::tree::SpanTree;
use crate::units::nanosecond_seconds;
use crate::whatif::{Target, targets};

/// One stage of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageBreakdown {
    pub stage: Stage,
    /// When the stage's first span started, in seconds from the run's start.
    #[serde(serialize_with = "nanosecond_seconds")]
    pub start_seconds: f64,
    /// When its last span ended, in seconds from the run's start.
    #[serde(serialize_with = "nanosecond_seconds")]
    pub end_seconds: f64,
    /// Wall time of the stage's spans.
    #[serde(serialize_with = "nanosecond_seconds")]
    pub seconds: f64,
    /// Time of the run's critical path spent in the stage.
    #[serde(serialize_with = "nanosecond_seconds")]
    pub critical_seconds: f64,
    /// `critical_seconds` over the run's critical path.
    pub critical_share: f64,
    /// Time the stage's own spans spent outside their children (set-up, merging, waiting).
    #[serde(serialize_with = "nanosecond_seconds")]
    pub self_seconds: f64,
    /// Time of the critical path in the stage's spans during which they run none of their children: work no
    /// span explains (see [`crate::untraced`]).
    #[serde(serialize_with = "nanosecond_seconds")]
    pub untraced_seconds: f64,
    /// `untraced_seconds` over the run's critical path.
    pub untraced_share: f64,
    /// Sum of the durations of the stage's sessions (or of its spans' children when it has no sessions).
    #[serde(serialize_with = "nanosecond_seconds")]
    pub busy_seconds: f64,
    /// `busy_seconds` over `seconds`: 1 for sessions run one after another, N for N-wide.
    pub parallelism: f64,
    pub sessions: u32,
}

/// One session in one stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionBreakdown {
    pub session_id: Arc<str>,
    pub stage: Option<Stage>,
    /// Seconds from the run's start.
    #[serde(serialize_with = "nanosecond_seconds")]
    pub start_seconds: f64,
    #[serde(serialize_with = "nanosecond_seconds")]
    pub seconds: f64,
    #[serde(serialize_with = "nanosecond_seconds")]
    pub critical_seconds: f64,
    #[serde(serialize_with = "nanosecond_seconds")]
    pub self_seconds: f64,
}

/// Per stage, in pipeline order, the stages the run has. `untraced` holds the untraced seconds of each
/// segment of `path` ([`crate::untraced::on_path`]).
pub fn stages(tree: &SpanTree, path: &[Segment], untraced: &[f64]) -> Vec<StageBreakdown> {
    let path_seconds: f64 = path.iter().map(Segment::seconds).sum();
    Stage::ALL
        .iter()
        .filter_map(|&stage| {
            let tops = targets(tree, &Target::Stage(stage));
            if tops.is_empty() {
                return None;
            }
            let seconds = tops.iter().map(|&t| tree.nodes[t].seconds()).sum::<f64>();
            let in_stage = |segment: &&Segment| tree.nodes[segment.node].stage == Some(stage);
            let critical_seconds = path
                .iter()
                .filter(in_stage)
                .map(Segment::seconds)
                .sum::<f64>();
            let untraced_seconds = path
                .iter()
                .zip(untraced)
                .filter(|(segment, _)| in_stage(segment))
                .map(|(_, seconds)| seconds)
                .sum::<f64>();
            let self_seconds = tops.iter().map(|&t| tree.self_seconds(t)).sum::<f64>();
            let sessions: Vec<usize> = (0..tree.nodes.len())
                .filter(|&i| {
                    let node = &tree.nodes[i];
                    node.stage == Some(stage) && node.kind == Some(SpanKind::Session)
                })
                .collect();
            let busy_seconds = if sessions.is_empty() {
                tops.iter()
                    .flat_map(|&t| &tree.nodes[t].children)
                    .map(|&c| tree.nodes[c].seconds())
                    .sum()
            } else {
                sessions.iter().map(|&s| tree.nodes[s].seconds()).sum()
            };
            let start_seconds = tops
                .iter()
                .map(|&t| tree.nodes[t].start)
                .fold(f64::INFINITY, f64::min);
            let end_seconds = tops.iter().map(|&t| tree.nodes[t].end).fold(0.0, f64::max);
            Some(StageBreakdown {
                stage,
                start_seconds,
                end_seconds,
                seconds,
                critical_seconds,
                critical_share: ratio(critical_seconds, path_seconds),
                self_seconds,
                untraced_seconds,
                untraced_share: ratio(untraced_seconds, path_seconds),
                busy_seconds,
                parallelism: ratio(busy_seconds, seconds),
                sessions: u32::try_from(sessions.len()).unwrap_or(u32::MAX),
            })
        })
        .collect()
}

/// Per session span, slowest first.
pub fn sessions(tree: &SpanTree, path: &[Segment]) -> Vec<SessionBreakdown> {
    // Critical time of each session span, from the segments of it and its descendants.
    let mut session_of = vec![None; tree.nodes.len()];
    for (index, node) in tree.nodes.iter().enumerate() {
        session_of[index] = if node.kind == Some(SpanKind::Session) {
            Some(index)
        } else {
            node.parent.and_then(|parent| session_of[parent])
        };
    }
    let mut critical: HashMap<usize, f64> = HashMap::default();
    for segment in path {
        if let Some(session) = session_of[segment.node] {
            *critical.entry(session).or_default() += segment.seconds();
        }
    }
    let mut sessions: Vec<SessionBreakdown> = tree
        .nodes
        .iter()
        .enumerate()
        .filter(|(_, node)| node.kind == Some(SpanKind::Session))
        .map(|(index, node)| SessionBreakdown {
            session_id: Arc::clone(node.session.as_ref().unwrap_or(&node.name)),
            stage: node.stage,
            start_seconds: node.start,
            seconds: node.seconds(),
            critical_seconds: critical.get(&index).copied().unwrap_or(0.0),
            self_seconds: tree.self_seconds(index),
        })
        .collect();
    sessions.sort_by(|a, b| b.seconds.total_cmp(&a.seconds));
    sessions
}

/// `part / whole`, 0 when the whole is not positive.
pub(crate) fn ratio(part: f64, whole: f64) -> f64 {
    if whole > 0.0 && part.is_finite() {
        // An empty sum is negative zero: its share is zero, not "-0".
        part / whole + 0.0
    } else {
        0.0
    }
}
