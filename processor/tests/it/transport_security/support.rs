//! A processor started with given security options on free loopback ports.

use std::net::SocketAddr;
use std::path::PathBuf;

use ironforge_processor::server::{BoundAddrs, Server, ServerOptions};
use ironforge_security::SecurityOptions;

use crate::e2e_support::test_contracts;
pub(crate) use crate::e2e_support::unique;

pub(crate) struct Secured {
    pub server: Option<Server>,
    pub addrs: BoundAddrs,
    contracts_file: PathBuf,
    data_dir: PathBuf,
}

impl Secured {
    pub(crate) async fn start(security: SecurityOptions) -> Self {
        let unique = unique("ironforge-security");
        let contracts_file = std::env::temp_dir().join(format!("{unique}.yaml"));
        std::fs::write(&contracts_file, test_contracts()).unwrap();
        let data_dir = std::env::temp_dir().join(format!("{unique}-data"));
        let loopback: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let server = Server::start(ServerOptions {
            contracts_path: Some(contracts_file.clone()),
            otlp_grpc_addr: loopback,
            otlp_http_addr: loopback,
            admin_addr: loopback,
            data_dir: data_dir.clone(),
            security,
            // Many servers share this test process: its memory is not one server's.
            bound_process_memory: false,
            ..ServerOptions::default()
        })
        .await
        .unwrap();
        Self {
            addrs: server.addrs,
            server: Some(server),
            contracts_file,
            data_dir,
        }
    }

    pub(crate) async fn stop(mut self) {
        if let Some(server) = self.server.take() {
            server.stop().await;
        }
    }

    /// The processor's own metrics text, read from the admin listener (no token required there unless the
    /// test set a metrics token).
    pub(crate) async fn metrics(&self) -> String {
        reqwest::get(format!("http://{}/metrics", self.addrs.admin))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }
}

impl Drop for Secured {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.contracts_file);
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

/// The value of one counter series in the metrics text, 0 when absent.
pub(crate) fn counter(metrics: &str, series: &str) -> f64 {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0.0)
}

/// The real binary on free loopback ports, with no token from the test's own environment.
pub(crate) fn processor_command() -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_ironforge-processor"));
    for flag in ["--otlp-grpc-addr", "--otlp-http-addr", "--admin-addr"] {
        command.args([flag, "127.0.0.1:0"]);
    }
    for token in ["INGEST", "API", "METRICS"] {
        command.env_remove(format!("IRONFORGE_{token}_TOKEN"));
    }
    command.env("NO_COLOR", "1");
    // A data directory of its own: another run's write-ahead log would be replayed, and its lock held.
    command.env(
        "IRONFORGE_DATA_DIR",
        std::env::temp_dir().join(unique("ironforge-security-data")),
    );
    command
}
