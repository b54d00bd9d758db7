//! The `ironforge-processor` command line: contract file commands and start-up errors, as a user sees them.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::{Command, Output};

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
fn schema_is_json_for_editors() {
    let output = processor(&["config", "schema"]);
    assert!(output.status.success());
    let schema: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(schema["title"], "ContractFile");
    assert!(schema["properties"]["contracts"].is_object());
}
