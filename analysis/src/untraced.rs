//! Untraced time: the stretches of a span with children during which none of its children runs.
//!
//! Such a stretch is work the trace does not explain: the span was open, so the program was somewhere
//! inside it, but no child span says where. A leaf's time is the work it names and is not untraced; a
//! span with children that leaves gaps between them (or before the first, or after the last) holds time
//! that only more instrumentation can account for.

use crate::critical_path::Segment;
use crate::tree::SpanTree;

/// One stretch of a span during which none of its children runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gap {
    /// Index of the span in the [`SpanTree`].
    pub node: usize,
    /// Seconds from the run's start.
    pub start: f64,
    pub end: f64,
    /// The child that ended last before the gap, if any.
    pub previous: Option<usize>,
    /// The child that starts at the gap's end, if any.
    pub next: Option<usize>,
}

impl Gap {
    pub fn seconds(&self) -> f64 {
        self.end - self.start
    }

    /// Where the gap lies among the span's children, in words: "before init", "between init and
    /// discovery", "after reporting".
    pub fn place(&self, tree: &SpanTree) -> String {
        let name = |index: usize| tree.nodes[index].name.to_string();
        match (self.previous, self.next) {
            (None, Some(next)) => format!("before {}", name(next)),
            (Some(previous), Some(next)) => {
                format!("between {} and {}", name(previous), name(next))
            }
            (Some(previous), None) => format!("after {}", name(previous)),
            (None, None) => "outside any child span".to_owned(),
        }
    }

    /// Seconds of the gap inside `[start, end]`.
    fn overlap(&self, start: f64, end: f64) -> f64 {
        (self.end.min(end) - self.start.max(start)).max(0.0)
    }
}

/// The gaps of a span, in time order; none for a leaf.
pub fn gaps(tree: &SpanTree, index: usize) -> Vec<Gap> {
    let node = &tree.nodes[index];
    let mut gaps = Vec::new();
    if node.children.is_empty() {
        return gaps;
    }
    let mut reach = node.start;
    let mut previous = None;
    // Children come by start time, so a gap ends where the next child that reaches past `reach` starts.
    for &child in &node.children {
        let child_node = &tree.nodes[child];
        if child_node.start > reach {
            gaps.push(Gap {
                node: index,
                start: reach,
                end: child_node.start,
                previous,
                next: Some(child),
            });
        }
        if child_node.end >= reach {
            reach = child_node.end;
            previous = Some(child);
        }
    }
    if node.end > reach {
        gaps.push(Gap {
            node: index,
            start: reach,
            end: node.end,
            previous,
            next: None,
        });
    }
    gaps
}

/// The untraced seconds of each segment of `path`, by the segment's index.
pub fn on_path(tree: &SpanTree, path: &[Segment]) -> Vec<f64> {
    let mut cache: Vec<Option<Vec<Gap>>> = vec![None; tree.nodes.len()];
    path.iter()
        .map(|segment| {
            let gaps = cache[segment.node].get_or_insert_with(|| gaps(tree, segment.node));
            // Folded from zero: `sum` of no gaps (a leaf) is negative zero.
            gaps.iter()
                .map(|gap| gap.overlap(segment.start, segment.end))
                .fold(0.0, |total, seconds| total + seconds)
        })
        .collect()
}

/// A span's untraced time on the critical path, and its largest gap there.
#[derive(Debug, Clone, PartialEq)]
pub struct OnPath {
    pub node: usize,
    pub seconds: f64,
    pub largest: Gap,
}

/// Per span with untraced time on the path, most first.
pub fn spans_on_path(tree: &SpanTree, path: &[Segment]) -> Vec<OnPath> {
    // Each span's segments, in the order its first segment comes on the path.
    let mut segments_of: Vec<Vec<&Segment>> = vec![Vec::new(); tree.nodes.len()];
    let mut order = Vec::new();
    for segment in path {
        if segments_of[segment.node].is_empty() {
            order.push(segment.node);
        }
        segments_of[segment.node].push(segment);
    }
    let mut spans: Vec<OnPath> = order
        .into_iter()
        .filter_map(|node| {
            let segments = &segments_of[node];
            let measured: Vec<(Gap, f64)> = gaps(tree, node)
                .into_iter()
                .map(|gap| {
                    let seconds = segments.iter().map(|s| gap.overlap(s.start, s.end)).sum();
                    (gap, seconds)
                })
                .filter(|(_, seconds)| *seconds > 0.0)
                .collect();
            let (largest, _) = measured
                .iter()
                .copied()
                .max_by(|a, b| a.1.total_cmp(&b.1))?;
            Some(OnPath {
                node,
                seconds: measured.iter().map(|(_, s)| s).sum(),
                largest,
            })
        })
        .collect();
    spans.sort_by(|a, b| b.seconds.total_cmp(&a.seconds));
    spans
}
