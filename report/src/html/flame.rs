//! The critical-path flame graph: critical time summed per stage → session → span name over many runs,
//! drawn as an icicle whose widths are proportional to the summed time.

use std::collections::BTreeMap;

use ironforge_analysis::TraceAnalysis;
use maud::{Markup, html};

use super::format;
use super::svg::{WIDTH, coord};

/// The label of critical time spent outside every stage (the run span's own set-up and tear-down).
pub(super) const NO_STAGE: &str = "(run)";
/// The label of critical time within a stage but outside its sessions.
pub(super) const NO_SESSION: &str = "(outside sessions)";

const ROW_HEIGHT: f64 = 20.0;
/// Narrower boxes carry no label; their `<title>` still names them.
const MIN_LABEL_WIDTH: f64 = 36.0;
/// Approximate width of one label character at the chart's font size.
const CHAR_WIDTH: f64 = 6.5;

/// One box of the graph.
#[derive(Debug, Clone, PartialEq)]
pub struct FlameNode {
    pub name: String,
    /// Critical-path seconds summed over the runs.
    pub seconds: f64,
    /// Largest first, then by name.
    pub children: Vec<FlameNode>,
}

/// Critical time over a set of runs.
#[derive(Debug, Clone, PartialEq)]
pub struct FlameGraph {
    /// Runs summed.
    pub runs: usize,
    /// Named after the runs; its children are the stages.
    pub root: FlameNode,
}

/// Sums the critical paths of `runs` per stage, session and span name.
pub fn flame_graph<'a>(runs: impl IntoIterator<Item = &'a TraceAnalysis>) -> FlameGraph {
    type Spans = BTreeMap<String, f64>;
    let mut tree: BTreeMap<String, BTreeMap<String, Spans>> = BTreeMap::new();
    let mut count = 0;
    for run in runs {
        count += 1;
        for step in &run.critical_path {
            if !(step.seconds.is_finite() && step.seconds > 0.0) {
                continue;
            }
            let stage = step.stage.map_or(NO_STAGE, |stage| stage.as_str());
            let session = step.session_id.as_deref().unwrap_or(NO_SESSION);
            *tree
                .entry(stage.to_owned())
                .or_default()
                .entry(session.to_owned())
                .or_default()
                .entry(step.name.to_string())
                .or_default() += step.seconds;
        }
    }
    let stages = tree
        .into_iter()
        .map(|(stage, sessions)| {
            let sessions = sessions
                .into_iter()
                .map(|(session, spans)| {
                    let spans = spans
                        .into_iter()
                        .map(|(name, seconds)| node(name, seconds, Vec::new()))
                        .collect();
                    summed(session, spans)
                })
                .collect();
            summed(stage, sessions)
        })
        .collect();
    FlameGraph {
        runs: count,
        root: summed(format!("{count} run(s)"), stages),
    }
}

fn node(name: String, seconds: f64, mut children: Vec<FlameNode>) -> FlameNode {
    children.sort_by(|a, b| b.seconds.total_cmp(&a.seconds).then(a.name.cmp(&b.name)));
    FlameNode {
        name,
        seconds,
        children,
    }
}

fn summed(name: String, children: Vec<FlameNode>) -> FlameNode {
    let seconds = children.iter().map(|c| c.seconds).sum();
    node(name, seconds, children)
}

/// A box laid out: its row, left edge and width in chart units.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Placed<'a> {
    pub node: &'a FlameNode,
    pub depth: usize,
    pub x: f64,
    pub width: f64,
}

/// Every box, parents before children, each child as wide as its share of the root's time.
pub(super) fn layout(graph: &FlameGraph, width: f64) -> Vec<Placed<'_>> {
    let total = graph.root.seconds;
    let scale = if total > 0.0 { width / total } else { 0.0 };
    let mut placed = Vec::new();
    let mut stack = vec![(&graph.root, 0, 0.0)];
    while let Some((node, depth, x)) = stack.pop() {
        placed.push(Placed {
            node,
            depth,
            x,
            width: node.seconds * scale,
        });
        let mut child_x = x;
        let mut children = Vec::with_capacity(node.children.len());
        for child in &node.children {
            children.push((child, depth + 1, child_x));
            child_x += child.seconds * scale;
        }
        stack.extend(children.into_iter().rev());
    }
    placed
}

