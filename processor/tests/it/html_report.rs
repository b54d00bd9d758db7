//! The HTML run report, offline (`check --format html` on runs the real replay recorded) and live (the
//! admin port's pages over a replay sent to a running processor), opened in headless Chromium: each page
//! must load without a console message (the pages carry no script, and their Content-Security-Policy turns
//! any attempt to fetch something into one) and show the run's violations and critical path.
//!
//! Needs Debian's `chromium` package (or `IRONFORGE_CHROMIUM` naming a Chromium binary).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::check_support::{
    Fault, check, clean_run, expect_exit, faults, path, quick_run_contracts, recorded,
};
use crate::e2e_support::{TestProcessor, replay, trace_hex, unique};
use crate::wait_support::wait_until_async;
use ironforge_instrument::Protocol;
use ironforge_replay::{Faults, ReplayOptions, SessionSelector};
use serde_json::Value;

/// The variable naming the Chromium binary; `chromium` on the PATH otherwise.
const CHROMIUM_VARIABLE: &str = "IRONFORGE_CHROMIUM";
/// Sessions × stages of the replay: the session bars of a run's waterfall.
const REPLAY_SESSION_BARS: usize = 57 * 4;
/// Violations a run section lists before it counts the rest.
const LISTED_PER_RUN: usize = 300;

/// What Chromium made of a page.
struct Loaded {
    dom: String,
    /// Console lines (`:CONSOLE`) and uncaught errors from Chromium's log.
    console: Vec<String>,
}

/// Loads `url` in headless Chromium, in a profile of its own, and returns the DOM after load.
fn chromium(url: &str) -> Loaded {
    chromium_with(url, &[])
}

/// [`chromium`] with `extra` switches.
fn chromium_with(url: &str, extra: &[&str]) -> Loaded {
    let binary = std::env::var_os(CHROMIUM_VARIABLE).unwrap_or_else(|| "chromium".into());
    let profile = std::env::temp_dir().join(unique("ironforge-chromium"));
    let output = Command::new(&binary)
        .args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-extensions",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=5000",
        ])
        .args(extra)
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(["--dump-dom", url])
        .output()
        .unwrap_or_else(|err| {
            panic!(
                "cannot run {binary:?} ({err}): install Debian's chromium package or set {CHROMIUM_VARIABLE}"
            )
        });
    let _ = std::fs::remove_dir_all(&profile);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "chromium failed on {url}:\n{stderr}"
    );
    let console = stderr
        .lines()
        .filter(|line| line.contains(":CONSOLE") || line.contains("Uncaught"))
        .map(str::to_owned)
        .collect();
    Loaded {
        dom: String::from_utf8_lossy(&output.stdout).into_owned(),
        console,
    }
}

fn file_url(path: &Path) -> String {
    format!("file://{}", path.display())
}

