//! End to end: the analysis of a replayed run with a slowed session, asked of the running processor over
//! gRPC `MonitorService` and over HTTP: both transports must give the same answers, and the same reasons
//! when they have none.

use crate::e2e_support::{TestProcessor, replay, test_contracts, trace_hex};
use crate::wait_support::wait_until_async;
use ironforge_instrument::Protocol;
use ironforge_processor::otlp::ReceiverLimits;
use ironforge_proto::monitor::v1 as pb;
use ironforge_proto::monitor::v1::monitor_service_client::MonitorServiceClient;
use ironforge_replay::{Faults, ReplayOptions, SessionSelector};
use serde_json::{Value, json};
use tonic::Code;
use tonic::transport::Channel;

const PIPELINE: &str = "ironforge-replay-e2e";

type Client = MonitorServiceClient<Channel>;

/// The HTTP answer of `/api/v1/analysis/{question}` for [`PIPELINE`].
async fn http_pipeline_answer(processor: &TestProcessor, question: &str) -> Value {
    let path = format!("/api/v1/analysis/{question}?pipeline={PIPELINE}");
    let (status, body) = processor.get(&path).await;
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap()
}

/// The HTTP analysis of a trace, once the processor has it.
async fn http_analysis(processor: &TestProcessor, trace: &str) -> Value {
    let path = format!("/api/v1/analysis/traces/{trace}");
    let body = wait_until_async(&format!("the analysis of {trace}"), || async {
        let (status, body) = processor.get(&path).await;
        if status == 200 {
            return Ok(body);
        }
        assert_eq!(status, 404, "{body}");
        Err(format!("{status} {body}"))
    })
    .await;
    serde_json::from_str(&body).unwrap()
}

/// Equal up to the last digits a JSON round trip may change.
fn assert_close(grpc: f64, http: &Value) {
    let http = http
        .as_f64()
        .unwrap_or_else(|| panic!("{http} is not a number"));
    assert!(
        (grpc - http).abs() <= 1e-9 * grpc.abs().max(http.abs()).max(1.0),
        "gRPC {grpc} against HTTP {http}"
    );
}

/// Two JSON values equal, numbers up to [`assert_close`].
fn assert_json_close(grpc: &Value, http: &Value) {
    match (grpc, http) {
        (Value::Number(g), _) => assert_close(g.as_f64().unwrap(), http),
        (Value::Object(g), Value::Object(h)) => {
            let keys = |object: &serde_json::Map<String, Value>| {
                let mut keys: Vec<String> = object.keys().cloned().collect();
                keys.sort();
                keys
            };
            assert_eq!(keys(g), keys(h), "{grpc} against {http}");
            for (key, value) in g {
                assert_json_close(value, &h[key]);
            }
        }
        _ => assert_eq!(grpc, http),
    }
}

/// The JSON name of a protobuf enum value: `PRIORITY_HIGH` is `high`.
fn json_name(proto_name: &str, prefix: &str) -> String {
    proto_name
        .strip_prefix(prefix)
        .unwrap_or_else(|| panic!("{proto_name} lacks {prefix}"))
        .to_ascii_lowercase()
}

fn stage_json(stage: &str) -> Value {
    if stage.is_empty() {
        Value::Null
    } else {
        json!(stage)
    }
}

fn session_json(session: &pb::SessionRef) -> Value {
    json!({ "session_id": session.session_id, "stage": stage_json(&session.stage) })
}

fn untraced_json(untraced: &pb::UntracedRef) -> Value {
    json!({ "span": untraced.span, "stage": stage_json(&untraced.stage) })
}

/// A retime target in the JSON's shape.
fn target_json(target: &pb::Subject) -> Value {
    match target.subject.as_ref().unwrap() {
        pb::subject::Subject::Stage(stage) => json!({ "stage": stage }),
        pb::subject::Subject::Session(session) => json!({ "session": session_json(session) }),
        pb::subject::Subject::Untraced(untraced) => json!({ "untraced": untraced_json(untraced) }),
    }
}

/// A bottleneck subject in the JSON's shape, which tags it with its kind.
fn subject_json(subject: &pb::Subject) -> Value {
    match subject.subject.as_ref().unwrap() {
        pb::subject::Subject::Stage(stage) => json!({ "kind": "stage", "stage": stage }),
        pb::subject::Subject::Session(session) => {
            let mut json = session_json(session);
            json["kind"] = json!("session");
            json
        }
        pb::subject::Subject::Untraced(untraced) => {
            let mut json = untraced_json(untraced);
            json["kind"] = json!("untraced");
            json
        }
    }
}

