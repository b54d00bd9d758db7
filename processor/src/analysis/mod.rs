//! Analysis in the processor: each decided trace is analysed on a thread of its own (critical path,
//! bottlenecks, what-if plan), recorded in the run history under the data directory with the verdict and
//! analysis the API serves for it, and compared with the pipeline's earlier runs (regressions, memory trend).
//! The API reads a run's verdict and analysis back from the history once they are out of memory (a
//! restart, a flood). The engine shards hand traces over a bounded queue
//! and never wait: when analysis falls behind, traces are counted and skipped, never ingest slowed.

pub mod answers;
mod args;
mod events;
mod measures;
mod view;
mod worker;

use std::path::Path;
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, PoisonError, RwLock, RwLockReadGuard};
use std::time::Duration;

use ironforge_analysis::memory::LeakOptions;
use ironforge_analysis::regression::RegressionOptions;
use ironforge_analysis::{AnalysisOptions, Budgets, TraceAnalysis};
use ironforge_engine::model::TraceId;
use ironforge_engine::verdict::TraceVerdict;
use ironforge_engine::{ContractSet, DecidedTrace};
use ironforge_history::{History, HistoryError, HistoryOptions};

pub use args::AnalysisArgs;
pub use measures::{CRITICAL_PATH, MEMORY_PEAK, RUN_DURATION};
pub use view::{AnalysisView, PipelineFindings, Regression};

use events::{AnalysisDropped, HistoryFailed, HistorySetAside};
use ironforge_telemetry::{InternalEvent, Metrics};
use worker::{Command, HistorySource, Worker};

/// Opens the history; one that is damaged (or not a history at all) is moved aside, kept for inspection, and a
/// new one created in its place, so a bad sector costs the record of earlier runs, not the monitoring.
fn open_or_set_aside(options: HistoryOptions, metrics: &Metrics) -> Result<History, HistoryError> {
    let error = match History::open(options.clone()) {
        Err(error @ HistoryError::NotAHistory { .. }) => error,
        opened => return opened,
    };
    let aside = set_aside(&options.path).map_err(|source| HistoryError::Io {
        path: options.path.clone(),
        source,
    })?;
    HistorySetAside {
        error: &error,
        aside: &aside,
        metrics,
    }
    .emit();
    History::open(options)
}

/// Renames the history file, and SQLite's `-wal` and `-shm` files beside it, to `<name>.damaged-<unix seconds>`.
fn set_aside(path: &Path) -> std::io::Result<std::path::PathBuf> {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    let renamed = |suffix: &str| {
        let mut from = path.as_os_str().to_owned();
        from.push(suffix);
        let mut to = from.clone();
        to.push(format!(".damaged-{seconds}"));
        (std::path::PathBuf::from(from), std::path::PathBuf::from(to))
    };
    for suffix in ["-wal", "-shm"] {
        let (from, to) = renamed(suffix);
        match std::fs::rename(&from, &to) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => return Err(error),
            _ => {}
        }
    }
    let (from, to) = renamed("");
    std::fs::rename(from, &to)?;
    Ok(to)
}

/// How long and how much run history is kept (in `DATA_DIR/history.sqlite`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryRetention {
    pub max_age: Duration,
    pub max_bytes: u64,
    /// Runs kept, the newest by decided time.
    pub max_runs: u64,
}

impl Default for HistoryRetention {
    fn default() -> Self {
        let defaults = HistoryOptions::default();
        Self {
            max_age: defaults.max_age,
            max_bytes: defaults.max_bytes,
            max_runs: defaults.max_runs,
        }
    }
}

/// How the processor analyses decided traces.
#[derive(Debug, Clone, PartialEq)]
pub struct AnalysisConfig {
    /// The run history's bounds; `None` keeps no history (no regressions, no memory trend across runs).
    pub history: Option<HistoryRetention>,
    /// Runs per pipeline the bottlenecks are ranked over.
    pub bottleneck_runs: usize,
    /// Recent runs whose whole analysis `/api/v1/analysis/traces/{id}` answers with.
    pub traces_kept: usize,
    /// Runs of each measure's history searched for change points.
    pub regression_runs: usize,
    pub regression: RegressionOptions,
    pub leak: LeakOptions,
    pub trace: AnalysisOptions,
    /// Decided traces waiting for analysis before more are skipped.
    pub queue: usize,
}

impl Default for AnalysisConfig {
    fn default() -> Self {
        Self {
            history: Some(HistoryRetention::default()),
            bottleneck_runs: 50,
            traces_kept: 64,
            regression_runs: 200,
            regression: RegressionOptions::default(),
            leak: LeakOptions::default(),
            trace: AnalysisOptions::default(),
            queue: 1024,
        }
    }
}

/// The handle the monitor holds: hands decided traces to the analysis thread, and reads what it found.
#[derive(Debug)]
pub struct Analyst {
    commands: SyncSender<Command>,
    view: Arc<RwLock<AnalysisView>>,
    metrics: Arc<Metrics>,
    /// The history the worker writes, when kept: read here, through a connection of the readers' own.
    history: Option<HistoryOptions>,
    reader: Mutex<Option<History>>,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Command::Analyse(_) => "Analyse",
            Command::Contracts(_) => "Contracts",
            Command::Revised(_) => "Revised",
            Command::Flush(_) => "Flush",
        })
    }
}

