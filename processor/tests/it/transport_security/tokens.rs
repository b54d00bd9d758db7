//! Bearer tokens: each surface refuses no token and a wrong one (gRPC UNAUTHENTICATED, HTTP 401 with a
//! challenge) and accepts its own, including from a stock OpenTelemetry SDK exporter sending it as an OTLP
//! header.

use std::collections::HashMap;

use ironforge_proto::monitor::v1 as pb;
use ironforge_proto::monitor::v1::monitor_service_client::MonitorServiceClient;
use ironforge_proto::otlp::trace_service::trace_service_client::TraceServiceClient;
use ironforge_proto::semconv::attr;
use ironforge_security::{SecurityOptions, Token, Tokens};
use opentelemetry::KeyValue;
use opentelemetry_otlp::{WithExportConfig, WithHttpConfig, WithTonicConfig};
use prost::Message;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use tonic::metadata::MetadataMap;
use tonic::{Code, Request};

use crate::e2e_support::run_with_session;
use crate::otlp_support::sdk::export_run_and_session;
use crate::transport_security::support::{Secured, counter, processor_command};
use crate::wait_support::wait_until_async;

const INGEST: &str = "ingest-s3cret-token";
const API: &str = "api-s3cret-token";
const METRICS: &str = "metrics-s3cret-token";

fn run() -> Vec<KeyValue> {
    vec![KeyValue::new(attr::SPAN_KIND, "run")]
}

fn session() -> Vec<KeyValue> {
    vec![KeyValue::new(attr::SPAN_KIND, "session")]
}

fn secured() -> SecurityOptions {
    let token = |secret| Some(Token::new(secret, "test").unwrap());
    SecurityOptions {
        tokens: Tokens {
            ingest: token(INGEST),
            api: token(API),
            metrics: token(METRICS),
        },
        metrics_addr: Some("127.0.0.1:0".parse().unwrap()),
        ..SecurityOptions::default()
    }
}

fn bearer<T>(message: T, token: Option<&str>) -> Request<T> {
    let mut request = Request::new(message);
    if let Some(token) = token {
        let value = format!("Bearer {token}").parse().unwrap();
        request.metadata_mut().insert("authorization", value);
    }
    request
}

