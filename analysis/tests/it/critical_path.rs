//! The critical path and the per-stage breakdown on traces whose answers are known in closed form.

use crate::support::{TraceBuilder, assert_close, serial_stage, wide_stage};
use ironforge_analysis::critical_path::{DEFAULT_SKEW_TOLERANCE_SECONDS, critical_path};
use ironforge_analysis::tree::SpanTree;
use ironforge_analysis::{AnalysisOptions, Budgets, analyse};
use ironforge_proto::semconv::Stage;

fn path_names(tree: &SpanTree, tolerance: f64) -> Vec<(String, f64)> {
    critical_path(tree, tolerance)
        .iter()
        .map(|s| {
            let node = &tree.nodes[s.node];
            (
                node.session.as_deref().unwrap_or(&node.name).to_owned(),
                (s.seconds() * 1e6).round() / 1e6,
            )
        })
        .collect()
}

#[test]
fn a_serial_chain_is_all_on_the_critical_path() {
    let trace = serial_stage(&[2.0, 3.0, 5.0]);
    let analysis =
        analyse(&trace, &Budgets::default(), &AnalysisOptions::default()).expect("spans");
    assert_close(analysis.run_seconds, 10.0, "run");
    assert_close(analysis.critical_path_seconds, 10.0, "critical path");
    let sessions: Vec<&str> = analysis
        .critical_path
        .iter()
        .filter_map(|step| step.session_id.as_deref())
        .collect();
    assert_eq!(sessions, ["s0", "s1", "s2"]);
    let discovery = &analysis.stages[0];
    assert_eq!(discovery.stage, Stage::Discovery);
    assert_close(discovery.critical_share, 1.0, "discovery share");
    assert_close(discovery.parallelism, 1.0, "parallelism");
    assert_close(discovery.self_seconds, 0.0, "stage self time");
    assert_eq!(discovery.sessions, 3);
    let slowest = &analysis.sessions[0];
    assert_eq!(&*slowest.session_id, "s2");
    assert_close(slowest.critical_seconds, 5.0, "s2 on the path");
}

#[test]
fn a_fan_out_follows_only_the_last_finishing_branch() {
    let mut trace = TraceBuilder::default();
    let run = trace.run((0.0, 6.5));
    let stage = trace.stage(run, Stage::Discovery, (0.0, 6.5));
    trace.session(stage, Stage::Discovery, "a", (0.5, 6.0));
    trace.session(stage, Stage::Discovery, "b", (0.5, 3.0));
    trace.session(stage, Stage::Discovery, "c", (0.5, 4.0));
    let trace = trace.build();
    let tree = SpanTree::new(&trace.spans).expect("spans");
    // The stage works 0.5 s before the fan-out and 0.5 s after it, then the run and the stage share an end.
    assert_eq!(
        path_names(&tree, 0.0),
        [
            ("discovery".to_owned(), 0.5),
            ("a".to_owned(), 5.5),
            ("discovery".to_owned(), 0.5)
        ]
    );
    let analysis =
        analyse(&trace, &Budgets::default(), &AnalysisOptions::default()).expect("spans");
    let discovery = &analysis.stages[0];
    assert_close(discovery.busy_seconds, 5.5 + 2.5 + 3.5, "busy");
    assert_close(discovery.parallelism, 11.5 / 6.5, "parallelism");
    assert_close(discovery.self_seconds, 1.0, "stage self time");
    let b = analysis
        .sessions
        .iter()
        .find(|s| &*s.session_id == "b")
        .expect("b");
    assert_close(b.critical_seconds, 0.0, "b is off the path");
}

#[test]
fn a_stage_run_four_wide_has_parallelism_four_and_one_session_per_wave_on_the_path() {
    let trace = wide_stage(8, 4);
    let analysis =
        analyse(&trace, &Budgets::default(), &AnalysisOptions::default()).expect("spans");
    let discovery = &analysis.stages[0];
    assert_close(discovery.parallelism, 4.0, "parallelism");
    assert_close(discovery.seconds, 2.0, "stage");
    let on_path: Vec<&str> = analysis
        .critical_path
        .iter()
        .filter_map(|step| step.session_id.as_deref())
        .collect();
    assert_eq!(on_path.len(), 2, "one session per wave: {on_path:?}");
}

#[test]
fn a_small_sibling_overlap_is_tolerated_as_clock_skew() {
    let mut trace = TraceBuilder::default();
    let run = trace.run((0.0, 2.0));
    let stage = trace.stage(run, Stage::Discovery, (0.0, 2.0));
    // The first session's clock runs half a millisecond ahead of the second's.
    trace.session(stage, Stage::Discovery, "first", (0.0, 1.0005));
    trace.session(stage, Stage::Discovery, "second", (1.0, 2.0));
    let trace = trace.build();
    let tree = SpanTree::new(&trace.spans).expect("spans");
    let names: Vec<String> = path_names(&tree, DEFAULT_SKEW_TOLERANCE_SECONDS)
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    assert_eq!(names, ["first", "second"]);
    // Without the tolerance the first session is not the second's predecessor: the stage's own time fills in.
    let strict: Vec<String> = path_names(&tree, 0.0)
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    assert_eq!(strict, ["discovery", "second"]);
}

#[test]
fn broken_trees_are_analysed_without_panicking() {
    let mut trace = TraceBuilder::default();
    let run = trace.run((0.0, 4.0));
    let stage = trace.stage(run, Stage::Validation, (1.0, 3.0));
    // Starts before its parent and ends after it: clipped.
    trace.session(stage, Stage::Validation, "skewed", (0.5, 3.5));
    trace.session(stage, Stage::Validation, "instant", (2.0, 2.0));
    trace.orphan((0.0, 1.0));
    // Two spans that name each other as parent.
    let a = ironforge_engine::model::SpanId([7; 8]);
    let b = ironforge_engine::model::SpanId([8; 8]);
    let mut cycle = trace.spans_mut()[3].clone();
    cycle.span_id = a;
    cycle.parent_span_id = Some(b);
    let mut other = cycle.clone();
    other.span_id = b;
    other.parent_span_id = Some(a);
    trace.spans_mut().extend([cycle, other]);
    let trace = trace.build();
    let tree = SpanTree::new(&trace.spans).expect("spans");
    assert_eq!(
        tree.nodes.len(),
        trace.spans.len(),
        "every span is in the tree"
    );
    assert_eq!(
        tree.orphans, 2,
        "the orphan and the cycle hang under the root"
    );
    assert!(tree.clipped >= 1);
    let analysis =
        analyse(&trace, &Budgets::default(), &AnalysisOptions::default()).expect("spans");
    assert!(analysis.critical_path_seconds <= analysis.run_seconds + 1e-9);
    assert!(analysis.notes.iter().any(|n| n.contains("clipped")));

    let mut empty = TraceBuilder::default().build();
    empty.spans.clear();
    assert!(analyse(&empty, &Budgets::default(), &AnalysisOptions::default()).is_none());
}

#[test]
fn the_critical_path_never_exceeds_the_run_and_covers_it_when_the_root_is_busy() {
    for durations in [&[1.0][..], &[0.25, 0.25, 4.0, 0.0, 1.5]] {
        let trace = serial_stage(durations);
        let analysis =
            analyse(&trace, &Budgets::default(), &AnalysisOptions::default()).expect("spans");
        assert_close(
            analysis.critical_path_seconds,
            analysis.run_seconds,
            "path covers the run",
        );
    }
}
