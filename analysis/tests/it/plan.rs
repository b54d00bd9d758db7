//! The plan people follow: phases numbered 1..n with their own and cumulative gains, no step that gains
//! nothing to speak of, and no micro-savings for a run far inside its budget.

use ironforge_analysis::critical_path::DEFAULT_SKEW_TOLERANCE_SECONDS;
use ironforge_analysis::recommend::{Category, Level, RecommendOptions, plan};
use ironforge_analysis::tree::SpanTree;
use ironforge_analysis::whatif::{Scenario, simulate};
use ironforge_analysis::{AnalysisOptions, Budgets, TraceAnalysis, analyse};
use ironforge_engine::DecidedTrace;

use crate::support::{assert_close, serial_stage};

fn analysed(trace: &DecidedTrace, budgets: &Budgets, options: RecommendOptions) -> TraceAnalysis {
    let options = AnalysisOptions {
        recommend: options,
        ..AnalysisOptions::default()
    };
    analyse(trace, budgets, &options).unwrap()
}

/// The scenarios of the recommendations the plan takes, in its order.
fn planned(analysis: &TraceAnalysis) -> Vec<Scenario> {
    analysis
        .plan
        .phases
        .iter()
        .flat_map(|phase| &phase.recommendations)
        .map(|id| {
            let taken = analysis.recommendations.iter().find(|r| &r.id == id);
            taken.unwrap().scenario.clone()
        })
        .collect()
}

#[test]
fn phases_are_numbered_in_order_with_their_own_and_cumulative_gains_and_the_what_if_agrees() {
    // Low effort (4-wide) and high (20 % faster) apply, medium (an outlier) does not: phases 1 and 2.
    let trace = serial_stage(&[1.0; 8]);
    let budgets = Budgets {
        run_seconds: Some(5.0),
        session_seconds: Some(3.0),
    };
    let analysis = analysed(&trace, &budgets, RecommendOptions::default());
    let plan = &analysis.plan;
    let numbers: Vec<u32> = plan.phases.iter().map(|p| p.phase).collect();
    assert_eq!(numbers, [1, 2], "{plan:?}");
    assert_eq!(plan.phases[0].effort, Level::Low);
    assert_eq!(plan.phases[1].effort, Level::High);
    let mut so_far = 0.0;
    for phase in &plan.phases {
        so_far += phase.gain_seconds;
        assert_close(phase.cumulative_gain_seconds, so_far, "cumulative");
        assert_close(phase.run_seconds_after, 8.0 - so_far, "run after");
        assert_close(phase.gain_percent, phase.gain_seconds / 8.0 * 100.0, "%");
    }
    // 8 s → 2 s, then 2 s → 1.6 s.
    assert_close(plan.phases[0].gain_seconds, 6.0, "phase 1");
    assert_close(
        plan.phases[1].gain_seconds,
        0.4,
        "phase 2 on top of phase 1",
    );
    assert_close(plan.phases[1].cumulative_gain_percent, 80.0, "together");
    let tree = SpanTree::new(&trace.spans).unwrap();
    let laid_out = simulate(&tree, &planned(&analysis), DEFAULT_SKEW_TOLERANCE_SECONDS);
    assert_close(plan.run_seconds_after, laid_out.run_seconds(), "what-if");
    assert!(
        plan.summary.contains("from 8 s to 1.6 s"),
        "{}",
        plan.summary
    );
}

#[test]
fn a_phase_adding_nothing_to_those_before_it_is_left_out() {
    let trace = serial_stage(&[1.0; 8]);
    let budgets = Budgets::default();
    let analysis = analysed(&trace, &budgets, RecommendOptions::default());
    let widen = analysis
        .recommendations
        .iter()
        .find(|r| r.category == Category::Parallelism)
        .unwrap();
    // The same change again, as a medium-effort step: it gains nothing once phase 1 made it.
    let mut again = widen.clone();
    again.id = "again".to_owned();
    again.effort = Level::Medium;
    let tree = SpanTree::new(&trace.spans).unwrap();
    let drawn = plan(
        &tree,
        &[widen.clone(), again],
        &budgets,
        &RecommendOptions::default(),
    );
    assert_eq!(drawn.phases.len(), 1, "{drawn:?}");
    assert_eq!(
        drawn.phases[0].recommendations,
        std::slice::from_ref(&widen.id)
    );
}