async fn metrics_text(processor: &Secured) -> String {
    reqwest::Client::new()
        .get(format!("http://{}/metrics", processor.addrs.admin))
        .bearer_auth(METRICS)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_ingest_and_the_monitor_service_each_require_their_own_token() {
    let processor = Secured::start(secured()).await;
    let endpoint = format!("http://{}", processor.addrs.otlp_grpc);
    let mut ingest = TraceServiceClient::connect(endpoint.clone()).await.unwrap();
    // The API token does not open ingest, nor the ingest token the API.
    for token in [None, Some("wrong-token"), Some(API)] {
        let status = ingest
            .export(bearer(run_with_session(1, 5), token))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated, "{token:?}: {status}");
    }
    ingest
        .export(bearer(run_with_session(1, 5), Some(INGEST)))
        .await
        .unwrap();

    let mut monitor = MonitorServiceClient::connect(endpoint).await.unwrap();
    for token in [None, Some("wrong-token"), Some(INGEST)] {
        let watch = bearer(pb::WatchViolationsRequest::default(), token);
        let status = monitor.watch_violations(watch).await.unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated, "{token:?}: {status}");
        let get = bearer(
            pb::GetVerdictRequest {
                trace_id: vec![1; 16],
            },
            token,
        );
        let status = monitor.get_verdict(get).await.unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated, "{token:?}: {status}");
    }
    let get = || {
        bearer(
            pb::GetVerdictRequest {
                trace_id: vec![1; 16],
            },
            Some(API),
        )
    };
    let verdict = wait_until_async("the verdict of trace 1", || {
        let mut monitor = monitor.clone();
        let request = get();
        async move {
            let status = match monitor.get_verdict(request).await {
                Ok(found) => return Ok(found.into_inner()),
                Err(status) => status,
            };
            assert_eq!(status.code(), Code::NotFound, "{status}");
            Err(status)
        }
    })
    .await;
    assert_eq!(verdict.span_count, 2);

    // A late span forged on the decided trace without the token changes nothing.
    let forged = ingest
        .export(bearer(run_with_session(1, 1), None))
        .await
        .unwrap_err();
    assert_eq!(forged.code(), Code::Unauthenticated);
    let after = monitor.get_verdict(get()).await.unwrap().into_inner();
    assert_eq!(after, verdict);

    let metrics = metrics_text(&processor).await;
    let refused = |reason: &str| {
        counter(
            &metrics,
            &format!(
                "ironforge_processor_auth_refusals_total{{listener=\"otlp_grpc\",reason=\"{reason}\"}}"
            ),
        )
    };
    assert_eq!(refused("missing"), 4.0, "{metrics}");
    assert_eq!(refused("invalid"), 6.0, "{metrics}");
    processor.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_refusals_are_401_with_a_bearer_challenge_and_probes_stay_open() {
    let processor = Secured::start(secured()).await;
    let client = reqwest::Client::new();
    let body = run_with_session(2, 5).encode_to_vec();
    let traces = format!("http://{}/v1/traces", processor.addrs.otlp_http);
    let admin = |path: &str| format!("http://{}{path}", processor.addrs.admin);
    let send = |url: String, token: Option<&str>| {
        let mut request = client
            .post(url)
            .header(CONTENT_TYPE, "application/x-protobuf");
        if let Some(token) = token {
            request = request.header(AUTHORIZATION, format!("Bearer {token}"));
        }
        request.body(body.clone()).send()
    };
    let get = |url: String, token: Option<&str>| {
        let mut request = client.get(url);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };

    let refused = send(traces.clone(), None).await.unwrap();
    assert_eq!(refused.status(), 401);
    assert_eq!(
        refused.headers()[WWW_AUTHENTICATE],
        "Bearer realm=\"ironforge\""
    );
    let refused = send(traces.clone(), Some(API)).await.unwrap();
    assert_eq!(refused.status(), 401);
    assert!(
        refused.headers()[WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .contains("error=\"invalid_token\"")
    );
    assert_eq!(send(traces, Some(INGEST)).await.unwrap().status(), 200);

    for (path, token) in [
        ("/api/v1/health", API),
        ("/api/v1/violations?since=0", API),
        ("/metrics", METRICS),
    ] {
        for wrong in [None, Some("wrong-token"), Some(INGEST)] {
            let response = get(admin(path), wrong).await.unwrap();
            assert_eq!(response.status(), 401, "{path} {wrong:?}");
            assert!(response.headers().contains_key(WWW_AUTHENTICATE));
        }
        assert_eq!(
            get(admin(path), Some(token)).await.unwrap().status(),
            200,
            "{path}"
        );
    }
    for probe in ["/healthz", "/readyz"] {
        assert_eq!(get(admin(probe), None).await.unwrap().status(), 200);
    }

    // The metrics listener serves metrics (with their token) and probes, and nothing of the API.
    let metrics = processor.addrs.metrics.unwrap();
    let on_metrics = |path: &str| format!("http://{metrics}{path}");
    let text = get(on_metrics("/metrics"), Some(METRICS)).await.unwrap();
    assert_eq!(text.status(), 200);
    assert!(
        text.text()
            .await
            .unwrap()
            .contains("ironforge_processor_auth_refusals_total")
    );
    assert_eq!(
        get(on_metrics("/metrics"), None).await.unwrap().status(),
        401
    );
    assert_eq!(
        get(on_metrics("/healthz"), None).await.unwrap().status(),
        200
    );
    let api = get(on_metrics("/api/v1/health"), Some(API)).await.unwrap();
    assert_eq!(api.status(), 404);
    processor.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opentelemetry_sdk_exporters_send_the_token_as_an_otlp_header() {
    let processor = Secured::start(secured()).await;
    let grpc = format!("http://{}", processor.addrs.otlp_grpc);
    let http = format!("http://{}/v1/traces", processor.addrs.otlp_http);
    let header = format!("Bearer {INGEST}");

    let mut metadata = MetadataMap::new();
    metadata.insert("authorization", header.parse().unwrap());
    export_run_and_session(
        move || {
            opentelemetry_otlp::SpanExporter::builder()
                .with_tonic()
                .with_endpoint(grpc)
                .with_metadata(metadata)
                .build()
                .unwrap()
        },
        run(),
        session(),
    )
    .await;
    let headers = HashMap::from([("authorization".to_owned(), header)]);
    export_run_and_session(
        move || {
            opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
                .with_endpoint(http)
                .with_headers(headers)
                .build()
                .unwrap()
        },
        run(),
        session(),
    )
    .await;

    for transport in ["grpc", "http"] {
        let series = format!(
            "ironforge_processor_spans_received_total{{transport=\"{transport}\",outcome=\"accepted\"}}"
        );
        let text = metrics_text(&processor).await;
        assert_eq!(counter(&text, &series), 2.0, "{series}\n{text}");
    }
    let text = metrics_text(&processor).await;
    assert!(
        !text.contains("ironforge_processor_auth_refusals_total{"),
        "{text}"
    );
    processor.stop().await;
}

#[test]
fn the_binary_refuses_to_start_with_an_unreadable_or_empty_token() {
    let run = |file: &str, env_token: Option<&str>| {
        let mut command = processor_command();
        if file.is_empty() {
            command.env("IRONFORGE_API_TOKEN", env_token.unwrap_or_default());
        } else {
            command.args(["--ingest-token-file", file]);
        }
        let output = command.output().unwrap();
        assert!(!output.status.success());
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    let missing = run("/nonexistent/ingest-token", None);
    assert!(missing.contains("/nonexistent/ingest-token"), "{missing}");
    let empty = run("", Some("  "));
    assert!(empty.contains("$IRONFORGE_API_TOKEN is empty"), "{empty}");
}
