//! `ironforge-processor check` on traces the real replay recorded: exit codes, formats, bad and mixed
//! input, gzip, standard input, protobuf, and the baseline criterion.

mod baseline_cases;
mod report_cases;

use std::io::Write;

use crate::check_support::{
    Fault, SERVICE, check, clean_run, contracts_with, expect_exit, faults, json_report, path,
    quick_run_contracts, record, recorded, timing_contracts, violated,
};
use crate::own_process::run_apart;
use flate2::Compression;
use flate2::write::GzEncoder;
use ironforge_loadgen::copies::Recording;
use ironforge_proto::otlp::trace_service::ExportTraceServiceRequest;
use ironforge_replay::Faults;
use prost::Message;
use quick_xml::events::Event;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn arg(path: &std::path::Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn exit_codes_follow_the_verdicts() {
    let run = arg(clean_run());
    // The real sessions break blocking contracts (authenticity, colliding session ids).
    let failing = check(&[run], b"");
    expect_exit(&failing, 1);
    let stdout = text(&failing.stdout);
    assert!(stdout.contains("not production-ready"), "{stdout}");
    assert!(stdout.contains("result: FAIL (exit 1)"), "{stdout}");

    // The development profile turns every violation into a non-blocking warning.
    expect_exit(&check(&["--profile", "development", run], b""), 0);
    let strict = check(&["--profile", "development", "--strict", run], b"");
    expect_exit(&strict, 2);
    assert!(text(&strict.stdout).contains("WARNINGS (strict)"));

    // Contracts the run keeps: a pass under the production profile, strict or not.
    let timing = timing_contracts();
    let passing = check(&["--strict", "--config", arg(&timing), run], b"");
    expect_exit(&passing, 0);
    assert!(
        text(&passing.stdout).contains("1 passed"),
        "{}",
        text(&passing.stdout)
    );

    // Usage errors are bad input too, not the warnings code clap would give them.
    expect_exit(&check(&["--format", "json"], b""), 3);
    expect_exit(&check(&["--max-regression", "-5", run], b""), 3);

    let missing = check(&[arg(&path("absent.jsonl"))], b"");
    expect_exit(&missing, 3);
    assert!(text(&missing.stderr).contains("absent.jsonl: cannot open"));
}

#[test]
fn an_invalid_contract_file_names_file_line_and_field() {
    let bad = contracts_with("bad.yaml", "threshold: 3\n", "threshold: three\n");
    let output = check(&["--config", arg(&bad), arg(clean_run())], b"");
    expect_exit(&output, 3);
    let stderr = text(&output.stderr);
    assert!(stderr.contains(&format!("{}:", bad.display())), "{stderr}");
    assert!(stderr.contains("contracts[0].threshold"), "{stderr}");
}

#[test]
fn every_fault_of_the_replay_breaks_its_contract() {
    let clean = json_report(&check(&["--format", "json", arg(clean_run())], b""));
    let clean_violations = violated(&clean);
    let quick_run = quick_run_contracts();
    for Fault { name, contract, .. } in faults() {
        assert!(
            !clean_violations.iter().any(|id| id == contract),
            "the clean run already breaks {contract}"
        );
        let file = recorded(name);
        let mut args = vec!["--format", "json"];
        if contract == "run_duration" {
            args.extend(["--config", arg(&quick_run)]);
        }
        args.push(arg(&file));
        let output = check(&args, b"");
        expect_exit(&output, 1);
        let report = json_report(&output);
        assert!(
            violated(&report).iter().any(|id| id == contract),
            "--{name} did not break {contract}: {:?}",
            violated(&report)
        );
        if name == "slow-session" {
            // The analysis names the slowed session as what dominates the run, and plans around it.
            let analysis = &report["traces"][0]["analysis"];
            let slowest = &analysis["sessions"][0];
            assert_eq!(slowest["stage"], "discovery", "{slowest}");
            assert!(
                slowest["critical_seconds"].as_f64().unwrap() >= 3.5,
                "{slowest}"
            );
            let session = slowest["session_id"].as_str().unwrap();
            assert!(
                analysis["dominant"].as_str().unwrap().contains(session),
                "{analysis}"
            );
            assert_eq!(analysis["recommendations"][0]["category"], "outlier");
            assert!(analysis["plan"]["total_gain_seconds"].as_f64().unwrap() > 3.0);
        }
    }

    // Low authenticity: the target session already scores below 0.87 on its real data; the fault drives it
    // to 0.
    let file = recorded("low-authenticity");
    let report = json_report(&check(&["--format", "json", arg(&file)], b""));
    let scores = |report: &serde_json::Value| -> Vec<f64> {
        report["traces"][0]["violations"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|v| v["contract_id"] == "pattern_authenticity")
            .map(|v| v["observed"].as_f64().unwrap())
            .collect()
    };
    assert!(scores(&report).contains(&0.0), "{:?}", scores(&report));
    assert!(!scores(&clean).contains(&0.0));
}

#[test]
fn the_json_report_carries_verdicts_totals_and_a_schema_version() {
    let report = json_report(&check(&["--format", "json", arg(clean_run())], b""));
    assert_eq!(report["schema_version"], 1);
    assert_eq!(report["exit_code"], 1);
    assert_eq!(report["totals"]["traces"], 1);
    assert_eq!(report["totals"]["failed"], 1);
    let trace = &report["traces"][0];
    assert_eq!(trace["service_name"], SERVICE);
    assert_eq!(trace["status"], "fail");
    assert_eq!(trace["production_ready"], false);
    let violations = trace["violations"].as_array().unwrap();
    assert_eq!(
        report["totals"]["violations"].as_u64().unwrap(),
        violations.len() as u64
    );
    let stages: Vec<&str> = trace["stage_durations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|stage| stage["stage"].as_str().unwrap())
        .collect();
    assert_eq!(
        stages,
        ["discovery", "confluence", "validation", "reporting"]
    );
    let analysis = &trace["analysis"];
    assert!(
        !analysis["critical_path"].as_array().unwrap().is_empty(),
        "{analysis}"
    );
    assert_eq!(analysis["stages"].as_array().unwrap().len(), 4);
    assert!(analysis["plan"]["run_seconds_before"].as_f64().unwrap() > 0.0);
}

/// The attributes of an XML element, unescaped.
fn attributes(element: &quick_xml::events::BytesStart<'_>) -> Vec<(String, String)> {
    element
        .attributes()
        .map(|attribute| {
            let attribute = attribute.unwrap();
            (
                String::from_utf8(attribute.key.as_ref().to_vec()).unwrap(),
                attribute.unescape_value().unwrap().into_owned(),
            )
        })
        .collect()
}

fn attribute<'a>(attributes: &'a [(String, String)], name: &str) -> &'a str {
    attributes
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
        .unwrap_or_else(|| panic!("no attribute {name} in {attributes:?}"))
}

