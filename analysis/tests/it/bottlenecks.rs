//! Bottlenecks across runs: ranked by time on the critical path, graded against the budgets.

use crate::support::{TraceBuilder, assert_close};
use ironforge_analysis::bottleneck::{Severity, Subject};
use ironforge_analysis::{AnalysisOptions, BottleneckWindow, Budgets, analyse};
use ironforge_proto::semconv::Stage;

/// A run of two stages: discovery with sessions of the given times one after another, then a one-second
/// validation.
fn run(trace: u8, discovery: &[f64]) -> ironforge_analysis::TraceAnalysis {
    let total: f64 = discovery.iter().sum();
    let mut builder = TraceBuilder::new(trace);
    let run = builder.run((0.0, total + 1.0));
    let stage = builder.stage(run, Stage::Discovery, (0.0, total));
    let mut at = 0.0;
    for (index, seconds) in discovery.iter().enumerate() {
        builder.session(
            stage,
            Stage::Discovery,
            &format!("s{index}"),
            (at, at + seconds),
        );
        at += seconds;
    }
    let validation = builder.stage(run, Stage::Validation, (total, total + 1.0));
    builder.session(validation, Stage::Validation, "s0", (total, total + 1.0));
    analyse(&builder.build(), &BUDGETS, &AnalysisOptions::default()).unwrap()
}

const BUDGETS: Budgets = Budgets {
    run_seconds: Some(180.0),
    session_seconds: Some(3.0),
};

#[test]
fn the_stage_holding_most_of_the_critical_path_ranks_first_and_one_overrun_is_critical() {
    let mut window = BottleneckWindow::new(10);
    window.push(&run(1, &[1.0, 1.0, 1.0]), &BUDGETS);
    window.push(&run(2, &[1.0, 4.0, 1.0]), &BUDGETS);
    let ranked = window.ranked(20);
    assert_eq!(ranked[0].rank, 1);
    assert_eq!(
        ranked[0].subject,
        Subject::Stage {
            stage: Stage::Discovery
        }
    );
    assert_close(
        ranked[0].mean_critical_seconds,
        4.5,
        "discovery: 3 s and 6 s",
    );
    assert_eq!(ranked[0].traces, 2);
    // Three sessions of 3 s each: 9 s of budget, 6 s used at worst.
    assert_close(ranked[0].budget_seconds.unwrap(), 9.0, "stage budget");
    assert_eq!(ranked[0].severity, Severity::High, "{:?}", ranked[0]);
    let slow = ranked
        .iter()
        .find(|b| {
            b.subject
                == Subject::Session {
                    session_id: "s1".to_owned(),
                    stage: Some(Stage::Discovery),
                }
        })
        .unwrap();
    assert_eq!(slow.severity, Severity::Critical);
    assert_eq!(slow.over_budget_runs, 1);
    assert_close(slow.max_seconds, 4.0, "worst run");
    assert_eq!(
        slow.trace_ids[0],
        run(2, &[1.0]).trace_id,
        "the run it rests on first"
    );
    let validation = ranked
        .iter()
        .find(|b| {
            b.subject
                == Subject::Stage {
                    stage: Stage::Validation,
                }
        })
        .unwrap();
    assert!(validation.rank > ranked[0].rank);
    assert!(
        ranked
            .windows(2)
            .all(|w| w[0].mean_critical_seconds >= w[1].mean_critical_seconds)
    );
}

#[test]
fn the_window_forgets_the_oldest_runs() {
    let mut window = BottleneckWindow::new(2);
    window.push(&run(1, &[5.0]), &BUDGETS);
    window.push(&run(2, &[1.0]), &BUDGETS);
    window.push(&run(3, &[1.0]), &BUDGETS);
    assert_eq!(window.len(), 2);
    let ranked = window.ranked(20);
    assert!(ranked.iter().all(|b| b.over_budget_runs == 0), "{ranked:?}");
    assert!(ranked.len() <= 20);
    assert!(window.ranked(1).len() == 1);
}