impl Analyst {
    /// Opens the history in `data_dir` (when configured) and starts the analysis thread.
    ///
    /// # Errors
    /// When the history's file is there but cannot be opened as a run history, or the thread cannot start.
    pub fn start(
        config: AnalysisConfig,
        data_dir: &Path,
        contracts: Arc<ContractSet>,
        metrics: Arc<Metrics>,
    ) -> Result<Self, AnalysisError> {
        let history_options = config.history.map(|retention| HistoryOptions {
            max_age: retention.max_age,
            max_bytes: retention.max_bytes,
            max_runs: retention.max_runs,
            ..HistoryOptions::in_dir(data_dir)
        });
        let history = history_options
            .clone()
            .map(|options| {
                // A file that is there is opened now, so that one a newer build wrote stops the start; a
                // new one is created on the thread, keeping its fsyncs out of the time to ready.
                if options.path.exists() {
                    open_or_set_aside(options, &metrics).map(HistorySource::Opened)
                } else {
                    Ok(HistorySource::ToCreate(options))
                }
            })
            .transpose()?;
        let view = Arc::new(RwLock::new(AnalysisView::new(
            config.traces_kept,
            Budgets::from_contracts(&contracts),
            config.trace,
        )));
        let (commands, inbox) = mpsc::sync_channel(config.queue.max(1));
        let worker = Worker::new(
            config,
            contracts,
            history,
            Arc::clone(&view),
            Arc::clone(&metrics),
        );
        // Detached: it ends when the last sender (this handle) is dropped, after the traces queued before.
        std::thread::Builder::new()
            .name("ironforge-analysis".to_owned())
            .spawn(move || worker.run(inbox))
            .map_err(AnalysisError::Thread)?;
        Ok(Self {
            commands,
            view,
            metrics,
            history: history_options,
            reader: Mutex::new(None),
        })
    }

    /// Queues a decided trace; skips it (and counts it) when the queue is full.
    pub fn submit(&self, trace: Box<DecidedTrace>) {
        match self.commands.try_send(Command::Analyse(trace)) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                AnalysisDropped {
                    metrics: &self.metrics,
                }
                .emit();
            }
        }
    }

    /// Keeps a revised verdict in the history in place of the one its run was recorded with. Skipped when
    /// the queue is full: the revision is still served from memory while the engine keeps it.
    pub fn revise(&self, verdict: &TraceVerdict) {
        if self.history.is_some() {
            let _ = self
                .commands
                .try_send(Command::Revised(Box::new(verdict.clone())));
        }
    }

    /// The verdict of a run the analysis has seen, as it was served: from the
    /// recent runs it keeps, which cover the moment before a run reaches the history, else from the history;
    /// `None` when neither has it.
    pub fn stored_verdict(&self, trace_id: &TraceId) -> Option<TraceVerdict> {
        if let Some(verdict) = self.view().verdict(trace_id) {
            return Some(verdict);
        }
        let json = self.read_history("read a verdict", |history| history.verdict(&trace_id.0))?;
        serde_json::from_str(&json).ok()
    }

    /// The analysis the history kept for `trace_id`, as it was served; `None` without a
    /// history, or when it has no such run.
    pub fn stored_analysis(&self, trace_id: &TraceId) -> Option<TraceAnalysis> {
        let json =
            self.read_history("read an analysis", |history| history.analysis(&trace_id.0))?;
        serde_json::from_str(&json).ok()
    }

    /// Runs `read` on the readers' connection, opened at the first read that finds the file (the worker
    /// creates it); a failure is counted and logged, and reads as nothing found.
    fn read_history(
        &self,
        what: &'static str,
        read: impl FnOnce(&History) -> Result<Option<String>, HistoryError>,
    ) -> Option<String> {
        let options = self.history.as_ref()?;
        let mut reader = self.reader.lock().unwrap_or_else(PoisonError::into_inner);
        if reader.is_none() {
            if !options.path.exists() {
                return None;
            }
            match History::open(options.clone()) {
                Ok(history) => *reader = Some(history),
                Err(error) => {
                    HistoryFailed {
                        what: "open the run history for reading",
                        error: &error,
                        metrics: &self.metrics,
                    }
                    .emit();
                    return None;
                }
            }
        }
        match read(reader.as_ref()?) {
            Ok(found) => found,
            Err(error) => {
                HistoryFailed {
                    what,
                    error: &error,
                    metrics: &self.metrics,
                }
                .emit();
                None
            }
        }
    }

    /// Budgets and directions follow the new contracts from the next trace.
    pub fn set_contracts(&self, contracts: Arc<ContractSet>) {
        let _ = self.commands.send(Command::Contracts(contracts));
    }

    /// Waits until every trace queued before the call is analysed: for a graceful shutdown, and for tests.
    pub fn flush(&self) {
        let (done, wait) = mpsc::sync_channel(1);
        if self.commands.send(Command::Flush(done)).is_ok() {
            let _ = wait.recv();
        }
    }

    pub fn view(&self) -> RwLockReadGuard<'_, AnalysisView> {
        self.view.read().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Why analysis could not start.
#[derive(Debug, thiserror::Error)]
pub enum AnalysisError {
    #[error(transparent)]
    History(#[from] HistoryError),
    #[error("cannot start the analysis thread: {0}")]
    Thread(std::io::Error),
}
