//! `ironforge-replay --output`: the run recorded as OTLP/JSON lines, with no server to send to.

use std::process::Command;

use serde_json::Value;

/// Every span of the recorded requests.
fn spans(request: &Value) -> Vec<&Value> {
    request["resourceSpans"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|resource| resource["scopeSpans"].as_array().unwrap())
        .flat_map(|scope| scope["spans"].as_array().unwrap())
        .collect()
}

#[test]
fn output_records_the_trace_in_the_otlp_json_mapping_without_a_server() {
    let file = std::env::temp_dir().join(format!(
        "ironforge-replay-output-{}.jsonl",
        std::process::id()
    ));
    let output = Command::new(env!("CARGO_BIN_EXE_ironforge-replay"))
        .args(["--sessions-limit", "3", "--output", file.to_str().unwrap()])
        // Nothing listens there: a run that tried to export would report failures and exit non-zero.
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("export failures:  0"), "{stdout}");
    let trace_id = stdout
        .lines()
        .find_map(|line| line.strip_prefix("trace id:"))
        .unwrap()
        .trim()
        .to_owned();

    let text = std::fs::read_to_string(&file).unwrap();
    let requests: Vec<Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert!(!requests.is_empty());
    let spans: Vec<&Value> = requests.iter().flat_map(spans).collect();
    // init, run, four stages, and a span per session and stage.
    assert_eq!(spans.len(), 2 + 4 + 3 * 4, "{text}");
    for span in &spans {
        assert_eq!(span["traceId"].as_str().unwrap(), trace_id);
        assert_eq!(span["spanId"].as_str().unwrap().len(), 16);
        let start = span["startTimeUnixNano"]
            .as_str()
            .expect("int64 as a string");
        assert!(start.parse::<u64>().is_ok());
    }
    let run = spans.iter().find(|span| span["name"] == "run").unwrap();
    let count = run["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|kv| kv["key"] == "ironforge.run.session_count")
        .unwrap();
    assert_eq!(count["value"]["intValue"], "3");
    std::fs::remove_file(file).unwrap();
}

#[test]
fn output_and_an_endpoint_are_refused_together() {
    let output = Command::new(env!("CARGO_BIN_EXE_ironforge-replay"))
        .args([
            "--output",
            "unused.jsonl",
            "--endpoint",
            "http://127.0.0.1:4317",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot be used with"));
}

/// Output captured through a pipe (as a redirect to a file or CI's log) carries no colour escapes, though the
/// console log prints there; `NO_COLOR` is not what turns them off here.
#[test]
fn output_through_a_pipe_carries_no_colour() {
    let file = std::env::temp_dir().join(format!(
        "ironforge-replay-colour-{}.jsonl",
        std::process::id()
    ));
    let output = Command::new(env!("CARGO_BIN_EXE_ironforge-replay"))
        .args(["--sessions-limit", "2", "--output", file.to_str().unwrap()])
        .env_remove("NO_COLOR")
        .env("RUST_LOG", "info")
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&file);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("INFO") && stdout.contains("sessions planned"),
        "the console log is in the captured output: {stdout}"
    );
    for (name, text) in [("stdout", &stdout), ("stderr", &stderr)] {
        assert!(
            !text.contains("\x1b["),
            "{name} has colour escapes: {text:?}"
        );
    }
}
