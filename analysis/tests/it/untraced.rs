//! Untraced time: a span's time outside its children, on a run drawn by hand and on the bundled slow-run
//! recording, measured, ranked as a bottleneck and named in a recommendation.

use std::io::Read;

use flate2::read::GzDecoder;
use ironforge_analysis::bottleneck::Subject;
use ironforge_analysis::critical_path::DEFAULT_SKEW_TOLERANCE_SECONDS;
use ironforge_analysis::recommend::Category;
use ironforge_analysis::tree::SpanTree;
use ironforge_analysis::untraced::gaps;
use ironforge_analysis::whatif::{Change, Scenario, Target, simulate};
use ironforge_analysis::{AnalysisOptions, BottleneckWindow, Budgets, TraceAnalysis, analyse};
use ironforge_engine::decode::decode_json_request;
use ironforge_engine::plan::ReadPlan;
use ironforge_engine::{DecidedSpan, DecidedTrace};
use ironforge_proto::semconv::Stage;

use crate::support::{TraceBuilder, assert_close, decided};

/// A 10 s run whose stages cover 3 s of it: discovery 1..3 (two sessions), validation 4..5. The run's
/// own untraced time is 0..1 before discovery, 3..4 between the stages and 5..10 after validation.
fn gapped_run() -> DecidedTrace {
    let mut trace = TraceBuilder::default();
    let run = trace.run((0.0, 10.0));
    let discovery = trace.stage(run, Stage::Discovery, (1.0, 3.0));
    trace.session(discovery, Stage::Discovery, "a", (1.0, 2.0));
    trace.session(discovery, Stage::Discovery, "b", (2.0, 3.0));
    let validation = trace.stage(run, Stage::Validation, (4.0, 5.0));
    trace.session(validation, Stage::Validation, "a", (4.0, 5.0));
    trace.build()
}

const BUDGETS: Budgets = Budgets {
    run_seconds: Some(180.0),
    session_seconds: Some(3.0),
};

fn run_untraced() -> Subject {
    Subject::Untraced {
        span: "run".to_owned(),
        stage: None,
    }
}

#[test]
fn gaps_are_found_before_between_and_after_the_children_and_a_leaf_has_none() {
    let trace = gapped_run();
    let tree = SpanTree::new(&trace.spans).unwrap();
    let found: Vec<(f64, f64, String)> = gaps(&tree, 0)
        .iter()
        .map(|gap| (gap.start, gap.end, gap.place(&tree)))
        .collect();
    assert_eq!(
        found,
        [
            (0.0, 1.0, "before discovery".to_owned()),
            (3.0, 4.0, "between discovery and validation".to_owned()),
            (5.0, 10.0, "after validation".to_owned()),
        ]
    );
    let leaves = (0..tree.nodes.len()).filter(|&i| tree.nodes[i].children.is_empty());
    for leaf in leaves {
        assert!(gaps(&tree, leaf).is_empty());
    }
}

#[test]
fn the_path_the_stages_and_the_run_account_for_the_untraced_time() {
    let analysis = analyse(&gapped_run(), &BUDGETS, &AnalysisOptions::default()).unwrap();
    assert_close(analysis.critical_path_seconds, 10.0, "path");
    assert_close(analysis.untraced_seconds, 7.0, "run untraced");
    assert_close(analysis.untraced_share, 0.7, "run untraced share");
    let on_path: f64 = analysis
        .critical_path
        .iter()
        .map(|s| s.untraced_seconds)
        .sum();
    assert_close(on_path, 7.0, "steps");
    for step in &analysis.critical_path {
        let expected = if &*step.name == "run" {
            step.seconds
        } else {
            0.0
        };
        assert_close(step.untraced_seconds, expected, &step.name);
        assert_close(step.untraced_share, expected / 10.0, &step.name);
    }
    // The stages' sessions cover them whole.
    for stage in &analysis.stages {
        assert_close(stage.untraced_seconds, 0.0, stage.stage.as_str());
    }
    let dominant = analysis.dominant.clone().unwrap();
    assert!(
        dominant.starts_with("`run` outside its child spans holds 70 %"),
        "{dominant}"
    );
    assert!(dominant.contains("after validation"), "{dominant}");
}

#[test]
fn a_gap_inside_a_stage_counts_for_that_stage() {
    let mut trace = TraceBuilder::default();
    let run = trace.run((0.0, 4.0));
    let discovery = trace.stage(run, Stage::Discovery, (0.0, 4.0));
    trace.session(discovery, Stage::Discovery, "a", (0.0, 1.0));
    trace.session(discovery, Stage::Discovery, "b", (3.0, 4.0));
    let analysis = analyse(&trace.build(), &BUDGETS, &AnalysisOptions::default()).unwrap();
    let stage = &analysis.stages[0];
    assert_close(stage.untraced_seconds, 2.0, "discovery untraced");
    assert_close(stage.untraced_share, 0.5, "discovery untraced share");
    assert_close(analysis.untraced_seconds, 2.0, "run untraced");
}

