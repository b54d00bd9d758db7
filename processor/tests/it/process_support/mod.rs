//! The `ironforge-processor` binary as an operator runs it: started on free loopback ports with its own data
//! directory, killed (SIGKILL) or stopped (SIGTERM), restarted on the same directory. Its JSON console log
//! is kept, so tests count the verdicts it printed.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

pub(crate) use crate::alerting_support::TempDir;
use crate::wait_support::{wait_until, wait_until_async};

/// A running `ironforge-processor`.
pub(crate) struct ProcessorProcess {
    child: Child,
    pub grpc: SocketAddr,
    pub admin: SocketAddr,
    lines: Arc<Mutex<Vec<String>>>,
    readers: Vec<JoinHandle<()>>,
}

/// Why a processor did not start: its exit status and what it printed.
#[derive(Debug)]
pub(crate) struct StartFailure {
    pub status: Option<ExitStatus>,
    pub output: String,
}

fn read_lines(
    stream: impl std::io::Read + Send + 'static,
    lines: Arc<Mutex<Vec<String>>>,
) -> JoinHandle<()> {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            match line {
                Ok(line) => lines.lock().unwrap().push(line),
                Err(_) => return,
            }
        }
    })
}

fn json_fields(line: &str) -> Option<serde_json::Value> {
    let value: serde_json::Value = serde_json::from_str(line).ok()?;
    Some(value)
}

/// The engine shards of a test processor, unless `extra` names its own.
pub(crate) const SHARDS: usize = 2;

impl ProcessorProcess {
    /// Starts the processor and waits for its start-up line (printed once it is ready).
    pub(crate) fn start(
        contracts: &Path,
        data_dir: &Path,
        extra: &[&str],
    ) -> Result<Self, StartFailure> {
        Self::start_under(&[], contracts, data_dir, extra)
    }

    /// [`ProcessorProcess::start`] with the binary and its arguments handed to `wrapper` (a command that
    /// ends by running them, as `unshare … sh -c '…; exec "$@"'` does).
    pub(crate) fn start_under(
        wrapper: &[&str],
        contracts: &Path,
        data_dir: &Path,
        extra: &[&str],
    ) -> Result<Self, StartFailure> {
        let binary = env!("CARGO_BIN_EXE_ironforge-processor");
        let mut command = match wrapper.split_first() {
            Some((program, args)) => {
                let mut command = Command::new(program);
                command.args(args).arg(binary);
                command
            }
            None => Command::new(binary),
        };
        // Each default gives way to the same flag in `extra` (a fixed port that a restart keeps, say).
        let shards = SHARDS.to_string();
        let defaults = [
            ("--otlp-grpc-addr", "127.0.0.1:0"),
            ("--otlp-http-addr", "127.0.0.1:0"),
            ("--admin-addr", "127.0.0.1:0"),
            ("--log-format", "json"),
            ("--shards", shards.as_str()),
        ]
        .into_iter()
        .filter(|(flag, _)| !extra.contains(flag))
        .flat_map(|(flag, value)| [flag, value]);
        let mut child = command
            .args(["--config"])
            .arg(contracts)
            .args(["--data-dir"])
            .arg(data_dir)
            .args(defaults)
            .args(extra)
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let readers = vec![
            read_lines(child.stdout.take().unwrap(), Arc::clone(&lines)),
            read_lines(child.stderr.take().unwrap(), Arc::clone(&lines)),
        ];
        // Ok(Ok(listeners)) once it is ready, Ok(Err(status)) once it has exited instead.
        let started = wait_until("the processor's start-up line", || {
            let printed = lines.lock().unwrap();
            let listening = printed.iter().find_map(|line| {
                let value = json_fields(line)?;
                let fields = value.get("fields")?;
                let addr = |key: &str| fields.get(key)?.as_str()?.parse::<SocketAddr>().ok();
                Some((addr("otlp_grpc")?, addr("otlp_http")?, addr("admin")?))
            });
            // The start-up line names all three listeners once they are bound; only two are used here.
            if let Some((grpc, _http, admin)) = listening {
                return Ok(Ok((grpc, admin)));
            }
            if let Ok(Some(status)) = child.try_wait() {
                return Ok(Err(status));
            }
            Err(format!("printed so far:\n{}", printed.join("\n")))
        });
        match started {
            Ok((grpc, admin)) => Ok(Self {
                child,
                grpc,
                admin,
                lines,
                readers,
            }),
            Err(status) => {
                for reader in readers {
                    let _ = reader.join();
                }
                let output = lines.lock().unwrap().join("\n");
                Err(StartFailure {
                    status: Some(status),
                    output,
                })
            }
        }
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    pub(crate) fn grpc_endpoint(&self) -> String {
        format!("http://{}", self.grpc)
    }

    /// Everything printed so far.
    pub(crate) fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// SIGKILL: no chance to flush anything. Returns everything printed.
    pub(crate) fn kill(mut self) -> Vec<String> {
        self.child.kill().unwrap();
        self.finish()
    }

    /// SIGTERM, then waits (up to [`WAIT`](crate::wait_support::WAIT)) for the process to exit on its own.
    /// Returns everything printed.
    pub(crate) fn terminate(mut self) -> (ExitStatus, Vec<String>) {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(self.child.id()).unwrap());
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
        let status = wait_until("the exit after SIGTERM", || {
            self.child.try_wait().unwrap().ok_or("still running")
        });
        (status, self.finish())
    }

    fn finish(&mut self) -> Vec<String> {
        let _ = self.child.wait();
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
        self.lines()
    }

    /// GET on the admin port: status and body.
    pub(crate) async fn get(&self, path: &str) -> (u16, String) {
        crate::e2e_support::admin_get(self.admin, path).await
    }

    /// Waits (up to [`WAIT`](crate::wait_support::WAIT)) for a trace's verdict from the HTTP API, as JSON.
    pub(crate) async fn verdict(&self, trace_hex: &str) -> serde_json::Value {
        self.answer(&format!("/api/v1/traces/{trace_hex}/verdict"))
            .await
    }

    /// Waits (up to [`WAIT`](crate::wait_support::WAIT)) for a 200 answer to GET `path` on the admin port,
    /// as JSON.
    pub(crate) async fn answer(&self, path: &str) -> serde_json::Value {
        let body = wait_until_async(&format!("an answer to {path}"), || async {
            let (status, body) = self.get(path).await;
            if status == 200 {
                Ok(body)
            } else {
                Err(format!("{status}: {body}"))
            }
        })
        .await;
        serde_json::from_str(&body).unwrap()
    }
}

impl Drop for ProcessorProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// First verdicts (not revisions) printed, by trace id, over the given console lines.
pub(crate) fn verdicts_printed(lines: &[String]) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for line in lines {
        let Some(value) = json_fields(line) else {
            continue;
        };
        if value.get("target").and_then(|t| t.as_str()) != Some("ironforge::verdict") {
            continue;
        }
        let Some(fields) = value.get("fields") else {
            continue;
        };
        if fields.get("revised").and_then(|r| r.as_bool()) == Some(true) {
            continue;
        }
        if let Some(trace) = fields.get("trace_id").and_then(|t| t.as_str()) {
            *counts.entry(trace.to_owned()).or_insert(0) += 1;
        }
    }
    counts
}
