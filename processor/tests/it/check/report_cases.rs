//! The reports name the input file each run came from, and the Markdown report stays short.

use crate::check_support::{check, expect_exit, json_report, recordings};

use super::{arg, text};

/// Every bundled recording, by the relative path CI would give.
fn bundled() -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(recordings())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.to_str().unwrap().ends_with(".jsonl.gz"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_report_names_the_input_file_of_each_run() {
    let files = bundled();
    assert_eq!(files.len(), 10);
    let names: Vec<&str> = files.iter().map(|f| arg(f)).collect();
    let run = |format: &str| {
        let mut args = vec!["--format", format];
        args.extend(&names);
        let output = check(&args, b"");
        expect_exit(&output, 1);
        output
    };
    let report = json_report(&run("json"));
    assert_eq!(report["inputs"], serde_json::json!(names));
    let mut from: Vec<&str> = report["traces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|trace| trace["input_file"].as_str().unwrap())
        .collect();
    from.sort();
    assert_eq!(from, names, "one run per recording, each from its own file");

    let markdown = text(&run("markdown").stdout);
    let summary = text(&run("summary").stdout);
    for name in &names {
        assert!(
            markdown.contains(&format!("| `{name}` | ironforge-replay |")),
            "{markdown}"
        );
        assert!(
            summary.contains(&format!("    input {name}, started 2026-")),
            "{summary}"
        );
    }
    // A row per run, then failures only: a few KB where the table of every violation took 53 KB.
    assert!(
        markdown.len() < 6 * 1024,
        "{} bytes:\n{markdown}",
        markdown.len()
    );
    assert!(
        markdown.contains("| `pattern_authenticity` | 9 |"),
        "{markdown}"
    );
    assert!(
        !markdown.contains("sessions_complete"),
        "warnings are not listed: {markdown}"
    );
}
