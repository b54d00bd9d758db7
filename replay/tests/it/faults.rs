//! Each fault flag changes exactly the fact its contract reads, and nothing else.

use std::time::Duration;

use ironforge_replay::faults::{SLOW_SESSION_SLEEP, UNKNOWN_EVENT_TYPE};
use ironforge_replay::{
    Faults, GraphSummary, ReplayOptions, RunSummary, SessionOutcome, SessionSelector, run,
};

const SESSIONS: usize = 6;

fn replay(faults: Faults) -> RunSummary {
    run(&ReplayOptions {
        sessions_limit: Some(SESSIONS),
        faults,
        ..ReplayOptions::default()
    })
    .expect("run")
}

fn targeted(target: usize, faults: Faults) -> Faults {
    Faults {
        target: SessionSelector::Index(target),
        ..faults
    }
}

/// Everything a session outcome holds except its timing, which no two runs share.
fn facts(o: &SessionOutcome) -> SessionOutcome {
    SessionOutcome {
        discovery_time: Duration::ZERO,
        ..o.clone()
    }
}

/// Asserts that no session other than `changed` differs between the runs.
fn unchanged_except(base: &RunSummary, faulty: &RunSummary, changed: Option<usize>) {
    assert_eq!(base.sessions.len(), faulty.sessions.len());
    for (b, f) in base.sessions.iter().zip(&faulty.sessions) {
        if Some(b.position) != changed {
            assert_eq!(facts(b), facts(f), "session {} must not change", b.position);
        }
    }
}

/// Asserts that only session `changed` differs between the runs, and returns both versions of it.
fn only_session_changed(
    base: &RunSummary,
    faulty: &RunSummary,
    changed: usize,
) -> (SessionOutcome, SessionOutcome) {
    unchanged_except(base, faulty, Some(changed));
    (
        facts(&base.sessions[changed]),
        facts(&faulty.sessions[changed]),
    )
}

fn graph(o: &SessionOutcome) -> GraphSummary {
    o.graph.clone().expect("graph")
}

#[test]
fn unknown_event_type_adds_one_label_and_nothing_else() {
    let base = replay(Faults::default());
    let faulty = replay(targeted(
        2,
        Faults {
            unknown_event_type: true,
            ..Faults::default()
        },
    ));
    let (b, f) = only_session_changed(&base, &faulty, 2);
    let mut expected = graph(&b);
    expected.event_types.push(UNKNOWN_EVENT_TYPE.to_owned());
    assert_eq!(graph(&f), expected);
    assert_eq!(
        SessionOutcome { graph: None, ..b },
        SessionOutcome { graph: None, ..f }
    );
}

#[test]
fn wrong_feature_dim_builds_45_node_features() {
    let base = replay(Faults::default());
    let faulty = replay(targeted(
        1,
        Faults {
            wrong_feature_dim: true,
            ..Faults::default()
        },
    ));
    let (b, f) = only_session_changed(&base, &faulty, 1);
    assert_eq!(graph(&b).node_feature_dim, 51);
    assert_eq!(
        graph(&f),
        GraphSummary {
            node_feature_dim: 45,
            ..graph(&b)
        }
    );
    assert_eq!(
        SessionOutcome { graph: None, ..b },
        SessionOutcome { graph: None, ..f }
    );
}

#[test]
fn cross_session_edge_joins_the_target_to_the_previous_session() {
    let base = replay(Faults::default());
    let faulty = replay(targeted(
        3,
        Faults {
            cross_session_edge: true,
            ..Faults::default()
        },
    ));
    let (b, f) = only_session_changed(&base, &faulty, 3);
    let b = graph(&b);
    let mut expected = GraphSummary {
        cross_session_edges: 1,
        edges: b.edges + 1,
        ..b.clone()
    };
    expected.edges_by_intent[0] += 1;
    assert_eq!(
        graph(&f),
        expected,
        "one more TEMPORAL_NEXT edge, and it crosses sessions"
    );
}

#[test]
fn cross_session_edge_on_the_first_session_lands_on_the_next_one() {
    let base = replay(Faults::default());
    let faulty = replay(targeted(
        0,
        Faults {
            cross_session_edge: true,
            ..Faults::default()
        },
    ));
    let (_, f) = only_session_changed(&base, &faulty, 1);
    assert_eq!(graph(&f).cross_session_edges, 1);
}

