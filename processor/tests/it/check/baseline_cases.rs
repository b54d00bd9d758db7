//! `check --baseline`: recorded noise regresses nothing, a real slowdown of discovery does, one baseline run
//! is said to be too small, and older reports and several baseline files still read.

use crate::check_support::runs::{jittered, with_discovery};
use crate::check_support::{check, expect_exit, json_report, path, recorded};

use super::{arg, text};

/// Recordings of the same data whose faults leave the timing alone.
const SAME_DATA: [&str; 6] = [
    "clean",
    "unknown-event-type",
    "wrong-feature-dim",
    "cross-session-edge",
    "open-candle-read",
    "low-authenticity",
];

/// Writes the JSON report of checking `files` (development profile: no violation blocks) to `name`.
fn baseline_of(name: &str, files: &[std::path::PathBuf]) -> std::path::PathBuf {
    let report = path(name);
    let mut args = vec!["--profile", "development", "--report", arg(&report)];
    args.extend(files.iter().map(|f| arg(f)));
    expect_exit(&check(&args, b""), 0);
    report
}

fn against(baselines: &[&std::path::Path], files: &[&std::path::Path]) -> std::process::Output {
    let mut args = vec!["--profile", "development", "--format", "json"];
    for baseline in baselines {
        args.extend(["--baseline", arg(baseline)]);
    }
    args.extend(files.iter().map(|f| arg(f)));
    check(&args, b"")
}

#[test]
fn recordings_of_the_same_data_regress_nothing() {
    let files: Vec<_> = SAME_DATA.iter().map(|name| recorded(name)).collect();
    let baseline = baseline_of("same-data-baseline.json", &files[..3]);
    for new in [&files[3..], &files[..1]] {
        let new: Vec<&std::path::Path> = new.iter().map(|f| f.as_path()).collect();
        let output = against(&[&baseline], &new);
        expect_exit(&output, 0);
        let report = json_report(&output);
        let judged = &report["baseline"];
        assert_eq!(judged["regressions"], serde_json::json!([]), "{judged}");
        assert!(judged["stages_compared"].as_u64().unwrap() >= 5, "{judged}");
    }
}

#[test]
fn jittering_runs_regress_nothing_and_a_slowed_discovery_does() {
    let baseline = baseline_of(
        "jitter-baseline.json",
        &[with_discovery(
            "jitter-base.jsonl",
            &jittered(0.4, 0.2, 12, 1),
        )],
    );
    let noise = with_discovery("jitter-noise.jsonl", &jittered(0.4, 0.2, 12, 2));
    let output = against(&[&baseline], &[&noise]);
    expect_exit(&output, 0);
    assert_eq!(
        json_report(&output)["baseline"]["regressions"],
        serde_json::json!([])
    );

    // 30 % slower: about 0.12 s, over the 50 ms floor.
    let slow = with_discovery("jitter-slow.jsonl", &jittered(0.52, 0.2, 12, 3));
    let output = against(&[&baseline], &[&slow]);
    expect_exit(&output, 1);
    let report = json_report(&output);
    let regressions = report["baseline"]["regressions"].as_array().unwrap();
    let discovery = regressions
        .iter()
        .find(|r| r["stage"] == "discovery")
        .unwrap_or_else(|| panic!("{regressions:?}"));
    let percent = discovery["difference_percent"].as_f64().unwrap();
    assert!((20.0..45.0).contains(&percent), "{discovery}");
    assert!(
        discovery["difference_seconds"].as_f64().unwrap() > 0.05,
        "{discovery}"
    );
    assert!(discovery["p_value"].as_f64().unwrap() < 0.01, "{discovery}");
    assert_eq!(discovery["baseline_runs"], 12);
    assert_eq!(report["totals"]["regressions"], regressions.len());
    assert!(
        regressions
            .iter()
            .all(|r| ["discovery", "run"].contains(&r["stage"].as_str().unwrap())),
        "only discovery, and the run it lengthens: {regressions:?}"
    );

    // The same, in the words of the summary and the Markdown report.
    let summary = check(
        &[
            "--profile",
            "development",
            "--baseline",
            arg(&baseline),
            arg(&slow),
        ],
        b"",
    );
    expect_exit(&summary, 1);
    assert!(
        text(&summary.stdout).contains("regression: stage discovery of ironforge-replay took"),
        "{}",
        text(&summary.stdout)
    );
    let markdown = check(
        &[
            "--profile",
            "development",
            "--format",
            "markdown",
            "--baseline",
            arg(&baseline),
            arg(&slow),
        ],
        b"",
    );
    let markdown = text(&markdown.stdout);
    assert!(
        markdown.contains("| ironforge-replay | discovery |"),
        "{markdown}"
    );
    let html = check(
        &[
            "--profile",
            "development",
            "--format",
            "html",
            "--baseline",
            arg(&baseline),
            arg(&slow),
        ],
        b"",
    );
    let html = text(&html.stdout);
    assert!(html.contains("Baseline (2 regression(s))"), "{html}");
    assert!(
        html.contains("stage discovery of ironforge-replay took"),
        "{html}"
    );
    assert!(
        html.contains("jitter-slow.jsonl"),
        "the input file is named"
    );
}

