//! The bundled observability stack against real parts: the shipped Prometheus, rules and Alertmanager files
//! pass Prometheus' own checkers, the dashboard and rules name only metrics the processor publishes, the
//! compose files agree with each other, and a failing run of the real sessions travels from a running
//! processor through a real Prometheus and a real Alertmanager to a webhook.
//!
//! Prometheus and Alertmanager come from PATH (Debian's `prometheus` and `prometheus-alertmanager`). Without
//! them the tests that need them print why and pass, except under CI, where they fail.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::Path;

use crate::alerting_support::{
    Alertmanager, Delivered, Prometheus, TempDir, Tools, WebhookSink, read_repo_file, repo_root,
    run_ok,
};
use crate::e2e_support::{TestProcessor, replay, trace_hex};
use crate::wait_support::{WAIT, wait_until_async};
use ironforge_instrument::Protocol;
use ironforge_proto::monitor::v1 as pb;
use ironforge_replay::{Faults, ReplayOptions, SessionSelector};
use ironforge_telemetry::names::{exemplar, metric};
use serde_json::Value as Json;
use serde_yaml::Value as Yaml;

const RULES: &str = "prometheus/rules/ironforge.yml";
const DASHBOARD: &str = "grafana/dashboards/ironforge.json";

// ----- the shipped files, checked by Prometheus' and Alertmanager's own tools ----------------------------

#[test]
fn shipped_configs_pass_promtool_and_amtool() {
    let Some(tools) = Tools::find() else { return };
    let root = repo_root();
    let path = |relative: &str| root.join(relative).display().to_string();

    // The rule files it names are checked too. Its scrape token lives in the stack's volume, so the check
    // reads a copy whose token file exists.
    let dir = TempDir::new("ironforge-promtool");
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        serde_yaml::to_string(&shipped_prometheus(dir.path())).unwrap(),
    )
    .unwrap();
    let out = run_ok(
        &tools.promtool,
        &["check", "config", &config.display().to_string()],
    );
    assert!(
        out.contains("rule files found") && !out.contains(" 0 rule files found"),
        "{out}"
    );
    run_ok(&tools.promtool, &["check", "rules", &path(RULES)]);
    // Each alert firing and not firing, and the recording rules' values.
    let out = run_ok(
        &tools.promtool,
        &[
            "test",
            "rules",
            &path("prometheus/rules/ironforge_test.yml"),
        ],
    );
    assert!(out.contains("SUCCESS"), "{out}");

    let alertmanager = path("alertmanager/alertmanager.yml");
    run_ok(&tools.amtool, &["check-config", &alertmanager]);
    // Routing by severity, resolved by Alertmanager's own code.
    let config = format!("--config.file={alertmanager}");
    for (labels, receiver) in [
        ("severity=critical", "ironforge-critical"),
        ("severity=warning", "ironforge-default"),
        ("severity=info", "ironforge-default"),
    ] {
        let verify = format!("--verify.receivers={receiver}");
        run_ok(
            &tools.amtool,
            &["config", "routes", "test", &config, &verify, labels],
        );
    }
}

// ----- names: only what the processor publishes -------------------------------------------------------------