/// A JUnit testcase as read back: name, the failure's message and text when it failed, its output, and
/// whether it was skipped.
#[derive(Debug, Default)]
struct Case {
    name: String,
    failure: Option<(String, String)>,
    output: Option<String>,
    skipped: bool,
}

/// The text being read: the failure's, or the output's.
fn case_text(case: &mut Case, failure: bool) -> &mut String {
    if failure {
        &mut case.failure.as_mut().unwrap().1
    } else {
        case.output.as_mut().unwrap()
    }
}

/// The testsuites of a JUnit report: name and testcases.
fn parse_junit(xml: &str) -> Vec<(String, Vec<Case>)> {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut suites: Vec<(String, Vec<Case>)> = Vec::new();
    let mut in_failure = false;
    let mut in_output = false;
    loop {
        match reader.read_event().unwrap() {
            Event::Eof => break,
            Event::Start(element) | Event::Empty(element) => {
                let attrs = attributes(&element);
                match element.name().as_ref() {
                    b"testsuite" => suites.push((attribute(&attrs, "name").to_owned(), Vec::new())),
                    b"testcase" => suites.last_mut().unwrap().1.push(Case {
                        name: attribute(&attrs, "name").to_owned(),
                        ..Case::default()
                    }),
                    b"system-out" => {
                        let case = suites.last_mut().unwrap().1.last_mut().unwrap();
                        case.output = Some(String::new());
                        in_output = true;
                    }
                    b"skipped" => {
                        suites.last_mut().unwrap().1.last_mut().unwrap().skipped = true;
                    }
                    b"failure" => {
                        let case = suites.last_mut().unwrap().1.last_mut().unwrap();
                        case.failure =
                            Some((attribute(&attrs, "message").to_owned(), String::new()));
                        in_failure = true;
                    }
                    _ => {}
                }
            }
            Event::Text(content) if in_failure || in_output => {
                let case = suites.last_mut().unwrap().1.last_mut().unwrap();
                case_text(case, in_failure).push_str(&content.decode().unwrap());
            }
            Event::GeneralRef(reference) if in_failure || in_output => {
                let case = suites.last_mut().unwrap().1.last_mut().unwrap();
                let name = reference.decode().unwrap();
                let resolved = quick_xml::escape::resolve_xml_entity(&name).unwrap();
                case_text(case, in_failure).push_str(resolved);
            }
            Event::End(element) if element.name().as_ref() == b"failure" => in_failure = false,
            Event::End(element) if element.name().as_ref() == b"system-out" => in_output = false,
            _ => {}
        }
    }
    suites
}

