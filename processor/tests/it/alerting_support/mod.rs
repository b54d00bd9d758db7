//! Real Prometheus and Alertmanager processes on loopback ports, and a webhook receiver standing in for
//! Slack or PagerDuty: what the alerting tests drive. Binaries come from PATH (Debian's `prometheus` and
//! `prometheus-alertmanager` packages).

use std::fs::File;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::{Json, Path as UrlPath, State};
use axum::http::StatusCode;
use axum::routing::post;
use serde_json::Value;

use crate::wait_support::{WAIT, poll_until_async};

/// The workspace root, where the stack's configuration lives.
pub(crate) fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

pub(crate) fn read_repo_file(relative: &str) -> String {
    let path = repo_root().join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

/// The first of `names` found on PATH.
pub(crate) fn which(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |name| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

/// The Prometheus and Alertmanager binaries.
#[derive(Debug, Clone)]
pub(crate) struct Tools {
    pub prometheus: PathBuf,
    pub promtool: PathBuf,
    pub alertmanager: PathBuf,
    pub amtool: PathBuf,
}

impl Tools {
    /// The binaries, or `None` after saying why the test is skipped. Under CI (`CI` set) a missing binary
    /// fails the test instead, so a CI machine that lacks the packages cannot pass silently.
    pub(crate) fn find() -> Option<Self> {
        let prometheus = which(&["prometheus"]);
        let promtool = which(&["promtool"]);
        let alertmanager = which(&["prometheus-alertmanager", "alertmanager"]);
        let amtool = which(&["amtool"]);
        let missing: Vec<&str> = [
            ("prometheus", prometheus.is_none()),
            ("promtool", promtool.is_none()),
            (
                "prometheus-alertmanager or alertmanager",
                alertmanager.is_none(),
            ),
            ("amtool", amtool.is_none()),
        ]
        .into_iter()
        .filter_map(|(name, absent)| absent.then_some(name))
        .collect();
        if missing.is_empty() {
            return Some(Self {
                prometheus: prometheus?,
                promtool: promtool?,
                alertmanager: alertmanager?,
                amtool: amtool?,
            });
        }
        let hint = "install the Debian packages `prometheus` and `prometheus-alertmanager`";
        if std::env::var_os("CI").is_some_and(|value| !value.is_empty()) {
            panic!("not on PATH: {}; {hint}", missing.join(", "));
        }
        eprintln!(
            "skipped: not on PATH: {}; {hint} to run this test",
            missing.join(", ")
        );
        None
    }
}

/// Runs a command to completion and fails the test, with its output, unless it succeeds.
pub(crate) fn run_ok(program: &Path, args: &[&str]) -> String {
    let output = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|err| panic!("cannot run {}: {err}", program.display()));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{} {} failed ({}):\n{stdout}\n{stderr}",
        program.display(),
        args.join(" "),
        output.status
    );
    stdout
}

/// A directory under the system temp dir, removed on drop.
#[derive(Debug)]
pub(crate) struct TempDir(PathBuf);

