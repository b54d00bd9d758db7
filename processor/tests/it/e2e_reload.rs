//! Contract reload: a changed file takes effect for the traces that follow; an invalid one keeps the contracts
//! in force and says why; SIGHUP reloads too.

use crate::e2e_support::{TestProcessor, run_with_session, test_contracts};
use crate::wait_support::wait_until_async;
use ironforge_proto::monitor::v1 as pb;
use ironforge_proto::otlp::trace_service::trace_service_client::TraceServiceClient;

async fn session_contract_broken(processor: &TestProcessor, trace: u8) -> bool {
    let mut client = TraceServiceClient::connect(processor.grpc_endpoint())
        .await
        .unwrap();
    client.export(run_with_session(trace, 2)).await.unwrap();
    let verdict = processor.verdict(&hex::encode([trace; 16])).await;
    verdict
        .violations
        .iter()
        .any(|v| v.contract_id == "session_duration")
}

async fn reloads(processor: &TestProcessor, outcome: &str) -> u64 {
    let (_, metrics) = processor.get("/metrics").await;
    metrics
        .lines()
        .find(|l| {
            l.starts_with("ironforge_processor_config_reloads_total{")
                && l.contains(&format!("outcome=\"{outcome}\""))
        })
        .and_then(|l| l.rsplit(' ').next())
        .map_or(0, |n| n.parse::<f64>().unwrap() as u64)
}

async fn wait_for_reloads(processor: &TestProcessor, outcome: &str, count: u64) {
    wait_until_async(&format!("{outcome} reload #{count}"), || async {
        let done = reloads(processor, outcome).await;
        if done >= count {
            Ok(())
        } else {
            Err(format!("{done} {outcome} reloads"))
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_file_applies_an_invalid_one_is_refused_and_sighup_reloads() {
    let processor = TestProcessor::start().await;
    assert!(
        !session_contract_broken(&processor, 1).await,
        "2 s is within the default 3 s"
    );

    // Tighten the session contract to 1 s: the file watcher picks it up.
    let tightened = test_contracts().replacen("    threshold: 3\n", "    threshold: 1\n", 1);
    std::fs::write(&processor.contracts_file, &tightened).unwrap();
    wait_for_reloads(&processor, "success", 1).await;
    assert!(
        session_contract_broken(&processor, 2).await,
        "the tightened contract applies"
    );

    // An invalid file is refused and the tightened contracts stay in force.
    std::fs::write(
        &processor.contracts_file,
        tightened.replace("severity: critical", "severity: fatal"),
    )
    .unwrap();
    wait_for_reloads(&processor, "failure", 1).await;
    assert!(
        session_contract_broken(&processor, 3).await,
        "the previous contracts stay in force"
    );

    // SIGHUP reloads the (restored, default) file without waiting for the watcher to notice.
    std::fs::write(&processor.contracts_file, test_contracts()).unwrap();
    let pid = std::process::id().to_string();
    let status = std::process::Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap();
    assert!(status.success());
    wait_for_reloads(&processor, "success", 2).await;
    assert!(
        !session_contract_broken(&processor, 4).await,
        "back to the 3 s default"
    );

    let compliance = processor
        .client()
        .await
        .get_compliance(pb::GetComplianceRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(compliance.traces_total, 4);
    assert_eq!(compliance.traces_failed, 2);
    processor.stop().await;
}