#[test]
fn the_junit_report_has_a_suite_per_file_and_a_case_per_run_and_contract() {
    let run = arg(clean_run());
    let report_file = path("report.xml");
    // The report's format follows from its extension while the summary prints.
    let output = check(&["--report", arg(&report_file), run], b"");
    expect_exit(&output, 1);
    assert!(text(&output.stdout).contains("result: FAIL"));
    let xml = std::fs::read_to_string(&report_file).unwrap();
    assert_eq!(xml, text(&check(&["--format", "junit", run], b"").stdout));

    let suites = parse_junit(&xml);
    assert_eq!(suites.len(), 1);
    let (name, cases) = &suites[0];
    assert_eq!(name, run, "a suite is named after its input file");
    let contracts = text(&check(&["--format", "json", run], b"").stdout);
    let contracts: serde_json::Value = serde_json::from_str(&contracts).unwrap();
    let ids: Vec<&str> = contracts["contracts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 19);
    let started = contracts["traces"][0]["started_unix_nano"]
        .as_u64()
        .unwrap();
    // 2026-11-29T09:21:14.738Z: pipeline, run start in UTC, contract.
    let prefix = format!("{SERVICE} / 2026-11-29T09:21:14.");
    assert_eq!(started / 1_000_000_000, 1_795_944_074);
    for id in &ids {
        assert!(
            cases
                .iter()
                .any(|case| case.name.starts_with(&prefix)
                    && case.name.ends_with(&format!("Z / {id}"))),
            "no testcase for {id} in {:?}",
            cases.iter().map(|c| &c.name).collect::<Vec<_>>()
        );
    }
    let case = |id: &str| {
        cases
            .iter()
            .find(|case| case.name.ends_with(&format!(" / {id}")))
            .unwrap()
    };
    let authenticity = case("pattern_authenticity");
    let (message, body) = authenticity.failure.as_ref().expect("a failure");
    assert!(message.contains("requires > 0.87"), "{message}");
    assert!(
        body.contains("observed 0.318182, threshold > 0.87"),
        "{body}"
    );
    assert!(
        body.contains("session ASIA_2025-07-24 (validation), span "),
        "{body}"
    );
    assert!(case("session_duration").failure.is_none());
    // A warning is the case's output, not a failure, unless warnings fail the check.
    let warned = case("sessions_complete");
    assert!(warned.failure.is_none(), "{warned:?}");
    assert!(
        warned
            .output
            .as_deref()
            .unwrap()
            .contains("sessions_complete: observed 5"),
        "{warned:?}"
    );
    let strict = text(&check(&["--format", "junit", "--fail-on", "warning", run], b"").stdout);
    let strict = parse_junit(&strict);
    let failed = strict[0]
        .1
        .iter()
        .find(|c| c.name.ends_with(" / sessions_complete"))
        .unwrap();
    let (message, _) = failed
        .failure
        .as_ref()
        .expect("a warning fails under --fail-on warning");
    assert!(message.contains("sessions_complete"), "{message}");
}

/// A JUnit reader CI systems use (Python's `junitparser`, from `scripts/test`'s `.venv`) reads the report
/// as the XML parse above does: each suite's tests, failures and errors.
#[test]
fn a_junit_parser_reads_the_report() {
    let workspace = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let python = std::env::var_os("IRONFORGE_TEST_PYTHON")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| workspace.join(".venv/bin/python"));
    assert!(
        python.exists(),
        "no Python with junitparser at {}: run scripts/test, which creates .venv",
        python.display()
    );
    let report_file = path("junitparser.xml");
    let slow = recorded("slow-session");
    expect_exit(
        &check(
            &["--report", arg(&report_file), arg(clean_run()), arg(&slow)],
            b"",
        ),
        1,
    );
    let script = "import json, sys\n\
        from junitparser import JUnitXml, Failure, Error, Skipped\n\
        xml = JUnitXml.fromfile(sys.argv[1])\n\
        suites = list(xml) if isinstance(xml, JUnitXml) else [xml]\n\
        count = lambda s, kind: sum(1 for c in s for r in c.result if isinstance(r, kind))\n\
        print(json.dumps([[s.name, s.tests, count(s, Failure), count(s, Error), \
        sum(1 for c in s if c.system_out)] for s in suites]))\n";
    let output = std::process::Command::new(&python)
        .args(["-c", script])
        .arg(&report_file)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output.stderr));
    let read: Vec<(String, u64, u64, u64, u64)> =
        serde_json::from_str(&text(&output.stdout)).unwrap();
    let xml = std::fs::read_to_string(&report_file).unwrap();
    let expected: Vec<(String, u64, u64, u64, u64)> = parse_junit(&xml)
        .into_iter()
        .map(|(name, cases)| {
            let failures = cases.iter().filter(|case| case.failure.is_some()).count() as u64;
            let outputs = cases.iter().filter(|case| case.output.is_some()).count() as u64;
            (name, cases.len() as u64, failures, 0, outputs)
        })
        .collect();
    assert_eq!(read, expected);
    let names: Vec<&str> = read.iter().map(|suite| suite.0.as_str()).collect();
    assert_eq!(names, [arg(clean_run()), arg(&slow)]);
    assert!(read[0].2 > 0, "the clean run breaks contracts: {read:?}");
    assert!(read[0].4 > 0, "and warns: {read:?}");
}

