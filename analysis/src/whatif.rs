//! What-if estimates: change the time of a stage or a session, or run a stage's sessions N-wide, and lay the
//! recorded span tree out again to see how long the run would take.
//!
//! The model, stated so every estimate can be read against it:
//! - A span's children keep their order. A child waits for its *predecessor*: the sibling that finished
//!   last before it started (within the skew tolerance), or the parent's start when none did. The gap
//!   between the two is the parent's own work and is kept.
//! - The time a span spends after its last child ends is kept too. So a span's new end is its children's
//!   latest new end plus that tail; a leaf keeps its duration.
//! - Re-timing a stage or session scales its whole subtree (its own work, its gaps and its descendants) by
//!   one factor: a percentage, or a fixed amount converted to the factor that changes the span by it.
//! - Re-timing a span's untraced time scales only the stretches the model keeps as the span's own work
//!   (before its first child, between a child and its predecessor, after its last child), not its children.
//! - Running a stage's children N-wide schedules them in their recorded order on N lanes, each starting
//!   when a lane frees. It assumes they are independent (IRONFORGE forbids edges across sessions) and that
//!   the machine has the cores and memory for N at once: the recommendations check the memory.
//! - Changes compose: several are applied to one layout, so a plan's gain is re-timed on the tree, never
//!   added up.

use std::collections::BTreeMap;

use ironforge_proto::semconv::{SpanKind, Stage};
use serde::{Deserialize, Serialize};

use crate::critical_path::{Segment, critical_path_of};
use crate::tree::SpanTree;
use crate::untraced::{self, Gap};

/// By how much a target's time changes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// Percent of its current time: `-25.0` makes it a quarter faster.
    Percent(f64),
    /// Seconds added (negative: removed), each time the target occurs.
    Seconds(f64),
}

/// What a change applies to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// The stage's spans (the `stage` span, or its topmost spans when it has none).
    Stage(Stage),
    /// Every span of the session in any stage, or in one stage only.
    Session {
        session_id: String,
        #[serde(default)]
        stage: Option<Stage>,
    },
    /// The time spans of this name (in this stage, or in any) spend outside their children: the untraced
    /// time (see [`crate::untraced`]). Their children keep their times.
    Untraced {
        span: String,
        #[serde(default)]
        stage: Option<Stage>,
    },
}

/// One change to the recorded run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scenario {
    Retime {
        target: Target,
        change: Change,
    },
    /// Run the stage's children `lanes` at a time.
    Widen {
        stage: Stage,
        lanes: u32,
    },
}

/// The run as a set of changes would lay it out: each span's new start and end (seconds from the run's
/// start, by node index of the tree), and the new critical path.
#[derive(Debug, Clone, PartialEq)]
pub struct Simulation {
    pub starts: Vec<f64>,
    pub ends: Vec<f64>,
    pub critical_path: Vec<Segment>,
}

impl Simulation {
    pub fn run_seconds(&self) -> f64 {
        match (self.starts.first(), self.ends.first()) {
            (Some(start), Some(end)) => end - start,
            _ => 0.0,
        }
    }
}

/// Lays the tree out again under `scenarios`.
pub fn simulate(tree: &SpanTree, scenarios: &[Scenario], skew_tolerance: f64) -> Simulation {
    let count = tree.nodes.len();
    let mut own_factor = vec![1.0f64; count];
    // Scales a span's own stretches between its children only; it does not flow down.
    let mut gap_factor = vec![1.0f64; count];
    let mut lanes: Vec<Option<usize>> = vec![None; count];
    for scenario in scenarios {
        match scenario {
            Scenario::Retime { target, change } => {
                for node in targets(tree, target) {
                    let factor = retime_factor(tree, node, target, *change);
                    match target {
                        Target::Untraced { .. } => gap_factor[node] *= factor,
                        _ => own_factor[node] *= factor,
                    }
                }
            }
            Scenario::Widen { stage, lanes: wide } => {
                for node in targets(tree, &Target::Stage(*stage)) {
                    lanes[node] = Some((*wide).max(1) as usize);
                }
            }
        }
    }
    // Nodes are stored parents first: factors flow down in order, durations come up in reverse.
    let mut factor = own_factor;
    for index in 1..count {
        if let Some(parent) = tree.nodes[index].parent {
            factor[index] *= factor[parent];
        }
    }
    let gap_scale: Vec<f64> = factor.iter().zip(&gap_factor).map(|(f, g)| f * g).collect();
    let mut duration = vec![0.0f64; count];
    let mut offset = vec![0.0f64; count];
    for index in (0..count).rev() {
        let node = &tree.nodes[index];
        if node.children.is_empty() {
            duration[index] = node.seconds() * factor[index];
            continue;
        }
        let latest_end = match lanes[index] {
            Some(lanes) => {
                schedule_on_lanes(tree, index, lanes, &gap_scale, &duration, &mut offset)
            }
            None => follow_predecessors(
                tree,
                index,
                skew_tolerance,
                &gap_scale,
                &duration,
                &mut offset,
            ),
        };
        let last_child_end = node
            .children
            .iter()
            .map(|&child| tree.nodes[child].end)
            .fold(node.start, f64::max);
        duration[index] = latest_end + (node.end - last_child_end).max(0.0) * gap_scale[index];
    }
    let mut starts = vec![0.0f64; count];
    for index in 1..count {
        if let Some(parent) = tree.nodes[index].parent {
            starts[index] = starts[parent] + offset[index];
        }
    }
    let ends: Vec<f64> = starts.iter().zip(&duration).map(|(s, d)| s + d).collect();
    let critical_path = critical_path_of(tree, &starts, &ends, skew_tolerance);
    Simulation {
        starts,
        ends,
        critical_path,
    }
}

