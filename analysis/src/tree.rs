//! A decided trace's spans as a tree, in seconds from the root's start, with every child clipped to its
//! parent: the shape the critical path and the what-if estimates walk.

use std::sync::Arc;

use foldhash::HashMap;
use ironforge_engine::DecidedSpan;
use ironforge_engine::model::SpanId;
use ironforge_proto::semconv::{SpanKind, Stage};

/// A span in the tree. Times are seconds from the root's start.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub span_id: SpanId,
    pub name: Arc<str>,
    pub kind: Option<SpanKind>,
    /// The span's stage, or its nearest ancestor's.
    pub stage: Option<Stage>,
    /// The span's session, or its nearest ancestor's.
    pub session: Option<Arc<str>>,
    pub start: f64,
    pub end: f64,
    /// `None` for the root.
    pub parent: Option<usize>,
    /// Indexes of the children, by start time (then end time).
    pub children: Vec<usize>,
    pub memory_bytes: Option<u64>,
    /// When the span ended, as the trace recorded it: memory samples are ordered by it.
    pub end_unix_nano: u64,
}

impl Node {
    pub fn seconds(&self) -> f64 {
        self.end - self.start
    }
}

/// The spans of one trace, rooted at its run.
#[derive(Debug, Clone, PartialEq)]
pub struct SpanTree {
    /// The root is at index 0.
    pub nodes: Vec<Node>,
    /// Spans whose parent was not among the trace's spans (or that formed a cycle), hung under the root.
    pub orphans: usize,
    /// Spans that started before their parent or ended after it, clipped to it (clock skew).
    pub clipped: usize,
}

impl SpanTree {
    /// The tree of a trace's spans; `None` when there are none. The root is the `run` span, or else the
    /// earliest span without a parent, or else the earliest span.
    pub fn new(spans: &[DecidedSpan]) -> Option<Self> {
        let root = root_index(spans)?;
        let mut links = Links::of(spans, root);
        let (order, orphans) = links.hang_orphans(root);
        let (nodes, clipped) = clip_in_order(spans, root, &links.parent, &order);
        let mut tree = Self {
            nodes,
            orphans,
            clipped,
        };
        tree.sort_children();
        Some(tree)
    }

    /// Orders every span's children by start (then end) time, as the walks expect.
    fn sort_children(&mut self) {
        let times: Vec<(f64, f64)> = self.nodes.iter().map(|n| (n.start, n.end)).collect();
        for node in &mut self.nodes {
            node.children.sort_by(|a, b| {
                times[*a]
                    .partial_cmp(&times[*b])
                    .unwrap_or(std::cmp::Ordering::Equal)
            });
        }
    }

    pub fn root(&self) -> &Node {
        &self.nodes[0]
    }

    /// The run's wall time in seconds.
    pub fn run_seconds(&self) -> f64 {
        self.root().seconds()
    }

    /// Time of a span not covered by any of its children.
    pub fn self_seconds(&self, index: usize) -> f64 {
        let node = &self.nodes[index];
        let mut covered = 0.0;
        let mut reach = node.start;
        for &child in &node.children {
            let child = &self.nodes[child];
            if child.end > reach {
                covered += child.end - child.start.max(reach);
                reach = child.end;
            }
        }
        (node.seconds() - covered).max(0.0)
    }
}

/// Each span's parent and children, by the spans' original indexes.
struct Links {
    parent: Vec<Option<usize>>,
    children: Vec<Vec<usize>>,
}

impl Links {
    /// Links every span to its parent among `spans`; the root and orphans hang under nothing yet.
    fn of(spans: &[DecidedSpan], root: usize) -> Links {
        let by_id: HashMap<SpanId, usize> = spans
            .iter()
            .enumerate()
            .map(|(index, span)| (span.span_id, index))
            .collect();
        let mut parent: Vec<Option<usize>> = spans
            .iter()
            .enumerate()
            .map(|(index, span)| {
                let parent = by_id.get(&span.parent_span_id?).copied()?;
                (index != root && parent != index).then_some(parent)
            })
            .collect();
        if let Some(slot) = parent.get_mut(root) {
            *slot = None;
        }
        let mut children: Vec<Vec<usize>> = vec![Vec::new(); spans.len()];
        for (index, parent) in parent.iter().enumerate() {
            if let Some(parent) = parent {
                children[*parent].push(index);
            }
        }
        Links { parent, children }
    }

