//! The pipeline without an exporter: what a run reports about the real sessions, and how it copes with a file
//! that does not parse.

use std::path::{Path, PathBuf};

use ironforge_replay::{DEFAULT_SESSIONS_DIR, ReplayError, ReplayOptions, run};

/// A scratch directory removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir = std::env::temp_dir().join(format!(
            "ironforge-replay-{name}-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn copy_fixture(name: &str, to: &Path) {
    std::fs::copy(Path::new(DEFAULT_SESSIONS_DIR).join(name), to.join(name)).unwrap();
}

#[test]
fn a_full_run_reports_the_real_defects() {
    let scratch = Scratch::new("report");
    let report = scratch.0.join("report.txt");
    let summary = run(&ReplayOptions {
        report: Some(report.clone()),
        ..ReplayOptions::default()
    })
    .unwrap();
    assert_eq!(summary.sessions_given(), 57);
    assert_eq!(summary.sessions_parsed(), 57);
    assert!(
        summary.trace_id.is_none(),
        "no OpenTelemetry layer recorded this run"
    );
    assert_eq!(summary.span_count, 2 + 4 + 4 * 57);
    let dup_ids: Vec<&str> = summary
        .duplicate_ids
        .iter()
        .map(|(id, _)| id.as_str())
        .collect();
    assert_eq!(
        dup_ids,
        [
            "NY_2025-07-28",
            "NY_2025-07-29",
            "NY_2025-07-30",
            "NY_2025-08-04",
            "NY_2025-08-05"
        ]
    );
    let as_is: Vec<&str> = summary
        .sessions
        .iter()
        .filter(|o| o.id_as_is)
        .map(|o| o.id.as_str())
        .collect();
    assert_eq!(as_is, ["NYAM_Lvl-1_2025_08_07_FRESH"]);

    let scored: Vec<_> = summary
        .sessions
        .iter()
        .filter_map(|o| o.authenticity)
        .collect();
    assert_eq!(
        scored
            .iter()
            .map(|a| a.placeholder_timestamps)
            .sum::<usize>(),
        161
    );
    assert_eq!(scored.iter().map(|a| a.out_of_window).sum::<usize>(), 237);
    assert_eq!(
        scored
            .iter()
            .map(|a| a.missing_movement_type)
            .sum::<usize>(),
        300
    );
    assert!(
        scored.iter().any(|a| a.score < 0.87),
        "real data already falls below the threshold"
    );
    assert!(scored.iter().any(|a| a.score > 0.87));

    let text = std::fs::read_to_string(&report).unwrap();
    assert_eq!(text, summary.report);
    assert!(text.contains("duplicate session ids: NY_2025-07-28 x2"));
    assert!(
        text.contains("edge intents CONTEXT"),
        "the report names the intent never seen:\n{text}"
    );
}

#[test]
fn a_file_that_does_not_parse_is_reported_and_the_run_goes_on() {
    let scratch = Scratch::new("broken");
    copy_fixture("enhanced_rel_ASIA_Lvl-1_2025_07_24.json", &scratch.0);
    copy_fixture("enhanced_rel_LONDON_Lvl-1_2025_07_24.json", &scratch.0);
    std::fs::write(
        scratch.0.join("enhanced_rel_BROKEN_Lvl-1_2025_07_24.json"),
        "{\"session_metadata\": ",
    )
    .unwrap();
    std::fs::write(scratch.0.join("notes.txt"), "not a session").unwrap();

    let summary = run(&ReplayOptions {
        sessions_dir: scratch.0.clone(),
        ..ReplayOptions::default()
    })
    .unwrap();
    assert_eq!(summary.sessions_given(), 3);
    assert_eq!(summary.sessions_parsed(), 2);
    let failures = summary.parse_failures();
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].0, "enhanced_rel_BROKEN_Lvl-1_2025_07_24.json");
    assert!(
        failures[0]
            .1
            .contains("enhanced_rel_BROKEN_Lvl-1_2025_07_24.json"),
        "{}",
        failures[0].1
    );
    // The broken session has its discovery span only.
    assert_eq!(summary.span_count, 2 + 4 + 3 + 3 * 2);
    assert!(summary.report.contains("FAILED"));
}

#[test]
fn sessions_limit_and_missing_directories() {
    let summary = run(&ReplayOptions {
        sessions_limit: Some(3),
        ..ReplayOptions::default()
    })
    .unwrap();
    assert_eq!(summary.sessions_given(), 3);
    let missing = run(&ReplayOptions {
        sessions_dir: "/nonexistent/sessions".into(),
        ..ReplayOptions::default()
    });
    assert!(matches!(missing, Err(ReplayError::SessionsDir { .. })));
    let scratch = Scratch::new("empty");
    let empty = run(&ReplayOptions {
        sessions_dir: scratch.0.clone(),
        ..ReplayOptions::default()
    });
    assert!(matches!(empty, Err(ReplayError::NoSessions { .. })));
}