/// The factor a retime scales `node`'s time by: a fixed amount is converted against the time the change
/// scales (the span's, or for an untraced-time target its gaps'). Never negative; 1 when it cannot be told.
fn retime_factor(tree: &SpanTree, node: usize, target: &Target, change: Change) -> f64 {
    let seconds = match target {
        Target::Untraced { .. } => untraced::gaps(tree, node).iter().map(Gap::seconds).sum(),
        _ => tree.nodes[node].seconds(),
    };
    let factor = match change {
        Change::Percent(percent) => 1.0 + percent / 100.0,
        Change::Seconds(delta) if seconds > 0.0 => (seconds + delta) / seconds,
        Change::Seconds(_) => 1.0,
    };
    if factor.is_finite() {
        factor.max(0.0)
    } else {
        1.0
    }
}

/// Offsets of a node's children after their predecessors; returns the latest child end, from the node's start.
/// `factor` scales each span's own stretches between its children.
fn follow_predecessors(
    tree: &SpanTree,
    index: usize,
    skew_tolerance: f64,
    factor: &[f64],
    duration: &[f64],
    offset: &mut [f64],
) -> f64 {
    let node = &tree.nodes[index];
    // Children already placed, by recorded end (in nanoseconds, for an ordered key).
    let mut ended: BTreeMap<i64, usize> = BTreeMap::new();
    let nanos = |seconds: f64| (seconds * 1e9).round() as i64;
    let mut latest = 0.0f64;
    for &child in &node.children {
        let recorded = &tree.nodes[child];
        let predecessor = ended
            .range(..=nanos(recorded.start + skew_tolerance))
            .next_back()
            .map(|(_, &p)| p);
        let (ready, ready_at) = match predecessor {
            Some(p) => (offset[p] + duration[p], tree.nodes[p].end),
            None => (0.0, node.start),
        };
        offset[child] = ready + (recorded.start - ready_at).max(0.0) * factor[index];
        latest = latest.max(offset[child] + duration[child]);
        ended.insert(nanos(recorded.end), child);
    }
    latest
}

/// Offsets of a node's children on `lanes` lanes in their recorded order; returns the latest child end.
fn schedule_on_lanes(
    tree: &SpanTree,
    index: usize,
    lanes: usize,
    factor: &[f64],
    duration: &[f64],
    offset: &mut [f64],
) -> f64 {
    let node = &tree.nodes[index];
    let head = node
        .children
        .first()
        .map_or(0.0, |&first| tree.nodes[first].start - node.start)
        * factor[index];
    let mut free = vec![head; lanes.min(node.children.len()).max(1)];
    let mut latest = head;
    for &child in &node.children {
        let (lane, at) = free
            .iter()
            .copied()
            .enumerate()
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .unwrap_or((0, head));
        offset[child] = at;
        let end = at + duration[child];
        if let Some(slot) = free.get_mut(lane) {
            *slot = end;
        }
        latest = latest.max(end);
    }
    latest
}

/// The topmost spans a target names: descendants of a matched span are scaled with it, not again. An
/// untraced-time target names every matching span, since its change does not reach their children.
pub fn targets(tree: &SpanTree, target: &Target) -> Vec<usize> {
    let matches = |index: usize| {
        let node = &tree.nodes[index];
        match target {
            Target::Stage(stage) => node.stage == Some(*stage) && node.kind != Some(SpanKind::Run),
            Target::Session { session_id, stage } => {
                node.session.as_deref() == Some(session_id.as_str())
                    && stage.is_none_or(|stage| node.stage == Some(stage))
            }
            Target::Untraced { span, stage } => {
                *node.name == **span && stage.is_none_or(|stage| node.stage == Some(stage))
            }
        }
    };
    let every = matches!(target, Target::Untraced { .. });
    (0..tree.nodes.len())
        .filter(|&index| {
            matches(index)
                && (every
                    || tree.nodes[index]
                        .parent
                        .is_none_or(|parent| !matches(parent)))
        })
        .collect()
}
