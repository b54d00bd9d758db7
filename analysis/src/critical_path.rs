//! The critical path of a trace, as Jaeger defines it: from the root's end, repeatedly step into the child
//! that finished last before the current point, and climb back to the parent at that child's start.
//!
//! Children are clipped to their parents when the tree is built. A child counts as finishing "before" the
//! point when it ends no later than the point plus a tolerance: clocks of different hosts disagree by a few
//! milliseconds, and a sibling that overlaps its successor by less than that still came first.

use serde::Serialize;

use crate::tree::SpanTree;

/// Default tolerance for sibling overlaps, in seconds.
pub const DEFAULT_SKEW_TOLERANCE_SECONDS: f64 = 0.001;

/// A stretch of the critical path spent in one span (not in any of its children).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Segment {
    /// Index of the span in the [`SpanTree`].
    #[serde(skip)]
    pub node: usize,
    /// Seconds from the root's start.
    pub start: f64,
    pub end: f64,
}

impl Segment {
    pub fn seconds(&self) -> f64 {
        self.end - self.start
    }
}

/// The critical path, in time order.
pub fn critical_path(tree: &SpanTree, skew_tolerance: f64) -> Vec<Segment> {
    let starts: Vec<f64> = tree.nodes.iter().map(|node| node.start).collect();
    let ends: Vec<f64> = tree.nodes.iter().map(|node| node.end).collect();
    critical_path_of(tree, &starts, &ends, skew_tolerance)
}

/// The critical path of `tree`'s shape with the span times `starts` and `ends` (seconds, by node index):
/// the recorded times, or those a what-if layout gives.
pub(crate) fn critical_path_of(
    tree: &SpanTree,
    starts: &[f64],
    ends: &[f64],
    skew_tolerance: f64,
) -> Vec<Segment> {
    // Children by end time (then start): the last child finishing before a point is found from the back,
    // in one or two steps for the usual chain of sessions instead of a scan of every sibling.
    let by_end: Vec<Vec<usize>> = tree
        .nodes
        .iter()
        .map(|node| {
            let mut children = node.children.clone();
            children.sort_by(|&a, &b| {
                ends[a]
                    .total_cmp(&ends[b])
                    .then(starts[a].total_cmp(&starts[b]))
            });
            children
        })
        .collect();
    let mut segments = Vec::new();
    let mut node = 0;
    let mut point = ends[0];
    // Each step either descends (bounded by the tree's depth) or climbs with `point` moved strictly earlier.
    let step_limit = tree.nodes.len().saturating_mul(4).saturating_add(16);
    for _ in 0..step_limit {
        let last_child = by_end[node]
            .iter()
            .rev()
            .skip_while(|&&child| ends[child] > point + skew_tolerance)
            .find(|&&child| starts[child] < point)
            .copied();
        if let Some(child) = last_child {
            let child_end = ends[child].min(point);
            push(&mut segments, node, child_end, point);
            point = child_end;
            node = child;
            continue;
        }
        push(&mut segments, node, starts[node], point);
        match tree.nodes[node].parent {
            Some(parent) => {
                point = starts[node];
                node = parent;
            }
            None => break,
        }
    }
    segments.reverse();
    segments
}

fn push(segments: &mut Vec<Segment>, node: usize, start: f64, end: f64) {
    if end > start {
        segments.push(Segment { node, start, end });
    }
}