fn scenario_json(scenario: &pb::Scenario) -> Value {
    match scenario.scenario.as_ref().unwrap() {
        pb::scenario::Scenario::Retime(retime) => {
            let change = match retime.change.as_ref().unwrap().change.as_ref().unwrap() {
                pb::time_change::Change::Percent(percent) => json!({ "percent": percent }),
                pb::time_change::Change::Seconds(seconds) => json!({ "seconds": seconds }),
            };
            json!({ "retime": {
                "target": target_json(retime.target.as_ref().unwrap()),
                "change": change,
            }})
        }
        pb::scenario::Scenario::Widen(widen) => {
            json!({ "widen": { "stage": widen.stage, "lanes": widen.lanes } })
        }
    }
}

fn assert_same_recommendation(grpc: &pb::Recommendation, http: &Value) {
    assert_eq!(grpc.id, http["id"], "{http}");
    assert_eq!(grpc.title, http["title"]);
    assert_eq!(
        json_name(grpc.category().as_str_name(), "RECOMMENDATION_CATEGORY_"),
        http["category"]
    );
    assert_eq!(
        json_name(grpc.priority().as_str_name(), "PRIORITY_"),
        http["priority"]
    );
    assert_eq!(
        json_name(grpc.effort().as_str_name(), "LEVEL_"),
        http["effort"]
    );
    assert_eq!(json_name(grpc.risk().as_str_name(), "LEVEL_"), http["risk"]);
    assert_json_close(
        &scenario_json(grpc.scenario.as_ref().unwrap()),
        &http["scenario"],
    );
    assert_close(grpc.gain_seconds, &http["gain_seconds"]);
    assert_close(grpc.gain_percent, &http["gain_percent"]);
    assert_eq!(grpc.assumption, http["assumption"]);
    assert_eq!(grpc.evidence, http["evidence"]);
}

fn assert_same_bottleneck(grpc: &pb::Bottleneck, http: &Value) {
    assert_eq!(u64::from(grpc.rank), http["rank"], "{http}");
    assert_eq!(
        subject_json(grpc.subject.as_ref().unwrap()),
        http["subject"]
    );
    assert_eq!(
        json_name(grpc.severity().as_str_name(), "BOTTLENECK_SEVERITY_"),
        http["severity"]
    );
    assert_eq!(grpc.traces, http["traces"]);
    assert_close(grpc.mean_critical_seconds, &http["mean_critical_seconds"]);
    assert_eq!(
        grpc.budget_seconds.is_some(),
        !http["budget_seconds"].is_null()
    );
    if let Some(budget) = grpc.budget_seconds {
        assert_close(budget, &http["budget_seconds"]);
    }
    let trace_ids: Vec<String> = grpc.trace_ids.iter().map(hex::encode).collect();
    assert_eq!(json!(trace_ids), http["trace_ids"]);
}

/// The one pipeline of an answer for [`PIPELINE`].
fn only<T: std::fmt::Debug>(pipelines: &[T]) -> &T {
    let [pipeline] = pipelines else {
        panic!("one pipeline expected: {pipelines:?}")
    };
    pipeline
}

fn pipeline_request(pipeline: &str) -> pb::GetAnalysisRequest {
    pb::GetAnalysisRequest {
        pipeline: pipeline.to_owned(),
    }
}

fn code<T>(result: Result<tonic::Response<T>, tonic::Status>) -> Code {
    result.map_or_else(|status| status.code(), |_| Code::Ok)
}