#[test]
fn the_markdown_report_is_a_table() {
    let output = check(&["--format", "markdown", arg(clean_run())], b"");
    expect_exit(&output, 1);
    let markdown = text(&output.stdout);
    assert!(
        markdown.starts_with("## IRONFORGE contract check: FAIL\n"),
        "{markdown}"
    );
    let rows: Vec<&str> = markdown
        .lines()
        .filter(|line| line.starts_with('|'))
        .collect();
    assert!(
        rows.iter()
            .any(|row| row.contains("❌ fail") && row.contains(SERVICE))
    );
    assert!(rows.iter().any(|row| row.contains("`unique_session_ids`")));
    // Every row has its table's cells (runs, failures by contract): nothing in a cell broke the table.
    for row in &rows {
        let cells = row.replace("\\|", "").matches('|').count();
        assert!(cells == 7 || cells == 5, "{row}");
    }
}

#[test]
fn the_summary_is_plain_text_when_not_on_a_terminal() {
    let output = check(&[arg(clean_run())], b"");
    let summary = text(&output.stdout);
    assert!(!summary.contains('\x1b'), "{summary}");
    assert!(
        summary.contains("pattern_authenticity [critical, blocks production] session ASIA_2025-07-24 (validation) has ironforge.pattern.authenticity = 0.318182"),
        "{summary}"
    );
    assert!(summary.contains("(observed 0.318182, threshold 0.87; span "));
}