/// Warm colours by depth, lighter further down, as flame graphs are read.
fn fill(depth: usize, name: &str) -> String {
    // A small, stable variation per name so neighbours of one row stay apart.
    let shade = name
        .bytes()
        .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)))
        % 20;
    let (hue, light) = match depth {
        0 => (20, 45),
        1 => (25, 52),
        2 => (35, 60),
        _ => (45, 66),
    };
    format!("hsl({} 85% {}%)", hue + shade, light + shade / 4)
}

pub(super) fn section(graph: &FlameGraph) -> Markup {
    let placed = layout(graph, WIDTH);
    let depth = placed.iter().map(|p| p.depth).max().unwrap_or(0) + 1;
    let height = depth as f64 * ROW_HEIGHT;
    let total = graph.root.seconds;
    html! {
        section.card id="flame" {
            h2 { "Critical-path flame graph" }
            p {
                "Critical-path time summed over " (graph.runs) " run(s): " strong { (format::duration(total)) }
                ". Rows are the run, then stage → session → span name; each box is as wide as its share of the summed "
                "critical time. Hover a box for its figures."
            }
            @if total > 0.0 {
                svg.flamegraph viewBox={ "0 0 " (coord(WIDTH)) " " (coord(height)) } role="img"
                    aria-label="critical-path flame graph" {
                    @for p in &placed {
                        g {
                            title {
                                (p.node.name) ": " (format::duration(p.node.seconds))
                                " (" (format::share(p.node.seconds / total)) " of the critical time)"
                            }
                            rect.flame x=(coord(p.x)) y=(coord(p.depth as f64 * ROW_HEIGHT))
                                width=(coord(p.width)) height=(coord(ROW_HEIGHT - 1.0))
                                fill=(fill(p.depth, &p.node.name)) data-seconds=(format!("{:.6}", p.node.seconds)) {}
                            @if p.width >= MIN_LABEL_WIDTH {
                                text x=(coord(p.x + 3.0)) y=(coord(p.depth as f64 * ROW_HEIGHT + 14.0)) {
                                    (label(&p.node.name, p.width))
                                }
                            }
                        }
                    }
                }
                h3 { "Totals per stage" }
                table {
                    tr { th { "stage" } th.num { "critical time" } th.num { "share" } th { "largest session" } }
                    @for stage in &graph.root.children {
                        tr {
                            td { (stage.name) }
                            td.num { (format::duration(stage.seconds)) }
                            td.num { (format::share(stage.seconds / total)) }
                            td {
                                @if let Some(session) = stage.children.first() {
                                    code { (session.name) } " " (format::duration(session.seconds))
                                }
                            }
                        }
                    }
                }
            } @else {
                p.muted { "No critical-path time to show: no analysed run yet." }
            }
        }
    }
}