/// Every series name the processor exposes, spelled from its names module.
fn published_series() -> BTreeSet<String> {
    let counters = [
        metric::VIOLATIONS,
        metric::TRACES,
        metric::SPANS_RECEIVED,
        metric::REQUESTS,
        metric::METRIC_POINTS_RECEIVED,
        metric::LATE_SPANS,
        metric::SPANS_OVER_LIMIT,
        metric::BATCHES_REFUSED,
        metric::TRACES_EVICTED,
        metric::VERDICTS_FORGOTTEN,
        metric::EVENTS_SUPPRESSED,
        metric::OUTPUT_EXPORTED,
        metric::OUTPUT_DROPPED,
        metric::OUTPUT_RETRIES,
        metric::OUTPUT_OVERFLOW,
        metric::CONFIG_RELOADS,
        metric::TRACES_ANALYSED,
        metric::ANALYSIS_DROPPED,
        metric::HISTORY_ERRORS,
    ];
    let histograms = [
        metric::STAGE_DURATION,
        metric::SESSION_DURATION,
        metric::RUN_DURATION,
        metric::PATTERN_AUTHENTICITY,
        metric::MEMORY_PEAKS,
        metric::REQUEST_DURATION,
        metric::ANALYSIS_DURATION,
    ];
    let gauges = [
        metric::MEMORY_PEAK,
        metric::TRACES_IN_FLIGHT,
        metric::QUEUE_DEPTH,
        metric::QUEUE_BYTES,
        metric::HEALTH_SCORE,
        metric::PIPELINE_HEALTH_SCORE,
        metric::CRITICAL_PATH_SHARE,
        metric::REGRESSION,
        metric::MEMORY_LEAK,
        metric::MEMORY_GROWTH,
    ];
    // Family names also appear bare inside recording-rule names (level:metric:operation).
    let mut names: BTreeSet<String> = counters
        .iter()
        .chain(&histograms)
        .chain(&gauges)
        .map(|name| (*name).to_owned())
        .collect();
    names.extend(counters.iter().map(|name| format!("{name}_total")));
    for name in histograms {
        names.extend(["_bucket", "_sum", "_count"].map(|suffix| format!("{name}{suffix}")));
    }
    names
}

/// Every `ironforge_…` identifier in `text`.
fn ironforge_identifiers(text: &str) -> BTreeSet<String> {
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut found = BTreeSet::new();
    for (at, _) in text.match_indices("ironforge_") {
        if text[..at].chars().next_back().is_some_and(is_ident) {
            continue;
        }
        let end = text[at..]
            .find(|c| !is_ident(c))
            .map_or(text.len(), |n| at + n);
        found.insert(text[at..end].to_owned());
    }
    found
}

/// Every PromQL expression of the dashboard: panel targets and annotation queries.
fn dashboard_queries(dashboard: &Json) -> Vec<(String, String)> {
    let mut queries = Vec::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let title = panel["title"].as_str().unwrap().to_owned();
            queries.push((title, target["expr"].as_str().unwrap().to_owned()));
        }
    }
    for annotation in dashboard["annotations"]["list"].as_array().unwrap() {
        if let Some(expr) = annotation["expr"].as_str() {
            let name = annotation["name"].as_str().unwrap().to_owned();
            queries.push((name, expr.to_owned()));
        }
    }
    queries
}

#[test]
fn dashboard_and_rules_use_only_published_metric_names() {
    let published = published_series();
    for file in [RULES, "prometheus/rules/ironforge_test.yml", DASHBOARD] {
        // Comment lines may name files, such as the test file beside the rules.
        let text: String = read_repo_file(file)
            .lines()
            .filter(|line| !line.trim_start().starts_with('#'))
            .collect::<Vec<_>>()
            .join("\n");
        let unknown: Vec<String> = ironforge_identifiers(&text)
            .into_iter()
            .filter(|name| !published.contains(name))
            .collect();
        assert!(
            unknown.is_empty(),
            "{file} names metrics the processor does not publish: {unknown:?}"
        );
    }

    let dashboard: Json = serde_json::from_str(&read_repo_file(DASHBOARD)).unwrap();
    assert_eq!(dashboard["uid"], "ironforge-overview");
    let queries = dashboard_queries(&dashboard);
    assert!(queries.len() >= 20, "{} queries", queries.len());
    // The panels the dashboard promises, by the metric each reads.
    let all: String = queries.iter().map(|(_, expr)| expr.as_str()).collect();
    for name in [
        metric::HEALTH_SCORE,
        metric::TRACES,
        metric::VIOLATIONS,
        metric::SESSION_DURATION,
        metric::STAGE_DURATION,
        metric::RUN_DURATION,
        metric::PATTERN_AUTHENTICITY,
        metric::MEMORY_PEAK,
        metric::SPANS_RECEIVED,
        metric::OUTPUT_DROPPED,
        metric::EVENTS_SUPPRESSED,
        metric::QUEUE_DEPTH,
        metric::TRACES_IN_FLIGHT,
        metric::CRITICAL_PATH_SHARE,
        metric::REGRESSION,
        metric::MEMORY_LEAK,
        metric::MEMORY_GROWTH,
        metric::ANALYSIS_DURATION,
    ] {
        assert!(all.contains(name), "no panel reads {name}");
    }
    // Panels fit the 24-column grid.
    for panel in dashboard["panels"].as_array().unwrap() {
        let grid = &panel["gridPos"];
        let right = grid["x"].as_u64().unwrap() + grid["w"].as_u64().unwrap();
        assert!(right <= 24, "{} overflows the grid", panel["title"]);
    }
}