    /// Hangs whatever the root does not reach (no parent in the trace, or a cycle) under the root. Returns
    /// every span breadth first from the root, and how many were hung.
    fn hang_orphans(&mut self, root: usize) -> (Vec<usize>, usize) {
        let count = self.parent.len();
        let mut reached = vec![false; count];
        let mut orphans = 0;
        let mut order = Vec::with_capacity(count);
        let mut next = 0;
        reach(root, &self.children, &mut reached, &mut order);
        while next < count {
            if !reached[next] {
                // Hang the topmost unreached ancestor, so an orphaned subtree stays whole.
                let mut top = next;
                for _ in 0..count {
                    match self.parent[top] {
                        Some(up) if !reached[up] && up != next => top = up,
                        _ => break,
                    }
                }
                orphans += 1;
                self.parent[top] = Some(root);
                self.children[root].push(top);
                reach(top, &self.children, &mut reached, &mut order);
                continue;
            }
            next += 1;
        }
        (order, orphans)
    }
}

/// The nodes in `order`, in seconds from the root's start, each clipped to its parent and inheriting its
/// stage and session; and how many were clipped. Breadth-first order puts every parent before its
/// children, so one pass does it.
fn clip_in_order(
    spans: &[DecidedSpan],
    root: usize,
    parent: &[Option<usize>],
    order: &[usize],
) -> (Vec<Node>, usize) {
    let origin = spans[root].start_unix_nano;
    let seconds = |nanos: u64| (i128::from(nanos) - i128::from(origin)) as f64 / 1e9;
    let mut new_index = vec![0usize; spans.len()];
    let mut nodes: Vec<Node> = Vec::with_capacity(spans.len());
    let mut clipped = 0;
    for &old in order {
        let span = &spans[old];
        let parent_new = parent[old].map(|p| new_index[p]);
        let (mut start, mut end) = (seconds(span.start_unix_nano), seconds(span.end_unix_nano));
        let (mut stage, mut session) = (span.stage, span.session_id.clone());
        if let Some(p) = parent_new.and_then(|p| nodes.get(p)) {
            let (s, e) = (start.clamp(p.start, p.end), end.clamp(p.start, p.end));
            if (s, e) != (start, end) {
                clipped += 1;
            }
            (start, end) = (s, e.max(s));
            stage = stage.or(p.stage);
            session = session.or_else(|| p.session.clone());
        }
        let index = nodes.len();
        new_index[old] = index;
        if let Some(p) = parent_new.and_then(|p| nodes.get_mut(p)) {
            p.children.push(index);
        }
        nodes.push(Node {
            span_id: span.span_id,
            name: Arc::clone(&span.name),
            kind: span.kind,
            stage,
            session,
            start,
            end,
            parent: parent_new,
            children: Vec::new(),
            memory_bytes: span.memory_bytes,
            end_unix_nano: span.end_unix_nano,
        });
    }
    (nodes, clipped)
}

fn root_index(spans: &[DecidedSpan]) -> Option<usize> {
    let earliest = |candidates: &mut dyn Iterator<Item = (usize, &DecidedSpan)>| {
        candidates
            .min_by_key(|(_, span)| (span.start_unix_nano, std::cmp::Reverse(span.end_unix_nano)))
            .map(|(index, _)| index)
    };
    earliest(
        &mut spans
            .iter()
            .enumerate()
            .filter(|(_, s)| s.kind == Some(SpanKind::Run)),
    )
    .or_else(|| {
        earliest(
            &mut spans
                .iter()
                .enumerate()
                .filter(|(_, s)| s.parent_span_id.is_none()),
        )
    })
    .or_else(|| earliest(&mut spans.iter().enumerate()))
}

/// Appends `from` and everything under it not yet reached, breadth first.
fn reach(from: usize, children: &[Vec<usize>], reached: &mut [bool], order: &mut Vec<usize>) {
    if reached[from] {
        return;
    }
    reached[from] = true;
    let first = order.len();
    order.push(from);
    let mut cursor = first;
    while cursor < order.len() {
        let node = order[cursor];
        for &child in &children[node] {
            if !reached[child] {
                reached[child] = true;
                order.push(child);
            }
        }
        cursor += 1;
    }
}
