//! End to end: the replay of the 57 real sessions analysed by a running processor, read back from the HTTP
//! API and the metrics. A slowed session must stand out as what dominates its run, and the bundled slow-run
//! recording's untraced time as its top bottleneck.

use crate::e2e_support::{TestProcessor, replay, trace_hex};
use crate::wait_support::wait_until_async;
use ironforge_instrument::Protocol;
use ironforge_replay::{Faults, ReplayOptions, SessionSelector};
use serde_json::Value;

async fn analysis_of(processor: &TestProcessor, trace: &str) -> Value {
    let path = format!("/api/v1/analysis/traces/{trace}");
    let answer = wait_until_async(&format!("the analysis of {trace}"), || async {
        let (status, body) = processor.get(&path).await;
        if status == 200 {
            return Ok(body);
        }
        assert_eq!(status, 404, "{body}");
        Err(format!("{status} {body}"))
    })
    .await;
    serde_json::from_str(&answer).unwrap()
}

fn stage_share(analysis: &Value, stage: &str) -> f64 {
    analysis["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stage"] == stage)
        .map(|s| s["critical_share"].as_f64().unwrap())
        .unwrap_or_else(|| panic!("no stage {stage} in {analysis}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_replay_is_analysed_and_a_slow_session_is_named_as_what_dominates_it() {
    let processor = TestProcessor::start().await;
    let clean = trace_hex(
        &replay(
            processor.grpc_endpoint(),
            Protocol::Grpc,
            ReplayOptions::default(),
        )
        .await,
    );
    let analysis = analysis_of(&processor, &clean).await;
    let run = analysis["run_seconds"].as_f64().unwrap();
    let path = analysis["critical_path_seconds"].as_f64().unwrap();
    assert!(
        path > 0.0 && path <= run + 1e-6,
        "path {path} s of a {run} s run"
    );
    let stages: Vec<&str> = analysis["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["stage"].as_str().unwrap())
        .collect();
    assert_eq!(
        stages,
        ["discovery", "confluence", "validation", "reporting"]
    );
    // Every stage runs its 57 sessions one after another.
    for stage in analysis["stages"].as_array().unwrap() {
        assert_eq!(stage["sessions"], 57, "{stage}");
        let parallelism = stage["parallelism"].as_f64().unwrap();
        assert!(parallelism <= 1.0 + 1e-6, "{stage}");
    }
    let dominant = analysis["dominant"].as_str().unwrap().to_owned();
    let top = analysis["stages"]
        .as_array()
        .unwrap()
        .iter()
        .max_by(|a, b| {
            a["critical_share"]
                .as_f64()
                .unwrap()
                .total_cmp(&b["critical_share"].as_f64().unwrap())
        })
        .unwrap()["stage"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(dominant.starts_with(&top), "{dominant} names {top}");
    println!("clean replay: {dominant}");
    assert!(
        analysis["memory"]["samples"].as_u64().unwrap() > 0,
        "{}",
        analysis["memory"]
    );

    // The same run with one session's discovery 3.5 s slower.
    let slow = trace_hex(
        &replay(
            processor.grpc_endpoint(),
            Protocol::Grpc,
            ReplayOptions {
                faults: Faults {
                    slow_session: Some(SessionSelector::Index(1)),
                    ..Faults::default()
                },
                ..ReplayOptions::default()
            },
        )
        .await,
    );
    let analysis = analysis_of(&processor, &slow).await;
    let slowest = &analysis["sessions"][0];
    assert_eq!(slowest["stage"], "discovery", "{slowest}");
    assert!(slowest["seconds"].as_f64().unwrap() >= 3.5, "{slowest}");
    assert!(
        slowest["critical_seconds"].as_f64().unwrap() >= 3.5,
        "{slowest}"
    );
    let session_id = slowest["session_id"].as_str().unwrap().to_owned();
    assert!(
        stage_share(&analysis, "discovery") > 0.5,
        "{}",
        analysis["stages"]
    );
    let dominant = analysis["dominant"].as_str().unwrap();
    assert!(
        dominant.starts_with("discovery") && dominant.contains(&session_id),
        "{dominant}"
    );
    let outlier = analysis["recommendations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["category"] == "outlier")
        .unwrap_or_else(|| panic!("no outlier in {}", analysis["recommendations"]));
    assert!(
        outlier["title"].as_str().unwrap().contains(&session_id),
        "{outlier}"
    );
    assert!(outlier["gain_seconds"].as_f64().unwrap() > 3.0, "{outlier}");
    let plan = &analysis["plan"];
    assert!(
        plan["total_gain_seconds"].as_f64().unwrap()
            >= outlier["gain_seconds"].as_f64().unwrap() - 1e-9
    );
    // A 3.6 s run far inside its 180 s budget: only the session over its own budget is worth a step, and
    // the plan's one phase is numbered 1 whatever its effort.
    let categories: Vec<&str> = analysis["recommendations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["category"].as_str().unwrap())
        .collect();
    assert_eq!(categories, ["outlier"], "{}", analysis["recommendations"]);
    let phase = &plan["phases"][0];
    assert_eq!(phase["phase"], 1, "{plan}");
    assert_eq!(phase["effort"], "medium", "{plan}");
    assert_eq!(phase["cumulative_gain_seconds"], plan["total_gain_seconds"]);
    assert!(
        plan["summary"]
            .as_str()
            .unwrap()
            .starts_with("1 change in 1 phase takes the run from"),
        "{plan}"
    );

    // Bottlenecks over both runs: the slow session, over its 3 s budget, is critical.
    let (status, body) = processor
        .get("/api/v1/analysis/bottlenecks?pipeline=ironforge-replay-e2e")
        .await;
    assert_eq!(status, 200, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    let pipeline = &answer["pipelines"][0];
    assert_eq!(pipeline["runs"], 2);
    let session = pipeline["bottlenecks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| {
            b["subject"]["kind"] == "session" && b["subject"]["session_id"] == session_id.as_str()
        })
        .unwrap_or_else(|| panic!("{session_id} not among {}", pipeline["bottlenecks"]));
    assert_eq!(session["severity"], "critical", "{session}");
    assert_eq!(session["trace_ids"][0], slow.as_str());
    assert_eq!(pipeline["bottlenecks"][0]["subject"]["stage"], "discovery");

    let (status, body) = processor.get("/api/v1/analysis/plan").await;
    assert_eq!(status, 200, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["pipelines"][0]["trace_id"], slow.as_str());

    let (status, body) = processor.get("/api/v1/analysis/regressions").await;
    assert_eq!(status, 200, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["pipelines"][0]["pipeline"], "ironforge-replay-e2e");

    // The metrics carry the latest run's critical-path share per stage.
    let metrics = wait_until_metrics(&processor, "ironforge_analysis_critical_path_share").await;
    assert!(
        metrics.contains("ironforge_analysis_critical_path_share{pipeline=\"ironforge-replay-e2e\",stage=\"discovery\"}"),
        "{metrics}"
    );
    processor.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn analysis_questions_without_an_answer_say_why() {
    let processor = TestProcessor::start().await;
    let (status, body) = processor.get("/api/v1/analysis/traces/not-hex").await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = processor
        .get("/api/v1/analysis/traces/0123456789abcdef0123456789abcdef")
        .await;
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("no analysis of trace"), "{body}");
    let (status, body) = processor.get("/api/v1/analysis/plan?pipeline=nobody").await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = processor.get("/api/v1/analysis/bottlenecks").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["pipelines"],
        Value::Array(vec![])
    );
    processor.stop().await;
}

/// The bundled recording `name` of the reference replay (`fixtures/traces`), as OTLP/JSON requests.
fn recording(name: &str) -> Vec<String> {
    let text = std::fs::read_to_string(crate::check_support::recorded(name)).unwrap();
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bundled_slow_run_recording_names_its_untraced_time_as_its_top_bottleneck() {
    let processor = TestProcessor::start().await;
    let requests = recording("slow-run");
    let first: Value = serde_json::from_str(&requests[0]).unwrap();
    let trace = first["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["traceId"]
        .as_str()
        .unwrap()
        .to_owned();
    let client = reqwest::Client::new();
    for request in requests {
        let answer = client
            .post(format!("{}/v1/traces", processor.http_endpoint()))
            .header("content-type", "application/json")
            .body(request)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status().as_u16(), 200, "{:?}", answer.text().await);
    }
    let analysis = analysis_of(&processor, &trace).await;
    // The run lasts about 1.53 s; its stages are over after about 22 ms.
    let share = analysis["untraced_share"].as_f64().unwrap();
    assert!(share > 0.9, "{analysis}");
    let run_steps: f64 = analysis["critical_path"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|step| step["name"] == "run")
        .map(|step| step["untraced_seconds"].as_f64().unwrap())
        .sum();
    assert!(run_steps > 1.4, "{}", analysis["critical_path"]);
    let named = &analysis["recommendations"][0];
    assert_eq!(named["category"], "untraced", "{named}");
    let title = named["title"].as_str().unwrap();
    assert!(
        title.ends_with("% of the run is in `run` outside its child spans: instrument what happens after reporting"),
        "{title}"
    );
    assert!(
        analysis["dominant"]
            .as_str()
            .unwrap()
            .starts_with("`run` outside its child spans"),
        "{}",
        analysis["dominant"]
    );
    // Far inside its 180 s budget: no speed-up is planned, and the plan says why.
    let plan = &analysis["plan"];
    assert_eq!(plan["phases"], Value::Array(vec![]), "{plan}");
    assert!(
        plan["summary"].as_str().unwrap().contains("far inside"),
        "{plan}"
    );

    // Bottlenecks are ranked when the analysis worker next catches up across runs.
    let answer = wait_until_async("the bottlenecks of the pipeline", || async {
        let (status, body) = processor
            .get("/api/v1/analysis/bottlenecks?pipeline=ironforge-replay")
            .await;
        let answer: Value = serde_json::from_str(&body).map_err(|e| format!("{e}: {body}"))?;
        (status == 200 && answer["pipelines"][0]["runs"] == 1)
            .then_some(answer)
            .ok_or(body)
    })
    .await;
    let top = &answer["pipelines"][0]["bottlenecks"][0];
    assert_eq!(
        top["subject"],
        serde_json::json!({ "kind": "untraced", "span": "run", "stage": null }),
        "{answer}"
    );
    assert!(top["mean_critical_share"].as_f64().unwrap() > 0.9, "{top}");
    processor.stop().await;
}

async fn wait_until_metrics(processor: &TestProcessor, needle: &str) -> String {
    wait_until_async(&format!("{needle} in the metrics"), || async {
        let (_, body) = processor.get("/metrics").await;
        if body.contains(needle) {
            Ok(body)
        } else {
            Err(body)
        }
    })
    .await
}