/// The name cut to what fits in `width`, with an ellipsis when cut.
fn label(name: &str, width: f64) -> String {
    let fits = ((width - 6.0) / CHAR_WIDTH).floor().max(1.0) as usize;
    if name.chars().count() <= fits {
        name.to_owned()
    } else {
        let mut cut: String = name.chars().take(fits.saturating_sub(1)).collect();
        cut.push('…');
        cut
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ironforge_analysis::trace::PathStep;
    use ironforge_engine::model::{SpanId, TraceId};
    use ironforge_proto::semconv::Stage;

    fn step(stage: Option<Stage>, session: Option<&str>, name: &str, seconds: f64) -> PathStep {
        PathStep {
            span_id: SpanId([1; 8]),
            name: name.into(),
            stage,
            session_id: session.map(Into::into),
            start_seconds: 0.0,
            seconds,
            untraced_seconds: 0.0,
            untraced_share: 0.0,
        }
    }

    fn run(steps: Vec<PathStep>) -> TraceAnalysis {
        TraceAnalysis {
            trace_id: TraceId([0x11; 16]),
            service_name: None,
            run_seconds: 10.0,
            critical_path_seconds: steps.iter().map(|s| s.seconds).sum(),
            critical_path: steps,
            untraced_seconds: 0.0,
            untraced_share: 0.0,
            stages: Vec::new(),
            sessions: Vec::new(),
            dominant: None,
            recommendations: Vec::new(),
            plan: ironforge_analysis::recommend::Plan {
                run_seconds_before: 10.0,
                run_seconds_after: 10.0,
                total_gain_seconds: 0.0,
                total_gain_percent: 0.0,
                phases: Vec::new(),
                overall_risk: ironforge_analysis::recommend::Level::Low,
                assumption: String::new(),
                summary: String::new(),
            },
            memory: None,
            memory_timeline: Vec::new(),
            notes: Vec::new(),
            contract_readings: Vec::new(),
        }
    }

    #[test]
    fn critical_time_is_summed_per_stage_session_and_span_and_drawn_to_scale() {
        let a = run(vec![
            step(None, None, "run", 1.0),
            step(Some(Stage::Discovery), Some("NY"), "discover", 2.0),
            step(Some(Stage::Discovery), Some("NY"), "load", 1.0),
            step(Some(Stage::Validation), Some("LN"), "validate", 1.0),
        ]);
        let b = run(vec![
            step(Some(Stage::Discovery), Some("NY"), "discover", 3.0),
            step(Some(Stage::Discovery), Some("ASIA"), "discover", 2.0),
            // Not time: left out rather than trusted.
            step(Some(Stage::Discovery), Some("ASIA"), "bad", f64::NAN),
        ]);
        let graph = flame_graph([&a, &b]);
        assert_eq!(graph.runs, 2);
        assert_eq!(graph.root.seconds, 10.0);
        let stages: Vec<(&str, f64)> = graph
            .root
            .children
            .iter()
            .map(|n| (n.name.as_str(), n.seconds))
            .collect();
        assert_eq!(
            stages,
            [("discovery", 8.0), (NO_STAGE, 1.0), ("validation", 1.0)]
        );
        let discovery = &graph.root.children[0];
        let ny = &discovery.children[0];
        assert_eq!((ny.name.as_str(), ny.seconds), ("NY", 6.0));
        let spans: Vec<(&str, f64)> = ny
            .children
            .iter()
            .map(|n| (n.name.as_str(), n.seconds))
            .collect();
        assert_eq!(spans, [("discover", 5.0), ("load", 1.0)]);

        // 10 s across 1000 units: 100 units a second, children laid left to right within their parent.
        let placed = layout(&graph, 1000.0);
        let find = |name: &str, depth: usize| {
            placed
                .iter()
                .find(|p| p.node.name == name && p.depth == depth)
                .map(|p| (p.x, p.width))
                .unwrap()
        };
        assert_eq!(find("2 run(s)", 0), (0.0, 1000.0));
        assert_eq!(find("discovery", 1), (0.0, 800.0));
        assert_eq!(find("NY", 2), (0.0, 600.0));
        assert_eq!(find("ASIA", 2), (600.0, 200.0));
        assert_eq!(find("load", 3), (500.0, 100.0));
        assert_eq!(find(NO_STAGE, 1), (800.0, 100.0));
        assert_eq!(find("validation", 1), (900.0, 100.0));
    }

    #[test]
    fn no_runs_draw_no_boxes_and_labels_fit_their_box() {
        let graph = flame_graph([]);
        assert_eq!(graph.root.seconds, 0.0);
        assert!(layout(&graph, 1000.0).iter().all(|p| p.width == 0.0));
        assert_eq!(label("discovery", 1000.0), "discovery");
        assert_eq!(label("discovery", 6.0 + 4.0 * CHAR_WIDTH), "dis…");
    }
}
