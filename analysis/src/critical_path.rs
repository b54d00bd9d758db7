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
    let mut segments = Vec::new();
    let mut node = 0;
    let mut point = tree.root().end;
    // Each step either descends (bounded by the tree's depth) or climbs with `point` moved strictly earlier.
    let step_limit = tree.nodes.len().saturating_mul(4).saturating_add(16);
    for _ in 0..step_limit {
        let current = &tree.nodes[node];
        let last_child = current
            .children
            .iter()
            .copied()
            .filter(|&child| {
                let child = &tree.nodes[child];
                child.start < point && child.end <= point + skew_tolerance
            })
            .max_by(|a, b| {
                let (a, b) = (&tree.nodes[*a], &tree.nodes[*b]);
                a.end.total_cmp(&b.end).then(a.start.total_cmp(&b.start))
            });
        if let Some(child) = last_child {
            let child_end = tree.nodes[child].end.min(point);
            push(&mut segments, node, child_end, point);
            point = child_end;
            node = child;
            continue;
        }
        push(&mut segments, node, current.start, point);
        match current.parent {
            Some(parent) => {
                point = current.start;
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