/// Alert names of the rules file, and the unit tests of each: `(alertname, expects firing)`.
fn alert_names_and_unit_tests() -> (BTreeSet<String>, Vec<(String, bool)>) {
    let rules = yaml(RULES);
    let alerts = rules["groups"]
        .as_sequence()
        .unwrap()
        .iter()
        .flat_map(|group| group["rules"].as_sequence().unwrap())
        .filter_map(|rule| rule["alert"].as_str().map(str::to_owned))
        .collect();
    let tests = yaml("prometheus/rules/ironforge_test.yml");
    let cases = tests["tests"]
        .as_sequence()
        .unwrap()
        .iter()
        .flat_map(|test| test["alert_rule_test"].as_sequence().into_iter().flatten())
        .map(|case| {
            let fires = case["exp_alerts"]
                .as_sequence()
                .is_some_and(|alerts| !alerts.is_empty());
            (str_of(&case["alertname"]).to_owned(), fires)
        })
        .collect();
    (alerts, cases)
}

#[test]
fn every_alert_has_unit_tests_firing_and_not_firing() {
    let (alerts, cases) = alert_names_and_unit_tests();
    assert!(alerts.len() >= 6, "{alerts:?}");
    for alert in &alerts {
        for fires in [true, false] {
            assert!(
                cases.contains(&(alert.clone(), fires)),
                "ironforge_test.yml has no case where {alert} {}",
                if fires { "fires" } else { "stays silent" }
            );
        }
    }
    for (alert, _) in &cases {
        assert!(alerts.contains(alert), "unit test of unknown alert {alert}");
    }
}

// ----- the compose stack: files that must agree with each other ------------------------------------------

fn yaml(relative: &str) -> Yaml {
    serde_yaml::from_str(&read_repo_file(relative))
        .unwrap_or_else(|err| panic!("{relative}: {err}"))
}

fn str_of(value: &Yaml) -> &str {
    value
        .as_str()
        .unwrap_or_else(|| panic!("not a string: {value:?}"))
}

/// The port of `host:port` or `scheme://host:port`.
fn port(address: &str) -> &str {
    address.rsplit(':').next().unwrap()
}

