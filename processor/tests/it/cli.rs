//! The `ironforge-processor` command line: contract file commands and start-up errors, as a user sees them.

use std::process::{Command, Output};

use crate::e2e_support::run_with_session;
use ironforge_proto::otlp::trace_service::trace_service_client::TraceServiceClient;

fn processor(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ironforge-processor"))
        .args(args)
        .output()
        .unwrap()
}

fn temp_file(name: &str, contents: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("ironforge-cli-{}-{name}", std::process::id()));
    std::fs::write(&path, contents).unwrap();
    path
}

#[test]
fn print_default_output_validates() {
    let printed = processor(&["config", "print-default"]);
    assert!(printed.status.success());
    let path = temp_file(
        "default.yaml",
        std::str::from_utf8(&printed.stdout).unwrap(),
    );
    let validated = processor(&["config", "validate", path.to_str().unwrap()]);
    assert!(
        validated.status.success(),
        "{}",
        String::from_utf8_lossy(&validated.stderr)
    );
    let stdout = String::from_utf8(validated.stdout).unwrap();
    assert!(stdout.ends_with(": ok, 19 contracts\n"), "{stdout}");
    std::fs::remove_file(path).unwrap();
}

#[test]
fn validate_names_file_line_and_field_and_fails() {
    let text = "version: 1\ncontracts:\n  - id: slow\n    category: timing\n    measure: duration\n    comparison: lt\n    threshold: three\n    severity: critical\n";
    let path = temp_file("bad.yaml", text);
    let output = processor(&["config", "validate", path.to_str().unwrap()]);
    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    let expected = format!("{}:7:", path.display());
    assert!(stderr.starts_with(&expected), "{stderr}");
    assert!(stderr.contains("contracts[0].threshold"), "{stderr}");
    std::fs::remove_file(path).unwrap();
}

#[test]
fn serve_refuses_an_invalid_contract_file_at_start_up() {
    let path = temp_file("start.yaml", "version: 2\ncontracts: []\n");
    let output = processor(&[
        "--config",
        path.to_str().unwrap(),
        "--otlp-grpc-addr",
        "127.0.0.1:0",
        "--otlp-http-addr",
        "127.0.0.1:0",
        "--admin-addr",
        "127.0.0.1:0",
    ]);
    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains(&format!(
            "{}:1: field `version`: unsupported version 2",
            path.display()
        )),
        "{stderr}"
    );
    std::fs::remove_file(path).unwrap();
}

#[test]
fn serve_refuses_zero_or_unreadable_shard_counts() {
    for bad in ["0", "many"] {
        let output = processor(&["--shards", bad, "--admin-addr", "127.0.0.1:0"]);
        assert!(!output.status.success());
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert!(
            stderr.contains(&format!("invalid value '{bad}' for '--shards <SHARDS>'")),
            "{stderr}"
        );
    }
}

#[test]
fn serve_refuses_analysis_options_out_of_range_naming_the_flag() {
    for (flag, bad, expected) in [
        ("--regression-max-p-value", "2", "above 0 and below 1"),
        ("--regression-min-magnitude", "nan", "0 or more"),
        ("--history-max-bytes", "10", "65536"),
        ("--bottleneck-runs", "0", "1.."),
    ] {
        let output = processor(&[flag, bad, "--admin-addr", "127.0.0.1:0"]);
        assert!(!output.status.success(), "{flag} {bad} was accepted");
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert!(
            stderr.contains(&format!("invalid value '{bad}' for '{flag}")),
            "{stderr}"
        );
        assert!(stderr.contains(expected), "{flag} {bad}: {stderr}");
    }
}

#[test]
fn schema_is_json_for_editors() {
    let output = processor(&["config", "schema"]);
    assert!(output.status.success());
    let schema: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(schema["title"], "ContractFile");
    assert!(schema["properties"]["contracts"].is_object());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_console_lines_carry_the_violation_as_fields() {
    use std::io::BufRead;

    // Its own data directory: the write-ahead log of another run would be replayed (and print first).
    let data_dir = std::env::temp_dir().join(format!("ironforge-cli-{}-data", std::process::id()));
    let mut child = Command::new(env!("CARGO_BIN_EXE_ironforge-processor"))
        .arg("--data-dir")
        .arg(&data_dir)
        .args([
            "--log-format",
            "json",
            "--otlp-grpc-addr",
            "127.0.0.1:0",
            "--otlp-http-addr",
            "127.0.0.1:0",
        ])
        .args(["--admin-addr", "127.0.0.1:0"])
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (lines_tx, mut lines) = tokio::sync::mpsc::unbounded_channel::<serde_json::Value>();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let parsed =
                serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
            if lines_tx.send(parsed).is_err() {
                break;
            }
        }
    });
    let started = next_line(&mut lines).await;
    let grpc = started["fields"]["otlp_grpc"].as_str().unwrap().to_owned();
    let mut client = TraceServiceClient::connect(format!("http://{grpc}"))
        .await
        .unwrap();
    client.export(run_with_session(42, 5)).await.unwrap();
    let violation = loop {
        let line = next_line(&mut lines).await;
        if line["target"] == "ironforge::violation" {
            break line;
        }
    };
    child.kill().unwrap();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&data_dir);
    let fields = &violation["fields"];
    assert_eq!(violation["level"], "ERROR");
    assert_eq!(fields["contract"], "session_duration");
    assert_eq!(fields["trace_id"], hex::encode([42u8; 16]));
    assert_eq!(fields["observed"], 5.0);
    assert_eq!(fields["threshold"], 3.0);
    assert_eq!(fields["blocks_production"], true);
    assert!(
        fields["message"].as_str().unwrap().contains("took 5 s"),
        "{violation}"
    );
}

async fn next_line(
    lines: &mut tokio::sync::mpsc::UnboundedReceiver<serde_json::Value>,
) -> serde_json::Value {
    tokio::time::timeout(std::time::Duration::from_secs(30), lines.recv())
        .await
        .unwrap()
        .unwrap()
}
