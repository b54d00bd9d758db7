//! `GET /api/v1/violations` in pages: walking the `next` cursors lists every kept violation exactly once,
//! in the order one large page lists them, and no page is larger than asked.

use std::collections::HashSet;

use ironforge_proto::monitor::v1 as pb;
use ironforge_proto::monitor::v1::monitor_service_client::MonitorServiceClient;
use ironforge_proto::otlp::trace_service::trace_service_client::TraceServiceClient;
use ironforge_security::SecurityOptions;
use serde_json::Value;

use crate::e2e_support::run_with_session;
use crate::transport_security::support::Secured;
use crate::wait_support::{WAIT, poll_until_async, wait_until_async};

const TRACES: u8 = 30;
const PAGE: usize = 7;

async fn page(
    admin: std::net::SocketAddr,
    query: &str,
) -> (Vec<Value>, Option<String>, Option<String>) {
    let response = reqwest::get(format!("http://{admin}/api/v1/violations?{query}"))
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{query}");
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|value| value.to_str().unwrap().to_owned())
    };
    let (cursor, link) = (header("ironforge-next-cursor"), header("link"));
    (response.json().await.unwrap(), cursor, link)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn walking_the_cursor_lists_every_violation_exactly_once() {
    let processor = Secured::start(SecurityOptions::default()).await;
    let endpoint = format!("http://{}", processor.addrs.otlp_grpc);
    let mut ingest = TraceServiceClient::connect(endpoint.clone()).await.unwrap();
    for trace in 1..=TRACES {
        ingest.export(run_with_session(trace, 5)).await.unwrap();
    }
    // Every trace decided: its verdict lists the violations the API keeps.
    let monitor = MonitorServiceClient::connect(endpoint).await.unwrap();
    let mut expected = 0;
    for trace in 1..=TRACES {
        let request = pb::GetVerdictRequest {
            trace_id: vec![trace; 16],
        };
        let verdict = wait_until_async(&format!("the verdict of trace {trace}"), || {
            let mut monitor = monitor.clone();
            let request = request.clone();
            async move { monitor.get_verdict(request).await }
        })
        .await
        .into_inner();
        expected += verdict.violations.len();
    }
    assert!(expected > 2 * PAGE, "{expected}");

    let admin = processor.addrs.admin;
    // A verdict may be readable a moment before the last of its violations is listed.
    let all = poll_until_async(WAIT, || async {
        let (listed, none, _) = page(admin, "since=0&limit=5000").await;
        assert_eq!(none, None);
        if listed.len() >= expected {
            Ok(listed)
        } else {
            Err(listed)
        }
    })
    .await
    .unwrap_or_else(|listed| listed);
    assert_eq!(all.len(), expected);

    let (mut walked, mut cursor, link) = page(admin, &format!("since=0&limit={PAGE}")).await;
    let link = link.expect("a Link header on a first page with more after it");
    assert!(link.ends_with("rel=\"next\""), "{link}");
    let mut pages = 1;
    while let Some(next) = cursor {
        let (items, following, _) = page(admin, &format!("cursor={next}&limit={PAGE}")).await;
        assert!(!items.is_empty() && items.len() <= PAGE, "{}", items.len());
        walked.extend(items);
        cursor = following;
        pages += 1;
    }
    assert_eq!(pages, expected.div_ceil(PAGE));
    assert_eq!(walked, all);
    let distinct: HashSet<String> = walked.iter().map(Value::to_string).collect();
    assert_eq!(distinct.len(), walked.len());

    // The default page is bounded; `since` in the future lists nothing; a made-up cursor is refused.
    let (_, _, _) = page(admin, "since=0").await;
    let (future, cursor, _) = page(admin, "since=99999999999").await;
    assert!(future.is_empty() && cursor.is_none());
    let bad = reqwest::get(format!(
        "http://{admin}/api/v1/violations?cursor=not-a-cursor"
    ))
    .await
    .unwrap();
    assert_eq!(bad.status(), 400);
    processor.stop().await;
}