#[test]
fn compose_stack_files_agree_with_each_other() {
    let compose = yaml("docker-compose.yml");
    let services = &compose["services"];

    // Images are pinned, and every bind-mounted file or folder exists.
    for (name, service) in services.as_mapping().unwrap() {
        if let Some(image) = service["image"].as_str()
            && service.get("build").is_none()
        {
            let tag = image.rsplit_once(':').map(|(_, tag)| tag);
            assert!(
                tag.is_some_and(|tag| tag != "latest"),
                "{name:?}: unpinned {image}"
            );
        }
        for volume in service["volumes"].as_sequence().into_iter().flatten() {
            let source = str_of(volume).split(':').next().unwrap();
            if let Some(relative) = source.strip_prefix("./") {
                assert!(
                    repo_root().join(relative).exists(),
                    "{name:?} mounts missing {source}"
                );
            }
        }
    }

    // The processor is reached where its environment says it listens.
    let processor = &services["processor"];
    let env = &processor["environment"];
    let grpc_port = port(str_of(&env["IRONFORGE_OTLP_GRPC_ADDR"]));
    let metrics_port = port(str_of(&env["IRONFORGE_METRICS_ADDR"]));
    let admin_port = port(str_of(&env["IRONFORGE_ADMIN_ADDR"]));
    // The image keeps the admin API on loopback; the stack publishes it on the host's loopback, one port per
    // replica, and only behind the API token.
    assert!(read_repo_file("Dockerfile").contains("IRONFORGE_ADMIN_ADDR=127.0.0.1:"));
    assert!(env.get("IRONFORGE_API_TOKEN_FILE").is_some());
    let replicas = processor["deploy"]["replicas"].as_u64().unwrap();
    assert!(replicas >= 2, "the stack runs several processors");
    let published = str_of(&processor["ports"][0]);
    let (host_ports, container_port) = published
        .strip_prefix("127.0.0.1:")
        .and_then(|ports| ports.rsplit_once(':'))
        .expect("admin published on the host's loopback");
    assert_eq!(container_port, admin_port);
    let (first, last) = host_ports.split_once('-').expect("a range of host ports");
    let range = last.parse::<u64>().unwrap() - first.parse::<u64>().unwrap() + 1;
    assert_eq!(range, replicas, "one host port per replica");
    // Nothing that needs a newer Compose than 2.0 (inline `configs.content` needs 2.23.1).
    assert!(compose.get("configs").is_none());

    // The Collector balances traces over the replicas by trace id, finding them in DNS under the service name.
    let collector = yaml("otel-collector/config.yml");
    let balancer = &collector["exporters"]["load_balancing/ironforge"];
    assert_eq!(str_of(&balancer["routing_key"]), "traceID");
    assert_eq!(
        str_of(&balancer["resolver"]["dns"]["hostname"]),
        "processor"
    );
    assert_eq!(str_of(&balancer["resolver"]["dns"]["port"]), grpc_port);
    let exporter = &balancer["protocol"]["otlp"];
    // Its queue lives on a volume, so what the Collector acknowledged survives a restart.
    let queue_storage = str_of(&balancer["sending_queue"]["storage"]);
    let queue_dir = str_of(&collector["extensions"][queue_storage]["directory"]);
    assert!(
        services["otel-collector"]["volumes"]
            .as_sequence()
            .unwrap()
            .iter()
            .any(|v| str_of(v).ends_with(&format!(":{queue_dir}"))),
        "the Collector's queue directory {queue_dir} is not a volume"
    );
    let collector_grpc = port(str_of(
        &collector["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"],
    ));
    assert_eq!(
        str_of(&env["IRONFORGE_LOGS_ENDPOINT"]),
        format!("http://otel-collector:{collector_grpc}")
    );
    // Every component a Collector pipeline names is defined.
    for (signal, pipeline) in collector["service"]["pipelines"].as_mapping().unwrap() {
        for kind in ["receivers", "processors", "exporters"] {
            for component in pipeline[kind].as_sequence().into_iter().flatten() {
                assert!(
                    collector[kind].get(str_of(component)).is_some(),
                    "{signal:?} pipeline names undefined {kind} {component:?}"
                );
            }
        }
    }
    for extension in collector["service"]["extensions"].as_sequence().unwrap() {
        assert!(collector["extensions"].get(str_of(extension)).is_some());
    }

    // Prometheus scrapes every replica, found in DNS the same way.
    let prometheus = yaml("prometheus/prometheus.yml");
    let processor_job = prometheus["scrape_configs"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|job| job["job_name"] == "ironforge-processor")
        .expect("a scrape job for the processor");
    let discovery = &processor_job["dns_sd_configs"][0];
    assert_eq!(str_of(&discovery["names"][0]), "processor");
    assert_eq!(
        discovery["port"].as_u64().unwrap().to_string(),
        metrics_port
    );
    // The Collector and Prometheus send the tokens the processor requires, read from the volume the
    // `tokens` service fills and each of them mounts.
    assert_eq!(
        str_of(&processor_job["authorization"]["credentials_file"]),
        str_of(&env["IRONFORGE_METRICS_TOKEN_FILE"])
    );
    assert_eq!(
        str_of(&exporter["headers"]["authorization"]),
        format!(
            "Bearer ${{file:{}}}",
            str_of(&env["IRONFORGE_INGEST_TOKEN_FILE"])
        )
    );
    for service in ["tokens", "processor", "otel-collector", "prometheus"] {
        let mounts = services[service]["volumes"].as_sequence().unwrap();
        assert!(
            mounts
                .iter()
                .any(|m| str_of(m).starts_with("tokens:/tokens")),
            "{service} does not mount the tokens volume"
        );
    }
    // The rules' IronforgeProcessorDown names this job.
    assert!(read_repo_file(RULES).contains(r#"up{job="ironforge-processor"}"#));

    // Prometheus keeps exemplars, and Grafana links their trace ids to Tempo under the processor's label.
    let prometheus_command = services["prometheus"]["command"].as_sequence().unwrap();
    assert!(
        prometheus_command
            .iter()
            .any(|arg| arg == "--enable-feature=exemplar-storage")
    );
    let datasources = yaml("grafana/provisioning/datasources/ironforge.yml");
    let datasources = datasources["datasources"].as_sequence().unwrap();
    let uids: BTreeSet<&str> = datasources.iter().map(|ds| str_of(&ds["uid"])).collect();
    let prometheus_ds = datasources
        .iter()
        .find(|ds| ds["type"] == "prometheus")
        .unwrap();
    let link = &prometheus_ds["jsonData"]["exemplarTraceIdDestinations"][0];
    assert_eq!(str_of(&link["name"]), exemplar::TRACE_ID);
    assert_eq!(str_of(&link["datasourceUid"]), "tempo");
    assert!(uids.contains("tempo"));
    let tempo_config = yaml("tempo/tempo.yaml");
    let tempo_port = tempo_config["server"]["http_listen_port"].as_u64().unwrap();
    for ds in datasources {
        let host = str_of(&ds["type"]);
        let url = str_of(&ds["url"]);
        let expected = match host {
            "prometheus" => "http://prometheus:9090".to_owned(),
            "tempo" => format!("http://tempo:{tempo_port}"),
            "alertmanager" => "http://alertmanager:9093".to_owned(),
            other => panic!("unexpected data source {other}"),
        };
        assert_eq!(url, expected);
    }

    // The dashboard names only provisioned data sources, and sits where the provider looks.
    let dashboard: Json = serde_json::from_str(&read_repo_file(DASHBOARD)).unwrap();
    let mut referenced = BTreeSet::new();
    collect_datasource_uids(&dashboard, &mut referenced);
    referenced.remove("-- Grafana --");
    for uid in &referenced {
        assert!(uids.contains(uid.as_str()), "dashboard uses unknown {uid}");
    }
    let provider = yaml("grafana/provisioning/dashboards/ironforge.yml");
    let provider_path = str_of(&provider["providers"][0]["options"]["path"]);
    let grafana = &services["grafana"];
    assert!(
        grafana["volumes"]
            .as_sequence()
            .unwrap()
            .iter()
            .any(|v| str_of(v).starts_with(&format!("./grafana/dashboards:{provider_path}")))
    );
    assert_eq!(
        str_of(&grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]),
        format!("{provider_path}/ironforge.json")
    );
}

fn collect_datasource_uids(value: &Json, into: &mut BTreeSet<String>) {
    match value {
        Json::Object(map) => {
            if let Some(uid) = map
                .get("datasource")
                .and_then(|ds| ds.get("uid"))
                .and_then(Json::as_str)
            {
                into.insert(uid.to_owned());
            }
            map.values().for_each(|v| collect_datasource_uids(v, into));
        }
        Json::Array(items) => items.iter().for_each(|v| collect_datasource_uids(v, into)),
        _ => {}
    }
}

// ----- live: a failing run reaches the webhook --------------------------------------------------------------

/// The shipped prometheus.yml with its rule files named by absolute path, and the processor's scrape token
/// (which the stack keeps in a volume) read from a file made in `dir`.
fn shipped_prometheus(dir: &Path) -> Yaml {
    let mut config = yaml("prometheus/prometheus.yml");
    let rules_dir = repo_root().join("prometheus");
    let rule_files: Vec<Yaml> = config["rule_files"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|file| rules_dir.join(str_of(file)).display().to_string().into())
        .collect();
    config["rule_files"] = Yaml::Sequence(rule_files);
    let token = dir.join("metrics-token");
    std::fs::write(&token, "test-metrics-token").unwrap();
    for job in config["scrape_configs"].as_sequence_mut().unwrap() {
        if job["job_name"] == "ironforge-processor" {
            job["authorization"]["credentials_file"] = token.display().to_string().into();
        }
    }
    config
}

/// The shipped prometheus.yml, pointed at the test's processor and Alertmanager, with one-second intervals.
/// The processor's scrape job (with its token) and the rule files are the shipped ones.
fn prometheus_config(dir: &Path, admin: SocketAddr, alertmanager: SocketAddr) -> String {
    let mut config = shipped_prometheus(dir);
    for key in ["scrape_interval", "scrape_timeout", "evaluation_interval"] {
        config["global"][key] = "1s".into();
    }
    let mut job = config["scrape_configs"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|job| job["job_name"] == "ironforge-processor")
        .unwrap()
        .clone();
    let job_map = job.as_mapping_mut().unwrap();
    job_map.remove("dns_sd_configs");
    job_map.insert(
        "static_configs".into(),
        serde_yaml::from_str(&format!("[{{targets: ['{admin}']}}]")).unwrap(),
    );
    config["scrape_configs"] = Yaml::Sequence(vec![job]);
    config["alerting"]["alertmanagers"][0]["static_configs"] =
        serde_yaml::from_str(&format!("[{{targets: ['{alertmanager}']}}]")).unwrap();
    serde_yaml::to_string(&config).unwrap()
}

/// The shipped alertmanager.yml with every receiver posting to the test's webhook under its own name, and
/// notifications sent one second after an alert arrives.
fn alertmanager_config(webhook: SocketAddr) -> String {
    fn hurry(route: &mut Yaml) {
        route["group_wait"] = "1s".into();
        route["group_interval"] = "1s".into();
        if let Some(routes) = route.get_mut("routes").and_then(Yaml::as_sequence_mut) {
            routes.iter_mut().for_each(hurry);
        }
    }
    let mut config = yaml("alertmanager/alertmanager.yml");
    for receiver in config["receivers"].as_sequence_mut().unwrap() {
        let name = str_of(&receiver["name"]).to_owned();
        for hook in receiver["webhook_configs"].as_sequence_mut().unwrap() {
            hook["url"] = format!("http://{webhook}/{name}").into();
        }
    }
    hurry(&mut config["route"]);
    serde_yaml::to_string(&config).unwrap()
}

/// When Prometheus last began evaluating each rule group, as it reports it.
async fn rule_evaluations(prometheus: &Prometheus) -> Vec<Json> {
    let rules = prometheus.api("rules").await;
    let groups = rules["groups"].as_array().cloned().unwrap_or_default();
    assert!(!groups.is_empty(), "no rule groups: {rules}");
    groups
        .into_iter()
        .map(|group| group["lastEvaluation"].clone())
        .collect()
}

fn label<'a>(alert: &'a Json, name: &str) -> &'a str {
    alert["labels"][name].as_str().unwrap_or_default()
}