#[test]
fn untraced_time_ranks_first_and_is_named_where_it_lies() {
    let analysis = analyse(&gapped_run(), &BUDGETS, &AnalysisOptions::default()).unwrap();
    let mut window = BottleneckWindow::new(10);
    window.push(&analysis, &BUDGETS);
    let top = &window.ranked(10)[0];
    assert_eq!(top.subject, run_untraced());
    assert_close(top.mean_critical_seconds, 7.0, "untraced on the path");
    assert_eq!(top.budget_seconds, Some(180.0));
    let named = analysis
        .recommendations
        .iter()
        .find(|r| r.category == Category::Untraced)
        .unwrap_or_else(|| panic!("{:?}", analysis.recommendations));
    assert_eq!(
        named.title,
        "70 % of the run is in `run` outside its child spans: instrument what happens after validation"
    );
    // The upper bound: every gap of the run gone leaves its 3 s of stages.
    assert_close(named.gain_seconds, 7.0, "upper bound");
    // Instrumenting is not a step that shortens the run.
    assert!(
        analysis
            .plan
            .phases
            .iter()
            .all(|p| !p.recommendations.contains(&named.id))
    );
}

#[test]
fn re_timing_untraced_time_keeps_the_children_s_times() {
    let trace = gapped_run();
    let tree = SpanTree::new(&trace.spans).unwrap();
    let halve = |change| {
        let scenario = Scenario::Retime {
            target: Target::Untraced {
                span: "run".to_owned(),
                stage: None,
            },
            change,
        };
        simulate(&tree, &[scenario], DEFAULT_SKEW_TOLERANCE_SECONDS)
    };
    let half = halve(Change::Percent(-50.0));
    assert_close(half.run_seconds(), 6.5, "7 s of gaps halved");
    assert_close(
        halve(Change::Seconds(-3.5)).run_seconds(),
        6.5,
        "3.5 s less",
    );
    // Discovery starts after half of the first gap and keeps its 2 s.
    assert_close(half.starts[1], 0.5, "discovery start");
    assert_close(half.ends[1] - half.starts[1], 2.0, "discovery");
}

/// The bundled recording `name` of the reference replay, decoded as the processor reads it.
fn recording(name: &str) -> DecidedTrace {
    let path = format!(
        "{}/../fixtures/traces/{name}.jsonl.gz",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut text = String::new();
    GzDecoder::new(std::fs::File::open(&path).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    let plan = ReadPlan::conventions();
    let records: Vec<_> = text
        .lines()
        .filter(|line| !line.trim().is_empty())
        .flat_map(|line| decode_json_request(line, &plan).unwrap().spans)
        .collect();
    let trace_id = records[0].trace_id;
    assert!(records.iter().all(|r| r.trace_id == trace_id), "one run");
    let spans = records
        .into_iter()
        .map(|r| DecidedSpan {
            span_id: r.span_id,
            parent_span_id: r.parent_span_id,
            start_unix_nano: r.start_unix_nano,
            end_unix_nano: r.end_unix_nano,
            name: r.name,
            session_id: r.session_id,
            kind: r.kind,
            stage: r.stage,
            memory_bytes: None,
        })
        .collect();
    decided(trace_id, spans)
}

fn slow_run() -> TraceAnalysis {
    analyse(
        &recording("slow-run"),
        &BUDGETS,
        &AnalysisOptions::default(),
    )
    .unwrap()
}

#[test]
fn the_slow_run_recording_names_its_untraced_time_as_its_top_bottleneck() {
    let analysis = slow_run();
    // The run lasts about 1.53 s; its stages end after about 22 ms.
    assert!(analysis.untraced_share > 0.9, "{}", analysis.untraced_share);
    let mut window = BottleneckWindow::new(10);
    window.push(&analysis, &BUDGETS);
    let ranked = window.ranked(10);
    assert_eq!(ranked[0].subject, run_untraced(), "{ranked:?}");
    assert!(ranked[0].mean_critical_share > 0.9, "{:?}", ranked[0]);
    let named = &analysis.recommendations[0];
    assert_eq!(named.category, Category::Untraced);
    assert!(
        named
            .title
            .ends_with("outside its child spans: instrument what happens after reporting"),
        "{}",
        named.title
    );
    let dominant = analysis.dominant.clone().unwrap();
    assert!(
        dominant.starts_with("`run` outside its child spans"),
        "{dominant}"
    );
}

#[test]
fn the_slow_run_far_inside_its_budget_says_so_instead_of_planning_savings() {
    let analysis = slow_run();
    assert!(
        analysis
            .recommendations
            .iter()
            .all(|r| r.category == Category::Untraced),
        "{:?}",
        analysis.recommendations
    );
    let plan = &analysis.plan;
    assert!(plan.phases.is_empty(), "{plan:?}");
    assert!(plan.summary.contains("far inside"), "{}", plan.summary);
    assert!(plan.summary.contains("3 min budget"), "{}", plan.summary);
}
