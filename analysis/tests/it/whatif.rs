//! What-if estimates, recommendations and the plan, against answers worked out by hand.

use crate::support::{TraceBuilder, assert_close, serial_stage, wide_stage};
use ironforge_analysis::critical_path::DEFAULT_SKEW_TOLERANCE_SECONDS;
use ironforge_analysis::recommend::{Category, Level, Priority};
use ironforge_analysis::tree::SpanTree;
use ironforge_analysis::whatif::{Change, Scenario, Target, simulate};
use ironforge_analysis::{AnalysisOptions, Budgets, add_plan, analyse, analyse_unplanned};
use ironforge_proto::semconv::Stage;

fn run_after(trace: &ironforge_engine::DecidedTrace, scenarios: &[Scenario]) -> f64 {
    let tree = SpanTree::new(&trace.spans).expect("spans");
    simulate(&tree, scenarios, DEFAULT_SKEW_TOLERANCE_SECONDS).run_seconds()
}

fn session(id: &str) -> Target {
    Target::Session {
        session_id: id.to_owned(),
        stage: None,
    }
}

#[test]
fn no_change_lays_the_recording_out_exactly_as_it_was() {
    let trace = serial_stage(&[2.0, 3.0, 5.0]);
    let tree = SpanTree::new(&trace.spans).expect("spans");
    let same = simulate(&tree, &[], DEFAULT_SKEW_TOLERANCE_SECONDS);
    for (index, node) in tree.nodes.iter().enumerate() {
        assert_close(same.starts[index], node.start, "start");
        assert_close(same.ends[index], node.end, "end");
    }
    assert_eq!(
        same.critical_path,
        ironforge_analysis::critical_path::critical_path(&tree, DEFAULT_SKEW_TOLERANCE_SECONDS)
    );
}

#[test]
fn retiming_a_stage_or_a_session_moves_the_run_by_exactly_that_much_on_a_chain() {
    let trace = serial_stage(&[2.0, 3.0, 5.0]);
    let halve_discovery = Scenario::Retime {
        target: Target::Stage(Stage::Discovery),
        change: Change::Percent(-50.0),
    };
    assert_close(
        run_after(&trace, &[halve_discovery]),
        5.0,
        "discovery halved",
    );
    let shave_s2 = Scenario::Retime {
        target: session("s2"),
        change: Change::Seconds(-1.0),
    };
    assert_close(run_after(&trace, &[shave_s2]), 9.0, "s2 a second shorter");
    let slow_s0 = Scenario::Retime {
        target: session("s0"),
        change: Change::Percent(100.0),
    };
    assert_close(run_after(&trace, &[slow_s0]), 12.0, "s0 twice as slow");
}

#[test]
fn speeding_up_a_branch_off_the_critical_path_gains_nothing_until_it_becomes_critical() {
    let mut trace = TraceBuilder::default();
    let run = trace.run((0.0, 6.0));
    let stage = trace.stage(run, Stage::Discovery, (0.0, 6.0));
    trace.session(stage, Stage::Discovery, "long", (0.0, 6.0));
    trace.session(stage, Stage::Discovery, "short", (0.0, 3.0));
    let trace = trace.build();
    let shorter = Scenario::Retime {
        target: session("short"),
        change: Change::Seconds(-1.0),
    };
    assert_close(run_after(&trace, &[shorter]), 6.0, "off the path");
    // Halving the long branch leaves 3 s, which the short branch now sets.
    let halved = Scenario::Retime {
        target: session("long"),
        change: Change::Percent(-50.0),
    };
    assert_close(
        run_after(&trace, &[halved]),
        3.0,
        "the short branch becomes critical",
    );
    let much_faster = Scenario::Retime {
        target: session("long"),
        change: Change::Percent(-90.0),
    };
    assert_close(
        run_after(&trace, &[much_faster]),
        3.0,
        "bounded by the other branch",
    );
}

#[test]
fn running_sessions_n_wide_packs_them_on_n_lanes() {
    // Eight one-second sessions one after another: 8 s; four lanes take 2 s.
    let serial = serial_stage(&[1.0; 8]);
    let widen = |lanes| Scenario::Widen {
        stage: Stage::Discovery,
        lanes,
    };
    assert_close(run_after(&serial, &[widen(4)]), 2.0, "4-wide");
    assert_close(run_after(&serial, &[widen(3)]), 3.0, "3-wide");
    assert_close(
        run_after(&serial, &[widen(1)]),
        8.0,
        "1-wide is the recording",
    );
    // Already 4-wide: eight lanes halve it again, four change nothing.
    let wide = wide_stage(8, 4);
    assert_close(run_after(&wide, &[widen(8)]), 1.0, "8-wide");
    assert_close(run_after(&wide, &[widen(4)]), 2.0, "4-wide again");
}