#[test]
fn malformed_lines_are_reported_and_the_rest_is_checked() {
    let clean = std::fs::read_to_string(clean_run()).unwrap();
    let first = clean.lines().next().unwrap();
    let faulty = recorded("wrong-feature-dim");
    let faulty = std::fs::read_to_string(faulty).unwrap();
    let mixed = path("mixed.jsonl");
    let cut = &first[..first.len() / 2];
    std::fs::write(
        &mixed,
        format!("{first}\nnot json at all\n{cut}\n\n{faulty}{{\"resourceSpans\": 7}}\n"),
    )
    .unwrap();
    let output = check(&["--format", "json", arg(&mixed)], b"");
    expect_exit(&output, 3);
    let stderr = text(&output.stderr);
    let name = mixed.display();
    assert!(
        stderr.contains(&format!("{name}:2: invalid OTLP/JSON")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("{name}:3: OTLP/JSON document cut short")),
        "{stderr}"
    );
    let last = 5 + faulty.lines().count();
    assert!(
        stderr.contains(&format!("{name}:{last}: invalid OTLP/JSON")),
        "{stderr}"
    );
    let report = json_report(&output);
    assert_eq!(
        report["totals"]["traces"], 2,
        "both good lines were checked"
    );
    assert_eq!(report["totals"]["input_errors"], 3);
    assert!(violated(&report).iter().any(|id| id == "node_feature_dim"));
}

#[test]
fn gzip_stdin_protobuf_and_pretty_json_read_alike() {
    let run = clean_run();
    let expected = json_report(&check(&["--format", "json", arg(run)], b""));
    let plain = std::fs::read(run).unwrap();
    let mut gzip = GzEncoder::new(Vec::new(), Compression::default());
    gzip.write_all(&plain).unwrap();
    let gzip = gzip.finish().unwrap();
    // Detected by its magic bytes, not its name.
    let gzipped = path("gzipped.jsonl");
    std::fs::write(&gzipped, &gzip).unwrap();

    let requests: Vec<ExportTraceServiceRequest> = std::str::from_utf8(&plain)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let pretty = path("pretty.json");
    let documents: Vec<String> = requests
        .iter()
        .map(|request| serde_json::to_string_pretty(request).unwrap())
        .collect();
    std::fs::write(&pretty, documents.join("\n")).unwrap();
    let mut merged = ExportTraceServiceRequest::default();
    for request in requests {
        merged.resource_spans.extend(request.resource_spans);
    }
    let protobuf = path("run.pb");
    std::fs::write(&protobuf, merged.encode_to_vec()).unwrap();

    let verdicts = |output: &std::process::Output| {
        expect_exit(output, 1);
        json_report(output)["traces"].clone()
    };
    for output in [
        check(&["--format", "json", arg(&gzipped)], b""),
        check(&["--format", "json", "-"], &gzip),
        check(&["--format", "json", "-"], &plain),
        check(&["--format", "json", arg(&pretty)], b""),
        check(&["--format", "json", arg(&protobuf)], b""),
    ] {
        let mut traces = verdicts(&output);
        let mut want = expected["traces"].clone();
        // Decision times differ from run to run, and each names its own input.
        for verdicts in [&mut traces, &mut want] {
            for trace in verdicts.as_array_mut().unwrap() {
                trace["decided_unix_nano"] = 0.into();
                trace["input_file"] = "".into();
                for violation in trace["violations"].as_array_mut().unwrap() {
                    violation["time_unix_nano"] = 0.into();
                }
            }
        }
        assert_eq!(traces, want);
    }
}