/// Text as Chromium serializes a text node.
fn in_dom(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Text as the pages escape it, quotes too.
fn escaped(text: &str) -> String {
    in_dom(text).replace('"', "&quot;")
}

fn count(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

/// Nothing on the page may come from elsewhere.
fn assert_self_contained(html: &str) {
    assert!(
        html.starts_with("<!DOCTYPE html>"),
        "{}",
        &html[..html.len().min(200)]
    );
    for fetch in [
        "<script",
        "<link",
        "<img",
        "<iframe",
        "src=",
        "url(",
        "@import",
        "href=\"http",
        "href=\"//",
    ] {
        assert!(!html.contains(fetch), "the page holds {fetch:?}");
    }
    assert!(html.contains("Content-Security-Policy"));
}

/// A page Chromium loaded with no console message, showing `messages` and the critical path.
fn assert_loads_clean(url: &str, messages: &[String]) -> Loaded {
    let loaded = chromium(url);
    assert!(loaded.console.is_empty(), "{url}: {:#?}", loaded.console);
    assert!(loaded.dom.contains("</html>"), "{url}: no document");
    for message in messages {
        assert!(
            loaded.dom.contains(&in_dom(message)),
            "{url}: {message:?} not shown"
        );
    }
    assert!(
        count(&loaded.dom, "class=\"critical-path\"") > 0,
        "{url}: no critical-path segment"
    );
    loaded
}

/// `data-violations` per `data-contract` of a page's rows with `class`, those at zero left out.
fn contract_counts(page: &str, class: &str) -> BTreeMap<String, u64> {
    let marker = format!("<tr class=\"{class}\" data-contract=\"");
    page.split(&marker)
        .skip(1)
        .map(|rest| {
            let (contract, rest) = rest.split_once('"').unwrap();
            let (_, rest) = rest.split_once("data-violations=\"").unwrap();
            let (count, _) = rest.split_once('"').unwrap();
            (contract.to_owned(), count.parse().unwrap())
        })
        .filter(|(_, count)| *count > 0)
        .collect()
}

/// The overview's active violations per contract are its compliance table's, and its heading their sum.
fn assert_counts_agree(page: &str, name: &str) {
    let active = contract_counts(page, "active");
    assert!(!active.is_empty(), "{name}: no active violation");
    assert_eq!(active, contract_counts(page, "compliance"), "{name}");
    let total: u64 = active.values().sum();
    assert!(
        page.contains(&format!("Active violations ({total})")),
        "{name}: the heading is not the sum of its rows ({total})"
    );
}

/// The violation messages of every trace of a JSON report.
fn messages(report: &Value) -> Vec<String> {
    report["traces"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|trace| {
            trace["violations"]
                .as_array()
                .unwrap()
                .iter()
                .take(LISTED_PER_RUN)
        })
        .map(|violation| violation["message"].as_str().unwrap().to_owned())
        .collect()
}

/// `check --format html` on `file`, with the JSON report beside it: the page and the report.
fn html_report(file: &Path, config: Option<&Path>) -> (String, Value) {
    let json = path(&format!(
        "{}.json",
        file.file_stem().unwrap().to_string_lossy()
    ));
    let mut args = vec!["--format", "html", "--report", json.to_str().unwrap()];
    if let Some(config) = config {
        args.extend(["--config", config.to_str().unwrap()]);
    }
    args.push(file.to_str().unwrap());
    let output = check(&args, b"");
    expect_exit(&output, 1);
    let report = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    (String::from_utf8(output.stdout).unwrap(), report)
}

#[test]
fn the_report_of_every_replay_run_loads_clean_and_shows_its_violations_and_critical_path() {
    let quick_run = quick_run_contracts();
    let mut runs: Vec<(String, PathBuf, Option<&str>)> =
        vec![("clean".to_owned(), clean_run().to_path_buf(), None)];
    for Fault { name, contract, .. } in faults() {
        runs.push((name.to_owned(), recorded(name), Some(contract)));
    }
    runs.push((
        "low-authenticity".to_owned(),
        recorded("low-authenticity"),
        None,
    ));

    for (name, file, contract) in &runs {
        let config = (*contract == Some("run_duration")).then_some(quick_run.as_path());
        let (html, report) = html_report(file, config);
        assert_self_contained(&html);
        let messages = messages(&report);
        assert!(!messages.is_empty(), "{name}: no violation to show");
        if let Some(contract) = contract {
            assert!(html.contains(contract), "{name}: {contract} not named");
        }
        let trace = &report["traces"][0];
        let violations = trace["violations"].as_array().unwrap().len();
        let page = path(&format!("{name}.html"));
        std::fs::write(&page, &html).unwrap();
        let loaded = assert_loads_clean(&file_url(&page), &messages);
        let dom = &loaded.dom;
        // Each violation on the run's section, and each contract violated once among the overview's active
        // violations.
        assert_eq!(
            count(dom, "<tr class=\"violation\""),
            violations.min(LISTED_PER_RUN),
            "{name}"
        );
        let mut contracts: Vec<&str> = trace["violations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["contract_id"].as_str().unwrap())
            .collect();
        contracts.sort_unstable();
        contracts.dedup();
        assert_eq!(
            count(dom, "<tr class=\"active\""),
            contracts.len(),
            "{name}"
        );
        assert_counts_agree(dom, name);
        assert_eq!(
            count(dom, "class=\"session"),
            REPLAY_SESSION_BARS,
            "{name}: one bar per session of each stage"
        );
        assert!(
            count(dom, "session on-path") + count(dom, "session alt on-path") > 0,
            "{name}"
        );
        assert!(
            dom.contains("id=\"flame\"") && count(dom, "class=\"flame\"") > 4,
            "{name}"
        );
        assert!(dom.contains(&format!(
            "id=\"run-{}\"",
            trace["trace_id"].as_str().unwrap()
        )));
        for section in [
            "Stage timings against limits",
            "Memory against 100 MiB",
            "Authenticity against 0.87",
            "What-if plan",
            "Compliance per contract",
        ] {
            assert!(dom.contains(section), "{name}: no {section:?}");
        }
        // The waterfall's times: every session and stage inside the run.
        let analysis = &trace["analysis"];
        let run_seconds = analysis["run_seconds"].as_f64().unwrap();
        for session in analysis["sessions"].as_array().unwrap() {
            let start = session["start_seconds"].as_f64().unwrap();
            let end = start + session["seconds"].as_f64().unwrap();
            assert!(
                0.0 <= start && end <= run_seconds + 1e-9,
                "{name}: {session}"
            );
        }
        for stage in analysis["stages"].as_array().unwrap() {
            let (start, end) = (
                stage["start_seconds"].as_f64().unwrap(),
                stage["end_seconds"].as_f64().unwrap(),
            );
            assert!(
                0.0 <= start && start <= end && end <= run_seconds + 1e-9,
                "{name}: {stage}"
            );
        }
        // The top of the page tells the faults apart from a clean run: the slowed run is past its budget
        // (the quick-run contracts' 1 s), the low-authenticity one scored a session at 0.
        let run_time_over = dom.contains("class=\"figure over\" data-figure=\"run-time\"");
        assert_eq!(run_time_over, name == "slow-run", "{name}");
        let scored_zero = dom.contains(" · lowest 0</div>");
        assert_eq!(scored_zero, name == "low-authenticity", "{name}");
        match name.as_str() {
            "slow-session" => {
                // The slowed session tops the flame graph's discovery stage and the plan names it.
                let session = trace["analysis"]["sessions"][0]["session_id"]
                    .as_str()
                    .unwrap();
                assert!(
                    dom.contains(&format!("<code>{}</code>", in_dom(session))),
                    "{name}"
                );
                assert!(dom.contains("outlier"), "{name}: no outlier recommendation");
            }
            "memory-growth" => {
                let peak = trace["analysis"]["memory"]["peak_bytes"].as_f64().unwrap();
                // The chart's timeline is bounded and keeps the peak.
                let timeline = trace["analysis"]["memory_timeline"].as_array().unwrap();
                assert!(
                    !timeline.is_empty() && timeline.len() <= 240,
                    "{}",
                    timeline.len()
                );
                let highest = timeline
                    .iter()
                    .map(|point| point["bytes"].as_f64().unwrap())
                    .fold(0.0, f64::max);
                assert_eq!(highest, peak);
                // The page's peak is the one the memory contract read, not the resident readings'.
                let contract_peak = trace["violations"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|v| v["contract_id"] == "run_memory_peak")
                    .map(|v| v["observed"].as_f64().unwrap())
                    .expect("the memory-growth run breaks run_memory_peak");
                assert!(
                    dom.contains(&format!("data-peak-bytes=\"{contract_peak}\"")),
                    "{name}"
                );
                assert!(
                    dom.contains("data-peak-source=\"ironforge.memory.peak\""),
                    "{name}"
                );
                // The page's own memory figures are binary and say so (the analysis's advice is its own prose).
                for (from, to) in [
                    ("data-figure=\"memory-peak", "data-figure=\"authenticity"),
                    ("class=\"card memory\"", "class=\"card authenticity\""),
                ] {
                    let start = dom.find(from).unwrap();
                    let figures = &dom[start..start + dom[start..].find(to).unwrap()];
                    assert!(figures.contains(" MiB"), "{name}: {figures}");
                    assert!(!figures.contains(" MB"), "{name}: {figures}");
                }
            }
            _ => {}
        }
    }

    // All runs in one file, written by --report with the format taken from the extension.
    let all = path("all.htm");
    let mut args = vec![
        "--report",
        all.to_str().unwrap(),
        "--config",
        quick_run.to_str().unwrap(),
    ];
    let files: Vec<String> = runs
        .iter()
        .map(|(_, file, _)| file.to_str().unwrap().to_owned())
        .collect();
    args.extend(files.iter().map(String::as_str));
    expect_exit(&check(&args, b""), 1);
    let html = std::fs::read_to_string(&all).unwrap();
    assert_self_contained(&html);
    let loaded = assert_loads_clean(&file_url(&all), &[]);
    assert_eq!(count(&loaded.dom, "<section class=\"run\""), runs.len());
    assert!(
        loaded.dom.contains(&format!("{} run(s)", runs.len())),
        "the flame graph sums every run"
    );
}

/// Waits until the processor has analysed `trace`.
async fn analysed(processor: &TestProcessor, trace: &str) {
    let path = format!("/api/v1/analysis/traces/{trace}");
    wait_until_async(&format!("the analysis of {trace}"), || async {
        let (status, body) = processor.get(&path).await;
        if status == 200 {
            Ok(())
        } else {
            Err(format!("{status} {body}"))
        }
    })
    .await;
}

/// Status, content type and body of a GET on the admin port.
async fn get_page(processor: &TestProcessor, path: &str) -> (u16, String, String) {
    let response = reqwest::get(format!("http://{}{path}", processor.admin))
        .await
        .unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|value| value.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, content_type, response.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_pages_show_the_runs_the_processor_decided() {
    let processor = TestProcessor::start().await;
    let slow = ReplayOptions {
        faults: Faults {
            slow_session: Some(SessionSelector::Index(1)),
            ..Faults::default()
        },
        ..ReplayOptions::default()
    };
    let mut traces = Vec::new();
    for options in [ReplayOptions::default(), slow] {
        let trace = trace_hex(&replay(processor.grpc_endpoint(), Protocol::Grpc, options).await);
        analysed(&processor, &trace).await;
        traces.push(trace);
    }

    for trace in &traces {
        let (status, _) = processor
            .get(&format!("/api/v1/traces/{trace}/verdict"))
            .await;
        assert_eq!(status, 200);
        let verdict: Value = serde_json::from_str(
            &processor
                .get(&format!("/api/v1/traces/{trace}/verdict"))
                .await
                .1,
        )
        .unwrap();
        let messages: Vec<String> = verdict["violations"]
            .as_array()
            .unwrap()
            .iter()
            .take(LISTED_PER_RUN)
            .map(|v| v["message"].as_str().unwrap().to_owned())
            .collect();
        assert!(!messages.is_empty());
        let (status, content_type, body) = get_page(&processor, &format!("/runs/{trace}")).await;
        assert_eq!(status, 200, "{body}");
        assert!(content_type.starts_with("text/html"), "{content_type}");
        assert_self_contained(&body);
        for message in &messages {
            assert!(
                body.contains(&escaped(message)),
                "{message:?} not on /runs/{trace}"
            );
        }
        assert!(body.contains("class=\"critical-path\""));
        assert_eq!(count(&body, "class=\"session"), REPLAY_SESSION_BARS);
        assert_loads_clean(
            &format!("http://{}/runs/{trace}", processor.admin),
            &messages,
        );
    }

    let (status, content_type, overview) = get_page(&processor, "/").await;
    assert_eq!(status, 200);
    assert!(content_type.starts_with("text/html"), "{content_type}");
    assert_self_contained(&overview);
    for trace in &traces {
        assert!(
            overview.contains(&format!("href=\"/runs/{trace}\"")),
            "no link to {trace}"
        );
    }
    assert!(
        overview.contains("ironforge-replay-e2e"),
        "no health row for the pipeline"
    );
    assert!(
        overview.contains("<tr class=\"active\""),
        "no active violation"
    );
    assert_counts_agree(&overview, "live overview");
    let loaded = chromium(&format!("http://{}/", processor.admin));
    assert!(loaded.console.is_empty(), "{:#?}", loaded.console);
    assert!(loaded.dom.contains("Stage durations over recent runs"));
    assert_eq!(
        count(&loaded.dom, "<polyline"),
        4,
        "one sparkline per stage"
    );

    let (status, content_type, flame) = get_page(&processor, "/flame").await;
    assert_eq!(status, 200);
    assert!(content_type.starts_with("text/html"), "{content_type}");
    assert!(flame.contains("2 run(s)"), "the flame graph sums both runs");
    for stage in ["discovery", "confluence", "validation", "reporting"] {
        assert!(
            flame.contains(&format!("<td>{stage}</td>")),
            "no total for {stage}"
        );
    }

    for unknown in ["0123456789abcdef0123456789abcdef", "not-a-trace"] {
        let (status, content_type, body) = get_page(&processor, &format!("/runs/{unknown}")).await;
        assert_eq!(status, 404, "{body}");
        assert!(content_type.starts_with("text/html"), "{content_type}");
        assert!(body.contains("Not found"));
    }
    processor.stop().await;
}

/// A frame of 1280×800 around a page, and a script that writes where the page's parts fall into the
/// frame's own DOM for `--dump-dom`: the pages themselves carry no script. The framed page is a file
/// beside it, which Chromium lets it read with `--allow-file-access-from-files`.
const MEASURE: &str = r#"<!DOCTYPE html><html><head><meta charset="utf-8">
<style>body { margin: 0 } iframe { border: 0; width: 1280px; height: 800px; display: block }</style></head>
<body><iframe id="page" src="PAGE_URL"></iframe><pre id="measured"></pre><script>
document.getElementById('page').addEventListener('load', function () {
  var out = {};
  try {
    var d = this.contentDocument;
    var top = function (selector) {
      var e = d.querySelector(selector);
      return e ? e.getBoundingClientRect().top : null;
    };
    out.viewport_height = d.defaultView.innerHeight;
    out.verdict_top = top('.verdict-line');
    out.reason_top = top('.reason');
    out.waterfall_top = top('svg.waterfall');
    var row = d.querySelector('tr.violation');
    out.first_rank = row ? row.getAttribute('data-rank') : null;
    out.first_text = row ? row.textContent : null;
    out.first_shown = row ? row.getClientRects().length > 0 : false;
  } catch (e) { out.error = String(e); }
  document.getElementById('measured').textContent = JSON.stringify(out);
});
</script></body></html>"#;

/// Sends a recording (OTLP/JSON lines) to the processor over OTLP/gRPC; returns its trace id in hex.
async fn send_recording(processor: &TestProcessor, file: &Path) -> String {
    use ironforge_proto::otlp::trace_service::ExportTraceServiceRequest;
    use ironforge_proto::otlp::trace_service::trace_service_client::TraceServiceClient;

    let mut client = TraceServiceClient::connect(processor.grpc_endpoint())
        .await
        .unwrap();
    let mut trace = None;
    for line in std::fs::read_to_string(file).unwrap().lines() {
        let request: ExportTraceServiceRequest = serde_json::from_str(line).unwrap();
        let first = request
            .resource_spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .flat_map(|s| &s.spans)
            .next();
        trace = trace.or_else(|| first.map(|span| hex::encode(&span.trace_id)));
        client.export(request).await.unwrap();
    }
    trace.expect("a recording with no span")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorded_run_shows_its_verdict_blocking_violation_and_waterfall_in_the_first_screen() {
    let processor = TestProcessor::start().await;
    let trace = send_recording(&processor, &recorded("memory-growth")).await;
    analysed(&processor, &trace).await;
    // The page as the processor served it, framed beside the measuring file so both share an origin.
    let (status, _, body) = get_page(&processor, &format!("/runs/{trace}")).await;
    assert_eq!(status, 200, "{body}");
    let name = unique("run-page");
    std::fs::write(path(&format!("{name}.html")), body).unwrap();
    let frame = path(&format!("{name}-measured.html"));
    std::fs::write(&frame, MEASURE.replace("PAGE_URL", &format!("{name}.html"))).unwrap();
    let loaded = chromium_with(
        &file_url(&frame),
        &["--allow-file-access-from-files", "--window-size=1280,800"],
    );
    let (_, rest) = loaded
        .dom
        .split_once("<pre id=\"measured\">")
        .expect("no measurements");
    let (json, _) = rest.split_once("</pre>").unwrap();
    let measured: Value = serde_json::from_str(
        &json
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&"),
    )
    .unwrap_or_else(|err| panic!("{err}: {json}"));
    assert!(measured.get("error").is_none(), "{measured}");
    assert_eq!(measured["viewport_height"], 800, "{measured}");
    // The first violation listed is a blocking one, shown, not folded away.
    assert_eq!(measured["first_rank"], "0", "{measured}");
    assert_eq!(measured["first_shown"], true, "{measured}");
    assert!(
        measured["first_text"]
            .as_str()
            .unwrap()
            .contains("blocks production"),
        "{measured}"
    );
    // The verdict, its reason and the top of the waterfall are on the first screen, in that order.
    let top = |key: &str| {
        measured[key]
            .as_f64()
            .unwrap_or_else(|| panic!("no {key}: {measured}"))
    };
    assert!(top("verdict_top") >= 0.0, "{measured}");
    assert!(top("verdict_top") <= top("reason_top"), "{measured}");
    assert!(top("reason_top") < top("waterfall_top"), "{measured}");
    assert!(
        top("waterfall_top") < 800.0,
        "the waterfall starts below the first screen: {measured}"
    );
    processor.stop().await;
}