#[test]
fn one_baseline_run_is_too_small_to_judge() {
    let baseline = baseline_of("one-run.json", &[recorded("clean")]);
    let slow = recorded("slow-session");
    let output = against(&[&baseline], &[&slow]);
    expect_exit(&output, 0);
    let report = json_report(&output);
    let not_judged = report["baseline"]["not_judged"].as_array().unwrap();
    let discovery = not_judged
        .iter()
        .find(|stage| stage["stage"] == "discovery")
        .unwrap_or_else(|| panic!("{not_judged:?}"));
    assert!(
        discovery["reason"]
            .as_str()
            .unwrap()
            .contains("the baseline holds 1 run"),
        "{discovery}"
    );

    let bad = path("not-a-report.json");
    std::fs::write(&bad, "{\"schema_version\": 1,\n \"traces\": 3}").unwrap();
    let refused = check(&["--baseline", arg(&bad), arg(&slow)], b"");
    expect_exit(&refused, 3);
    assert!(text(&refused.stderr).contains(&format!("{}:2:", bad.display())));
}

#[test]
fn older_reports_and_several_baseline_files_still_judge() {
    let halves = [
        baseline_of(
            "half-a.json",
            &[with_discovery("half-a.jsonl", &jittered(0.4, 0.2, 6, 4))],
        ),
        baseline_of(
            "half-b.json",
            &[with_discovery("half-b.jsonl", &jittered(0.4, 0.2, 6, 5))],
        ),
    ];
    let slow = with_discovery("half-slow.jsonl", &jittered(0.52, 0.2, 12, 6));
    let output = against(&[&halves[0], &halves[1]], &[&slow]);
    expect_exit(&output, 1);
    let report = json_report(&output);
    let discovery = report["baseline"]["regressions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["stage"] == "discovery")
        .cloned()
        .unwrap_or_else(|| panic!("{}", report["baseline"]));
    assert_eq!(discovery["baseline_runs"], 12, "both files' runs pool");

    // A report written before stage distributions existed: its listed traces' stage times are the runs.
    let mut old: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&halves[0]).unwrap()).unwrap();
    old.as_object_mut().unwrap().remove("stage_distributions");
    let old_file = path("old-format.json");
    std::fs::write(&old_file, old.to_string()).unwrap();
    let output = against(&[&old_file], &[&slow]);
    expect_exit(&output, 1);
    let report = json_report(&output);
    let stages: Vec<&str> = report["baseline"]["regressions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["stage"].as_str().unwrap())
        .collect();
    assert_eq!(
        stages,
        ["discovery"],
        "an old report holds no whole-run times"
    );
}