#[test]
fn open_candle_read_counts_reads_of_the_candle_in_progress() {
    let base = replay(Faults::default());
    let faulty = replay(targeted(
        4,
        Faults {
            open_candle_read: true,
            ..Faults::default()
        },
    ));
    let (b, f) = only_session_changed(&base, &faulty, 4);
    let reads = graph(&f).htf_open_candle_reads;
    assert!(reads > 0);
    assert_eq!(
        graph(&f),
        GraphSummary {
            htf_open_candle_reads: reads,
            ..graph(&b)
        }
    );
}

#[test]
fn low_authenticity_scores_the_target_below_the_threshold() {
    let base = replay(Faults::default());
    let faulty = replay(targeted(
        5,
        Faults {
            low_authenticity: true,
            ..Faults::default()
        },
    ));
    let (b, f) = only_session_changed(&base, &faulty, 5);
    let a = f.authenticity.expect("scored");
    assert!(a.score < 0.87);
    assert_eq!(a.score, 0.0);
    assert_eq!(a.placeholder_timestamps, a.events);
    assert_eq!(
        SessionOutcome {
            authenticity: None,
            ..b
        },
        SessionOutcome {
            authenticity: None,
            ..f
        }
    );
}

#[test]
fn slow_session_sleeps_past_three_seconds_in_one_session() {
    let base = replay(Faults::default());
    let faulty = replay(Faults {
        slow_session: Some(SessionSelector::Index(2)),
        ..Faults::default()
    });
    unchanged_except(&base, &faulty, None);
    for o in &faulty.sessions {
        if o.position == 2 {
            assert!(
                o.discovery_time >= SLOW_SESSION_SLEEP
                    && SLOW_SESSION_SLEEP > Duration::from_secs(3)
            );
        } else {
            assert!(
                o.discovery_time < Duration::from_secs(1),
                "{}: {:?}",
                o.position,
                o.discovery_time
            );
        }
    }
}

#[test]
fn slow_session_by_id_picks_the_first_session_with_that_id() {
    let summary = run(&ReplayOptions {
        faults: Faults {
            slow_session: Some("NY_2025-07-28".parse().unwrap()),
            ..Faults::default()
        },
        ..ReplayOptions::default()
    })
    .unwrap();
    let slow: Vec<&SessionOutcome> = summary
        .sessions
        .iter()
        .filter(|o| o.discovery_time >= SLOW_SESSION_SLEEP)
        .collect();
    assert_eq!(slow.len(), 1);
    assert_eq!(slow[0].id, "NY_2025-07-28");
    assert_eq!(slow[0].file, "enhanced_rel_NY_AM_Lvl-1_2025_07_28.json");
}

#[test]
fn slow_run_lengthens_the_run_only() {
    let extra = Duration::from_millis(300);
    let base = replay(Faults::default());
    let faulty = replay(Faults {
        slow_run: Some(extra),
        ..Faults::default()
    });
    unchanged_except(&base, &faulty, None);
    assert!(faulty.total_time >= extra);
    let stages: Duration = faulty.stage_times.iter().map(|(_, t)| *t).sum();
    assert!(stages < extra, "the sleep lies outside every stage");
}

#[test]
fn memory_growth_holds_the_requested_amount() {
    let base = replay(Faults::default());
    let faulty = replay(Faults {
        memory_growth_mb: Some(8),
        ..Faults::default()
    });
    unchanged_except(&base, &faulty, None);
    assert_eq!(base.ballast_bytes, 0);
    assert_eq!(faulty.ballast_bytes, 8 << 20);
}

#[test]
fn a_target_outside_the_run_injects_nothing() {
    let base = replay(Faults::default());
    let faulty = replay(targeted(
        99,
        Faults {
            unknown_event_type: true,
            wrong_feature_dim: true,
            ..Faults::default()
        },
    ));
    unchanged_except(&base, &faulty, None);
}

#[test]
fn session_faults_on_one_target_do_not_mask_each_other() {
    let base = replay(Faults::default());
    let all = Faults {
        low_authenticity: true,
        unknown_event_type: true,
        wrong_feature_dim: true,
        cross_session_edge: true,
        open_candle_read: true,
        ..Faults::default()
    };
    let faulty = replay(targeted(3, all));
    let (b, f) = only_session_changed(&base, &faulty, 3);
    let g = graph(&f);
    assert_eq!(g.node_feature_dim, 45);
    assert!(
        g.htf_open_candle_reads > 0,
        "dropping the HTF features does not hide the open-candle reads"
    );
    assert_eq!(g.cross_session_edges, 1);
    assert!(g.event_types.contains(&UNKNOWN_EVENT_TYPE.to_owned()));
    assert_eq!(f.authenticity.map(|a| a.score), Some(0.0));
    assert_eq!(b.confluence, f.confluence);
}