#[test]
fn invalid_spans_and_empty_input_are_bad_input() {
    let clean = std::fs::read_to_string(clean_run()).unwrap();
    let mut request: serde_json::Value =
        serde_json::from_str(clean.lines().next().unwrap()).unwrap();
    let span = &mut request["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
    span["endTimeUnixNano"] = "1".into();
    let edited = path("ends-before-it-starts.jsonl");
    std::fs::write(&edited, format!("\n{request}\n")).unwrap();
    let output = check(&[arg(&edited)], b"");
    expect_exit(&output, 3);
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains(&format!(
            "{}:2: 1 invalid span(s) left out",
            edited.display()
        )),
        "{stderr}"
    );
    // The rest of the run is still judged.
    assert!(text(&output.stdout).contains("1 trace(s)"));

    let empty = check(&["-"], b"");
    expect_exit(&empty, 3);
    assert!(text(&empty.stderr).contains("<stdin>: empty input"));
    let nothing = check(&["-"], b"{\"resourceSpans\": []}\n");
    expect_exit(&nothing, 3);
    assert!(text(&nothing.stderr).contains("no IRONFORGE trace in the input"));
}

/// A trace of a JSON report without what depends on the wall clock of the check that decided it, or on
/// the input file it was read from.
fn without_wall_clock(mut trace: serde_json::Value) -> serde_json::Value {
    let object = trace.as_object_mut().unwrap();
    object.remove("decided_unix_nano");
    object.remove("input_file");
    for violation in object["violations"].as_array_mut().unwrap() {
        violation.as_object_mut().unwrap().remove("time_unix_nano");
    }
    trace
}