#[test]
fn changes_compose_instead_of_adding_up() {
    let serial = serial_stage(&[1.0; 8]);
    let widen = Scenario::Widen {
        stage: Stage::Discovery,
        lanes: 4,
    };
    let faster = Scenario::Retime {
        target: Target::Stage(Stage::Discovery),
        change: Change::Percent(-50.0),
    };
    // Alone: 8 → 2 (−75 %) and 8 → 4 (−50 %); adding percentages would claim −125 %. Together: 1 s.
    assert_close(
        run_after(&serial, &[widen.clone(), faster.clone()]),
        1.0,
        "together",
    );
    assert_close(run_after(&serial, &[faster, widen]), 1.0, "in either order");
}

#[test]
fn a_serial_stage_gets_a_parallelism_recommendation_first_and_a_plan_that_re_times_them_together() {
    let trace = serial_stage(&[1.0; 8]);
    let budgets = Budgets {
        run_seconds: Some(5.0),
        session_seconds: Some(3.0),
    };
    let analysis = analyse(&trace, &budgets, &AnalysisOptions::default()).expect("spans");
    let first = &analysis.recommendations[0];
    assert_eq!(first.category, Category::Parallelism);
    assert_eq!(first.effort, Level::Low);
    assert_close(first.gain_seconds, 6.0, "4-wide gain");
    assert_close(first.gain_percent, 75.0, "4-wide gain %");
    // The run broke its 5 s budget and this alone brings it to 2 s.
    assert_eq!(first.priority, Priority::Critical);
    assert!(
        first.assumption.contains("independent"),
        "{}",
        first.assumption
    );
    let compute = analysis
        .recommendations
        .iter()
        .find(|r| r.category == Category::Compute)
        .expect("a compute recommendation for a stage holding the whole path");
    assert_close(compute.gain_seconds, 1.6, "20 % of 8 s");
    let plan = &analysis.plan;
    assert_eq!(plan.phases.len(), 2, "{plan:?}");
    assert_eq!(
        plan.phases[0].recommendations,
        std::slice::from_ref(&first.id)
    );
    // 8 s → 2 s with four lanes → 1.6 s with the stage 20 % faster: 6.4 s, not 6 + 1.6.
    assert_close(plan.total_gain_seconds, 6.4, "plan");
    assert_close(plan.run_seconds_after, 1.6, "run after the plan");
    assert_eq!(plan.overall_risk, Level::Medium);
}

#[test]
fn an_analysis_planned_later_is_the_one_planned_at_once() {
    let trace = serial_stage(&[1.0, 4.0, 1.0, 1.0, 1.0, 1.0]);
    let budgets = Budgets {
        run_seconds: Some(5.0),
        session_seconds: Some(3.0),
    };
    let options = AnalysisOptions::default();
    let whole = analyse(&trace, &budgets, &options).expect("spans");
    let mut later = analyse_unplanned(&trace, &options).expect("spans");
    assert!(later.recommendations.is_empty());
    assert!(later.plan.phases.is_empty());
    assert_close(
        later.plan.run_seconds_after,
        9.0,
        "an empty plan changes nothing",
    );
    assert!(!whole.recommendations.is_empty());
    add_plan(&mut later, &trace, &budgets, &options);
    assert_eq!(later, whole);
}

#[test]
fn an_outlier_session_is_named_with_its_gain() {
    let trace = serial_stage(&[1.0, 1.0, 1.0, 6.0, 1.0]);
    let budgets = Budgets {
        run_seconds: None,
        session_seconds: Some(3.0),
    };
    let analysis = analyse(&trace, &budgets, &AnalysisOptions::default()).expect("spans");
    let outlier = analysis
        .recommendations
        .iter()
        .find(|r| r.category == Category::Outlier)
        .expect("the 6 s session");
    assert!(outlier.title.contains("s3"), "{}", outlier.title);
    // Brought to the stage's median, 1 s.
    assert_close(outlier.gain_seconds, 5.0, "outlier gain");
    assert!(
        outlier.evidence.contains("over the session budget"),
        "{}",
        outlier.evidence
    );
}

#[test]
fn a_stage_already_run_wide_gets_no_parallelism_recommendation() {
    let analysis = analyse(
        &wide_stage(8, 4),
        &Budgets::default(),
        &AnalysisOptions::default(),
    )
    .expect("spans");
    assert!(
        analysis
            .recommendations
            .iter()
            .all(|r| r.category != Category::Parallelism),
        "{:?}",
        analysis.recommendations
    );
}