#[test]
fn a_run_far_inside_its_budget_says_so_instead_of_suggesting_micro_savings() {
    // 33 ms of sessions one after another: 4-wide would save 24 ms, but the budget is 180 s.
    let trace = serial_stage(&[0.008, 0.009, 0.008, 0.008]);
    let far = Budgets {
        run_seconds: Some(180.0),
        session_seconds: Some(3.0),
    };
    let analysis = analysed(&trace, &far, RecommendOptions::default());
    assert!(
        analysis.recommendations.is_empty(),
        "{:?}",
        analysis.recommendations
    );
    assert!(analysis.plan.phases.is_empty());
    let summary = &analysis.plan.summary;
    assert!(
        summary.starts_with("The run took 33 ms of its 3 min budget"),
        "{summary}"
    );
    // Without a budget, or close to it, the same gain is worth a step.
    for budgets in [
        Budgets::default(),
        Budgets {
            run_seconds: Some(0.05),
            ..far
        },
    ] {
        let analysis = analysed(&trace, &budgets, RecommendOptions::default());
        assert_eq!(
            analysis.plan.phases.len(),
            1,
            "{budgets:?}: {:?}",
            analysis.plan
        );
    }
}

#[test]
fn a_session_over_its_budget_is_recommended_even_in_a_run_far_inside_its_own() {
    let trace = serial_stage(&[1.0, 1.0, 4.0, 1.0]);
    let budgets = Budgets {
        run_seconds: Some(180.0),
        session_seconds: Some(3.0),
    };
    let analysis = analysed(&trace, &budgets, RecommendOptions::default());
    let categories: Vec<Category> = analysis
        .recommendations
        .iter()
        .map(|r| r.category)
        .collect();
    assert_eq!(categories, [Category::Outlier]);
    assert_eq!(
        analysis.recommendations[0].title,
        "Bring session s2 in discovery down to 1 s"
    );
    assert_close(analysis.plan.total_gain_seconds, 3.0, "the outlier");
}

#[test]
fn gains_below_the_noise_floor_or_a_share_of_the_run_are_no_steps() {
    // A 7 ms run: the outlier would save 3 ms, 4-wide 3 ms: below the 5 ms noise floor.
    let trace = serial_stage(&[0.001, 0.001, 0.004, 0.001]);
    let analysis = analysed(&trace, &Budgets::default(), RecommendOptions::default());
    assert!(
        analysis.recommendations.is_empty(),
        "{:?}",
        analysis.recommendations
    );
    assert!(
        analysis
            .plan
            .summary
            .starts_with("No change gains 5 ms or more"),
        "{}",
        analysis.plan.summary
    );
    let finer = RecommendOptions {
        noise_floor_seconds: 0.001,
        ..RecommendOptions::default()
    };
    let analysis = analysed(&trace, &Budgets::default(), finer);
    assert!(!analysis.recommendations.is_empty());
    for r in &analysis.recommendations {
        assert!(r.gain_seconds >= 0.001, "{r:?}");
    }
    // A share of the run: bringing the 105 s session within its 100 s budget saves 5 s, under 1 % of the
    // 905 s run; with the share at 0.1 % it counts.
    let mut long = vec![100.0; 8];
    long.push(105.0);
    let long = serial_stage(&long);
    let budgets = Budgets {
        run_seconds: None,
        session_seconds: Some(100.0),
    };
    let outlier = |options| {
        analysed(&long, &budgets, options)
            .recommendations
            .into_iter()
            .find(|r| r.category == Category::Outlier)
    };
    assert_eq!(outlier(RecommendOptions::default()), None);
    let finer = RecommendOptions {
        min_gain_share: 0.001,
        ..RecommendOptions::default()
    };
    assert_close(
        outlier(finer).unwrap().gain_seconds,
        5.0,
        "the 105 s session",
    );
}

#[test]
fn an_analysis_with_its_plan_reads_back_from_its_json_unchanged() {
    // What the processor's run history keeps and serves again after a restart.
    let trace = serial_stage(&[1.0, 1.0, 1.0, 4.0, 1.0, 1.0, 1.0, 1.0]);
    let budgets = Budgets {
        run_seconds: Some(5.0),
        session_seconds: Some(3.0),
    };
    let analysis = analysed(&trace, &budgets, RecommendOptions::default());
    assert!(!analysis.recommendations.is_empty(), "{analysis:?}");
    assert!(!analysis.plan.phases.is_empty(), "{analysis:?}");
    let json = serde_json::to_string(&analysis).unwrap();
    let read: TraceAnalysis = serde_json::from_str(&json).unwrap();
    assert_eq!(read, analysis);
    assert_eq!(serde_json::to_string(&read).unwrap(), json);
}