#[test]
fn many_runs_in_one_input_are_decided_as_trace_time_passes() {
    const COPIES: u64 = 50;
    const GAP_NANOS: u64 = 1_000_000_000;
    let recording = Recording::read(std::io::BufReader::new(
        std::fs::File::open(clean_run()).unwrap(),
    ))
    .unwrap();
    let many = path("many-runs.jsonl");
    recording
        .write_copies(COPIES, GAP_NANOS, std::fs::File::create(&many).unwrap())
        .unwrap();
    let report = json_report(&check(&["--format", "json", arg(&many)], b""));
    assert_eq!(report["totals"]["traces"], COPIES, "{}", report["totals"]);
    // A run is decided once later runs' spans move trace time 5 s (the grace) past its root; the replay's
    // run takes well under a second, so with the gap of 1 s a handful are ever in flight, not all 50.
    let in_flight = report["totals"]["max_traces_in_flight"].as_u64().unwrap();
    assert!((1..=7).contains(&in_flight), "{}", report["totals"]);

    let together: std::collections::HashMap<String, serde_json::Value> = report["traces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|trace| {
            let id = trace["trace_id"].as_str().unwrap().to_owned();
            (id, without_wall_clock(trace.clone()))
        })
        .collect();
    assert_eq!(together.len() as u64, COPIES);
    let alone = |copy: u64| {
        let file = path(&format!("run-copy-{copy}.jsonl"));
        let mut out = std::fs::File::create(&file).unwrap();
        recording.write_copy(copy, GAP_NANOS, &mut out).unwrap();
        drop(out);
        let report = json_report(&check(&["--format", "json", arg(&file)], b""));
        let traces = report["traces"].as_array().unwrap();
        assert_eq!(traces.len(), 1, "copy {copy}");
        without_wall_clock(traces[0].clone())
    };
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..4)
            .map(|worker| {
                scope.spawn(move || {
                    (worker..COPIES)
                        .step_by(4)
                        .map(|copy| (copy, alone(copy)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for worker in workers {
            for (copy, trace) in worker.join().unwrap() {
                let id = trace["trace_id"].as_str().unwrap();
                assert_eq!(
                    together.get(id),
                    Some(&trace),
                    "copy {copy} checked alone differs from the same run among the others"
                );
            }
        }
    });
}

/// Contracts on the process that recorded a run, not on what the run did.
const PROCESS_CONTRACTS: [&str; 3] = ["instrument_overhead", "run_memory_peak", "span_memory_peak"];

/// The contracts on how long a run and its parts took.
const TIME_CONTRACTS: [&str; 3] = ["session_duration", "run_duration", "init_duration"];

#[test]
fn recordings_break_the_contracts_the_replay_breaks_now() {
    // The memory-growth run raises this process's peak of resident memory, which every later replay run in
    // the process would read into its verdict.
    if !run_apart(
        module_path!(),
        "recordings_break_the_contracts_the_replay_breaks_now",
    ) {
        return;
    }
    // The recordings in fixtures/traces stand for the replay only while it still breaks the same contracts;
    // when this fails, `scripts/record-traces` records them again.
    let quick_run = quick_run_contracts();
    let mut cases = vec![("clean", Faults::default())];
    cases.extend(faults().into_iter().map(|fault| (fault.name, fault.faults)));
    cases.push((
        "low-authenticity",
        Faults {
            low_authenticity: true,
            ..Faults::default()
        },
    ));
    for (name, faults) in cases {
        let fresh = record(&format!("fresh-{name}.jsonl"), faults);
        // Some contracts read the recording process rather than the replay: its memory (here this test
        // process's) and the instrumentation's cost per operation on a machine under load. They are left out;
        // the fault tests check the recordings break them.
        // The time contracts read how fast the recording machine ran too: a debug build on a loaded machine
        // can take the quick-run limit's 1 s for a run that stalls nowhere. They are compared only where the
        // fault is about time.
        let about_time = name.starts_with("slow-");
        let broken = |file: &std::path::Path| {
            let args = ["--format", "json", "--config", arg(&quick_run), arg(file)];
            let mut ids = violated(&json_report(&check(&args, b"")));
            ids.retain(|id| !PROCESS_CONTRACTS.contains(&id.as_str()));
            ids.retain(|id| about_time || !TIME_CONTRACTS.contains(&id.as_str()));
            ids
        };
        assert_eq!(
            broken(&recorded(name)),
            broken(&fresh),
            "fixtures/traces/{name}.jsonl.gz against a fresh recording"
        );
    }
}

/// An exporter that retried wrote some requests twice into the recording: each span counts once.
#[test]
fn a_recording_holding_each_request_twice_judges_as_once() {
    let run = clean_run();
    let once = json_report(&check(&["--format", "json", arg(run)], b""));
    let plain = String::from_utf8(std::fs::read(run).unwrap()).unwrap();
    let twice: String = plain
        .lines()
        .flat_map(|line| [line, "\n", line, "\n"])
        .collect();
    let doubled = path("doubled.jsonl");
    std::fs::write(&doubled, twice).unwrap();
    let again = json_report(&check(&["--format", "json", arg(&doubled)], b""));
    let summary = |report: &serde_json::Value| {
        report["traces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|trace| {
                let mut contracts: Vec<String> = trace["violations"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| format!("{} {}", v["contract_id"], v["span_id"]))
                    .collect();
                contracts.sort();
                (
                    trace["trace_id"].clone(),
                    trace["status"].clone(),
                    trace["span_count"].clone(),
                    contracts,
                )
            })
            .collect::<Vec<_>>()
    };
    assert!(!summary(&once).is_empty());
    assert_eq!(summary(&once), summary(&again));
}