fn now_unix_seconds() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_run_alerts_through_real_prometheus_and_alertmanager() {
    let Some(tools) = Tools::find() else { return };
    // Declared first, so dropped last: the children are killed before their directory and logs go.
    let dir = TempDir::new("ironforge-alerting");
    let processor = TestProcessor::start().await;
    let (webhook, webhook_addr) = WebhookSink::start().await;
    let mut alertmanager = Alertmanager::start(
        &tools.alertmanager,
        dir.path(),
        &alertmanager_config(webhook_addr),
    )
    .await;
    let mut prometheus = Prometheus::start(
        &tools.prometheus,
        dir.path(),
        &prometheus_config(dir.path(), processor.admin, alertmanager.addr),
    )
    .await;
    let (prom, am) = (&prometheus, &alertmanager);

    // Prometheus must have scraped the processor before the run: a counter born between two scrapes of a
    // watched target is what the rules recognise as new.
    wait_until_async("Prometheus to scrape the processor", || async move {
        let up = prom.query(r#"up{job="ironforge-processor"} == 1"#).await;
        if up.is_empty() {
            Err("no target up")
        } else {
            Ok(())
        }
    })
    .await;
    // A processor that has decided nothing alerts on nothing, although its health gauge reads 0 until then:
    // shown at an evaluation of every rule group that Prometheus began after it had scraped the processor
    // (a group's last evaluation changes from what it was once the scrape was seen). Pending alerts count.
    let scraped = rule_evaluations(prom).await;
    wait_until_async("Prometheus to evaluate its rules after the scrape", || {
        let scraped = &scraped;
        async move {
            let now = rule_evaluations(prom).await;
            if now.iter().zip(scraped).all(|(now, then)| now != then) {
                Ok(())
            } else {
                Err(format!(
                    "last evaluations {now:?}, at the scrape {scraped:?}"
                ))
            }
        }
    })
    .await;
    let alerts = prometheus.api("alerts").await;
    assert_eq!(alerts["alerts"], serde_json::json!([]), "{alerts}");

    let started = now_unix_seconds();
    // The 57 real sessions fail several blocking contracts.
    let summary = replay(
        processor.grpc_endpoint(),
        Protocol::Grpc,
        ReplayOptions::default(),
    )
    .await;
    let trace = trace_hex(&summary);
    let verdict = processor.verdict(&trace).await;
    assert!(!verdict.production_ready);

    // Prometheus sees the not-production-ready trace, and keeps its trace id as the exemplar.
    let counted = wait_until_async("the failing trace in Prometheus", || async move {
        let result = prom
            .query(r#"ironforge_traces_total{production_ready="false"} >= 1"#)
            .await;
        if result.is_empty() {
            Err("an empty query result")
        } else {
            Ok(result)
        }
    })
    .await;
    assert_eq!(counted[0]["metric"]["status"], "fail");
    assert_exemplar(&prometheus, started, &trace).await;

    // The alert reaches Alertmanager...
    let held = wait_until_async(
        "IronforgeRunNotProductionReady in Alertmanager",
        || async move {
            let alerts = am.alerts().await;
            alerts
                .iter()
                .find(|a| label(a, "alertname") == "IronforgeRunNotProductionReady")
                .cloned()
                .ok_or_else(|| format!("alerts {alerts:?}"))
        },
    )
    .await;
    assert_eq!(label(&held, "severity"), "critical");
    assert_eq!(label(&held, "instance"), processor.admin.to_string());
    let description = held["annotations"]["description"].as_str().unwrap();
    assert!(
        description.contains(&format!("http://{}/api/v1/traces/", processor.admin)),
        "{held}"
    );
    // ...and the webhook, with the alerts of each broken contract.
    assert_webhook_received(&webhook, &verdict).await;

    // Health is now RED (score 0): pending for its 30 s, not yet firing.
    let alerts = prometheus.api("alerts").await;
    let pending: Vec<&str> = alerts["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| label(a, "alertname"))
        .collect();
    assert!(pending.contains(&"IronforgePipelineHealthRed"), "{alerts}");

    // Every rule evaluates cleanly against the real metrics.
    let rules = prometheus.api("rules").await;
    for group in rules["groups"].as_array().unwrap() {
        for rule in group["rules"].as_array().unwrap() {
            assert_eq!(rule["health"], "ok", "{rule}");
        }
    }
    assert_dashboard_queries(&prometheus).await;
    // ...and still after a run of each fault the replay can inject, each breaking its own contract.
    for faults in single_faults() {
        let options = ReplayOptions {
            faults,
            ..ReplayOptions::default()
        };
        let summary = replay(processor.grpc_endpoint(), Protocol::Grpc, options).await;
        processor.verdict(&trace_hex(&summary)).await;
        assert_dashboard_queries(&prometheus).await;
    }

    prometheus.assert_running();
    alertmanager.assert_running();
    drop(prometheus);
    drop(alertmanager);
    tokio::time::timeout(WAIT, processor.stop())
        .await
        .expect("the processor stops");
}

/// One `Faults` per fault the replay injects quickly (the slow run and the memory growth are left out: they
/// only wait or allocate in this process).
fn single_faults() -> Vec<Faults> {
    let one = |set: fn(&mut Faults)| {
        let mut faults = Faults::default();
        set(&mut faults);
        faults
    };
    vec![
        one(|f| f.slow_session = Some(SessionSelector::Index(0))),
        one(|f| f.low_authenticity = true),
        one(|f| f.unknown_event_type = true),
        one(|f| f.wrong_feature_dim = true),
        one(|f| f.cross_session_edge = true),
        one(|f| f.open_candle_read = true),
    ]
}

/// Prometheus stored the trace id of the run as an exemplar of the trace counter: the link Grafana follows
/// to Tempo.
async fn assert_exemplar(prometheus: &Prometheus, since: f64, trace: &str) {
    let exemplars = prometheus
        .api(&format!(
            "query_exemplars?query={}_total&start={since}&end={}",
            metric::TRACES,
            now_unix_seconds() + 60.0
        ))
        .await;
    let trace_ids: Vec<&str> = exemplars
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|series| series["exemplars"].as_array().unwrap())
        .filter_map(|e| e["labels"][exemplar::TRACE_ID].as_str())
        .collect();
    assert!(trace_ids.contains(&trace), "{exemplars}");
}

/// The webhook got the run's alert and one alert per broken contract, each through the route for its
/// severity: exactly the contracts of the verdict, whatever this machine's run broke.
async fn assert_webhook_received(webhook: &WebhookSink, verdict: &pb::TraceVerdict) {
    let contracts_of = |severity: pb::Severity| -> BTreeSet<String> {
        verdict
            .violations
            .iter()
            .filter(|v| v.severity == severity as i32)
            .map(|v| v.contract_id.clone())
            .collect()
    };
    let expected = [
        (
            "ironforge-critical",
            "IronforgeCriticalViolations",
            contracts_of(pb::Severity::Critical),
        ),
        (
            "ironforge-default",
            "IronforgeWarningViolations",
            contracts_of(pb::Severity::Warning),
        ),
    ];
    // The real sessions' own defects, at both severities.
    assert!(expected[0].2.contains("unique_session_ids"), "{expected:?}");
    assert!(
        expected[1].2.contains("edge_intents_complete"),
        "{expected:?}"
    );
    let contracts = |delivered: &[Delivered], receiver: &str, alertname: &str| {
        delivered
            .iter()
            .filter(|d| d.receiver == receiver && d.status == "firing")
            .filter(|d| d.labels["alertname"] == alertname)
            .filter_map(|d| d.labels["contract"].as_str().map(str::to_owned))
            .collect::<BTreeSet<String>>()
    };
    let expected = &expected;
    let delivered = wait_until_async("the alerts at the webhook", || async move {
        let delivered = webhook.delivered();
        let run_alerted = delivered.iter().any(|d| {
            d.receiver == "ironforge-critical"
                && d.status == "firing"
                && d.labels["alertname"] == "IronforgeRunNotProductionReady"
        });
        let all_contracts = expected.iter().all(|(receiver, alertname, wanted)| {
            contracts(&delivered, receiver, alertname).is_superset(wanted)
        });
        if run_alerted && all_contracts {
            Ok(delivered)
        } else {
            Err(format!("{delivered:?}"))
        }
    })
    .await;
    for (receiver, alertname, wanted) in expected {
        assert_eq!(&contracts(&delivered, receiver, alertname), wanted);
    }
    let routed_by_severity = delivered
        .iter()
        .all(|d| (d.receiver == "ironforge-critical") == (d.labels["severity"] == "critical"));
    assert!(routed_by_severity, "{delivered:?}");
}

/// Every dashboard query is valid PromQL, with Grafana's variables at the dashboard's defaults, and the
/// panels over what a failing run produces have data.
async fn assert_dashboard_queries(prometheus: &Prometheus) {
    let dashboard: Json = serde_json::from_str(&read_repo_file(DASHBOARD)).unwrap();
    let mut empty = Vec::new();
    for (title, expr) in dashboard_queries(&dashboard) {
        let expr = expr
            .replace("$instance", ".*")
            .replace("$pipeline", ".*")
            .replace("$window", "5m")
            .replace("$__rate_interval", "4s");
        if prometheus.query(&expr).await.is_empty() {
            empty.push(format!("{title}: {expr}"));
        }
    }
    assert!(
        empty.is_empty(),
        "queries without data:\n{}",
        empty.join("\n")
    );
}