/// The codes of `GetTraceAnalysis` for `trace_id`, and of `GetBottlenecks`, `GetRegressions` and `GetPlan`
/// for `pipeline`.
async fn analysis_codes(client: &mut Client, trace_id: &[u8], pipeline: &str) -> [Code; 4] {
    let trace = pb::GetTraceAnalysisRequest {
        trace_id: trace_id.to_vec(),
    };
    [
        code(client.get_trace_analysis(trace).await),
        code(client.get_bottlenecks(pipeline_request(pipeline)).await),
        code(client.get_regressions(pipeline_request(pipeline)).await),
        code(client.get_plan(pipeline_request(pipeline)).await),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_gives_the_analysis_the_http_api_gives() {
    let processor = TestProcessor::start().await;
    let slowed = ReplayOptions {
        faults: Faults {
            slow_session: Some(SessionSelector::Index(1)),
            ..Faults::default()
        },
        ..ReplayOptions::default()
    };
    let trace = trace_hex(&replay(processor.grpc_endpoint(), Protocol::Grpc, slowed).await);
    let trace_id = hex::decode(&trace).unwrap();
    let http = http_analysis(&processor, &trace).await;
    let mut client = processor.client().await;

    let analysis = client
        .get_trace_analysis(pb::GetTraceAnalysisRequest {
            trace_id: trace_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(analysis.trace_id, trace_id);
    assert_eq!(analysis.service_name, PIPELINE);
    assert!(analysis.critical_path_seconds > 0.0);
    assert_close(
        analysis.critical_path_seconds,
        &http["critical_path_seconds"],
    );
    assert_close(analysis.run_seconds, &http["run_seconds"]);
    let stages: Vec<&str> = analysis.stages.iter().map(|s| s.stage.as_str()).collect();
    assert_eq!(
        stages,
        ["discovery", "confluence", "validation", "reporting"]
    );
    let http_stages = http["stages"].as_array().unwrap();
    assert_eq!(analysis.stages.len(), http_stages.len());
    for (grpc, http) in analysis.stages.iter().zip(http_stages) {
        assert_eq!(grpc.stage, http["stage"]);
        assert_eq!(grpc.sessions, http["sessions"]);
        assert_close(grpc.seconds, &http["seconds"]);
        assert_close(grpc.critical_share, &http["critical_share"]);
        assert_close(grpc.parallelism, &http["parallelism"]);
        assert_close(grpc.untraced_seconds, &http["untraced_seconds"]);
        assert_close(grpc.untraced_share, &http["untraced_share"]);
    }
    assert_close(analysis.untraced_seconds, &http["untraced_seconds"]);
    assert_close(analysis.untraced_share, &http["untraced_share"]);
    assert!(
        analysis.untraced_seconds > 0.0,
        "the run spans gaps between its stages"
    );
    let http_path = http["critical_path"].as_array().unwrap();
    for (grpc, http) in analysis.critical_path.iter().zip(http_path) {
        assert_close(grpc.untraced_seconds, &http["untraced_seconds"]);
        assert_close(grpc.untraced_share, &http["untraced_share"]);
    }
    let slowest = &analysis.sessions[0];
    assert_eq!(slowest.session_id, http["sessions"][0]["session_id"]);
    assert_eq!(slowest.stage, "discovery");
    assert!(slowest.seconds >= 3.5, "{slowest:?}");
    assert_eq!(analysis.dominant, http["dominant"]);
    assert_eq!(
        analysis.critical_path.len(),
        http["critical_path"].as_array().unwrap().len()
    );
    assert_eq!(
        hex::encode(&analysis.critical_path[0].span_id),
        http["critical_path"][0]["span_id"]
    );
    let first = analysis.recommendations.first().expect("a recommendation");
    assert_same_recommendation(first, &http["recommendations"][0]);
    assert!(
        analysis
            .recommendations
            .iter()
            .any(|r| r.category() == pb::RecommendationCategory::Outlier
                && r.title.contains(&slowest.session_id)),
        "{:?}",
        analysis.recommendations
    );
    let plan = analysis.plan.as_ref().unwrap();
    assert_close(plan.total_gain_seconds, &http["plan"]["total_gain_seconds"]);
    assert_eq!(
        plan.phases.len(),
        http["plan"]["phases"].as_array().unwrap().len()
    );
    assert_eq!(
        json_name(plan.overall_risk().as_str_name(), "LEVEL_"),
        http["plan"]["overall_risk"]
    );
    assert_eq!(plan.summary, http["plan"]["summary"]);
    for (grpc, http) in plan
        .phases
        .iter()
        .zip(http["plan"]["phases"].as_array().unwrap())
    {
        assert_eq!(grpc.phase, http["phase"]);
        assert_eq!(
            json_name(grpc.effort().as_str_name(), "LEVEL_"),
            http["effort"]
        );
        assert_close(grpc.gain_seconds, &http["gain_seconds"]);
        assert_close(grpc.gain_percent, &http["gain_percent"]);
        assert_close(
            grpc.cumulative_gain_seconds,
            &http["cumulative_gain_seconds"],
        );
        assert_close(
            grpc.cumulative_gain_percent,
            &http["cumulative_gain_percent"],
        );
    }
    let memory = analysis.memory.as_ref().expect("the replay reports memory");
    assert!(memory.samples > 0);
    assert_eq!(memory.samples, http["memory"]["samples"]);
    assert_close(memory.peak_bytes, &http["memory"]["peak_bytes"]);

    // The slowed session, over its budget, is a critical bottleneck of this run.
    let bottlenecks = client
        .get_bottlenecks(pipeline_request(PIPELINE))
        .await
        .unwrap()
        .into_inner();
    let http_bottlenecks = http_pipeline_answer(&processor, "bottlenecks").await;
    assert_eq!(bottlenecks.rule, http_bottlenecks["rule"]);
    let pipeline = only(&bottlenecks.pipelines);
    let http_pipeline = &http_bottlenecks["pipelines"][0];
    assert_eq!(pipeline.pipeline, PIPELINE);
    assert_eq!(pipeline.runs, 1);
    let http_ranked = http_pipeline["bottlenecks"].as_array().unwrap();
    assert!(!pipeline.bottlenecks.is_empty());
    assert_eq!(pipeline.bottlenecks.len(), http_ranked.len());
    for (grpc, http) in pipeline.bottlenecks.iter().zip(http_ranked) {
        assert_same_bottleneck(grpc, http);
    }
    let session = pipeline
        .bottlenecks
        .iter()
        .find(|b| {
            matches!(&b.subject.as_ref().unwrap().subject,
                Some(pb::subject::Subject::Session(s)) if s.session_id == slowest.session_id)
        })
        .unwrap_or_else(|| {
            panic!(
                "{} not among {:?}",
                slowest.session_id, pipeline.bottlenecks
            )
        });
    assert_eq!(session.severity(), pb::BottleneckSeverity::Critical);
    assert_eq!(session.trace_ids[0], trace_id);

    let regressions = client
        .get_regressions(pipeline_request(PIPELINE))
        .await
        .unwrap()
        .into_inner();
    let http_regressions = http_pipeline_answer(&processor, "regressions").await;
    let pipeline = only(&regressions.pipelines);
    let http_pipeline = &http_regressions["pipelines"][0];
    assert_eq!(pipeline.pipeline, PIPELINE);
    assert_eq!(
        pipeline.regressions.len(),
        http_pipeline["regressions"].as_array().unwrap().len()
    );
    let across_runs = pipeline
        .memory_across_runs
        .as_ref()
        .expect("the run's peak memory is in the history");
    assert_eq!(
        across_runs.samples,
        http_pipeline["memory_across_runs"]["samples"]
    );
    assert_eq!(
        across_runs.leak,
        http_pipeline["memory_across_runs"]["leak"]
    );

    let plans = client
        .get_plan(pipeline_request(PIPELINE))
        .await
        .unwrap()
        .into_inner();
    let http_plans = http_pipeline_answer(&processor, "plan").await;
    let pipeline = only(&plans.pipelines);
    assert_eq!(pipeline.trace_id, trace_id);
    assert_eq!(pipeline.dominant, analysis.dominant);
    assert_same_recommendation(
        &pipeline.recommendations[0],
        &http_plans["pipelines"][0]["recommendations"][0],
    );
    assert_eq!(pipeline.plan.as_ref(), Some(plan));

    assert_eq!(
        analysis_codes(&mut client, &trace_id, "nobody").await,
        [Code::Ok, Code::NotFound, Code::NotFound, Code::NotFound]
    );
    processor.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn analysis_questions_without_an_answer_get_their_codes() {
    let processor = TestProcessor::start().await;
    let mut client = processor.client().await;
    for bad in [vec![], vec![7; 8], vec![0; 16], vec![7; 17]] {
        assert_eq!(
            analysis_codes(&mut client, &bad, "").await,
            [Code::InvalidArgument, Code::Ok, Code::Ok, Code::Ok],
            "trace id {bad:?}"
        );
    }
    let status = client
        .get_trace_analysis(pb::GetTraceAnalysisRequest {
            trace_id: vec![0x5a; 16],
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    assert!(
        status.message().contains("no analysis of trace"),
        "{status}"
    );
    // Nothing analysed yet: every pipeline is none, and a named one is unknown.
    let all = client
        .get_bottlenecks(pipeline_request(""))
        .await
        .unwrap()
        .into_inner();
    assert!(all.pipelines.is_empty(), "{all:?}");
    assert_eq!(
        analysis_codes(&mut client, &[0x5a; 16], PIPELINE).await,
        [Code::NotFound; 4]
    );
    processor.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_analysis_the_analysis_rpcs_fail_their_precondition() {
    let processor =
        TestProcessor::start_configured(&test_contracts(), ReceiverLimits::default(), |options| {
            options.analysis = None;
        })
        .await;
    let mut client = processor.client().await;
    assert_eq!(
        analysis_codes(&mut client, &[0x5a; 16], "").await,
        [Code::FailedPrecondition; 4]
    );
    let status = client.get_plan(pipeline_request("")).await.unwrap_err();
    assert!(status.message().contains("analysis is off"), "{status}");
    processor.stop().await;
}