impl TempDir {
    pub(crate) fn new(prefix: &str) -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let path = std::env::temp_dir().join(format!("{prefix}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A loopback port free at the time of asking.
pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child process killed on drop; its output goes to a log file that is printed if the test fails.
#[derive(Debug)]
pub(crate) struct Process {
    name: &'static str,
    child: Child,
    log: PathBuf,
}

impl Process {
    pub(crate) fn spawn(name: &'static str, program: &Path, args: &[String], log: PathBuf) -> Self {
        let out = File::create(&log).unwrap();
        let err = out.try_clone().unwrap();
        let child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
        Self { name, child, log }
    }

    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Fails the test at once, with the log, if the process has exited.
    pub(crate) fn assert_running(&mut self) {
        if let Some(status) = self.child.try_wait().unwrap() {
            panic!("{} exited with {status}:\n{}", self.name, self.log());
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("----- {} log -----\n{}", self.name, self.log());
        }
    }
}

/// An HTTP client whose every request gives up after ten seconds, so no request outlives the test's bounds.
pub(crate) fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// GET a JSON document; `None` while the server is not answering or answers an error.
pub(crate) async fn get_json(url: &str) -> Option<Value> {
    let response = http().get(url).send().await.ok()?;
    if !response.status().is_success() {
        return None;
    }
    response.json().await.ok()
}

/// A Prometheus server with its own storage, scraping and alerting as `config_yaml` says.
#[derive(Debug)]
pub(crate) struct Prometheus {
    pub url: String,
    process: Process,
}

impl Prometheus {
    pub(crate) async fn start(binary: &Path, dir: &Path, config_yaml: &str) -> Self {
        let config = dir.join("prometheus.yml");
        std::fs::write(&config, config_yaml).unwrap();
        let listen = format!("127.0.0.1:{}", free_port());
        let args = vec![
            format!("--config.file={}", config.display()),
            format!(
                "--storage.tsdb.path={}",
                dir.join("prometheus-data").display()
            ),
            format!("--web.listen-address={listen}"),
            // As in docker-compose.yml: exemplars are what link a metric to its trace.
            "--enable-feature=exemplar-storage".to_owned(),
        ];
        let mut process = Process::spawn("prometheus", binary, &args, dir.join("prometheus.log"));
        let url = format!("http://{listen}");
        wait_ready(&mut process, &url).await;
        Self { url, process }
    }

    /// An instant query's result vector; fails the test if Prometheus refuses the query.
    pub(crate) async fn query(&self, promql: &str) -> Vec<Value> {
        let url = reqwest::Url::parse_with_params(
            &format!("{}/api/v1/query", self.url),
            [("query", promql)],
        )
        .unwrap();
        let response = http()
            .get(url)
            .send()
            .await
            .unwrap_or_else(|err| panic!("query {promql}: {err}"));
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["status"], "success", "query {promql}: {body}");
        body["data"]["result"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// An API document under `/api/v1/`, such as `alerts` or `rules`.
    pub(crate) async fn api(&self, path: &str) -> Value {
        let body = get_json(&format!("{}/api/v1/{path}", self.url))
            .await
            .unwrap_or_else(|| panic!("no answer from /api/v1/{path}"));
        assert_eq!(body["status"], "success", "{path}: {body}");
        body["data"].clone()
    }

    pub(crate) fn assert_running(&mut self) {
        self.process.assert_running();
    }
}

/// An Alertmanager with clustering off and its own storage.
#[derive(Debug)]
pub(crate) struct Alertmanager {
    pub url: String,
    pub addr: SocketAddr,
    process: Process,
}

impl Alertmanager {
    pub(crate) async fn start(binary: &Path, dir: &Path, config_yaml: &str) -> Self {
        let config = dir.join("alertmanager.yml");
        std::fs::write(&config, config_yaml).unwrap();
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let args = vec![
            format!("--config.file={}", config.display()),
            format!("--storage.path={}", dir.join("alertmanager-data").display()),
            format!("--web.listen-address={addr}"),
            // Empty disables the gossip listener, which would otherwise take a fixed port.
            "--cluster.listen-address=".to_owned(),
        ];
        let mut process =
            Process::spawn("alertmanager", binary, &args, dir.join("alertmanager.log"));
        let url = format!("http://{addr}");
        wait_ready(&mut process, &url).await;
        Self { url, addr, process }
    }

    /// Alerts Alertmanager currently holds (`/api/v2/alerts`).
    pub(crate) async fn alerts(&self) -> Vec<Value> {
        get_json(&format!("{}/api/v2/alerts", self.url))
            .await
            .and_then(|alerts| alerts.as_array().cloned())
            .unwrap_or_default()
    }

    pub(crate) fn assert_running(&mut self) {
        self.process.assert_running();
    }
}

async fn wait_ready(process: &mut Process, url: &str) {
    let ready = format!("{url}/-/ready");
    let answered = poll_until_async(WAIT, || {
        process.assert_running();
        let ready = &ready;
        async move {
            match http().get(ready).send().await {
                Ok(response) if response.status().is_success() => Ok(()),
                Ok(response) => Err(format!("answered {}", response.status())),
                Err(err) => Err(err.to_string()),
            }
        }
    })
    .await;
    if let Err(seen) = answered {
        panic!(
            "{url} not ready within {WAIT:?} ({seen}):\n{}",
            process.log()
        );
    }
}

/// One alert as a webhook notification delivered it, with the receiver it was routed to.
#[derive(Debug, Clone)]
pub(crate) struct Delivered {
    pub receiver: String,
    pub status: String,
    pub labels: Value,
}

/// Collects what Alertmanager's webhook receivers post; each receiver posts to `/<receiver name>`.
#[derive(Debug, Clone, Default)]
pub(crate) struct WebhookSink {
    delivered: Arc<Mutex<Vec<Delivered>>>,
}

impl WebhookSink {
    pub(crate) async fn start() -> (Self, SocketAddr) {
        let sink = Self::default();
        let app = Router::new()
            .route("/{receiver}", post(receive))
            .with_state(sink.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        (sink, addr)
    }

    pub(crate) fn delivered(&self) -> Vec<Delivered> {
        self.delivered.lock().unwrap().clone()
    }
}

async fn receive(
    State(sink): State<WebhookSink>,
    UrlPath(receiver): UrlPath<String>,
    Json(notification): Json<Value>,
) -> StatusCode {
    let alerts = notification["alerts"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    sink.delivered
        .lock()
        .unwrap()
        .extend(alerts.into_iter().map(|alert| Delivered {
            receiver: receiver.clone(),
            status: alert["status"].as_str().unwrap_or_default().to_owned(),
            labels: alert["labels"].clone(),
        }));
    StatusCode::OK
}
