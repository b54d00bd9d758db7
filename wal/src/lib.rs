//! The write-ahead log of the IRONFORGE monitor. What it guarantees:
//!
//! - **Nothing acknowledged is lost.** Every batch of accepted spans is written (and, with
//!   [`FsyncPolicy::Batch`], synced) before [`ShardLog::commit`] returns, so a batch is acknowledged only once
//!   a restart can read it back; a batch that cannot be written is cut back out, never half kept.
//! - **Nothing decided is decided again.** Verdicts and emitted violations are logged next to the spans, and a
//!   segment is deleted only once the decisions on all its traces are as durable as its spans were: a restart
//!   replays the spans of the traces still in flight, returns the verdicts already given, and says which
//!   violations were already emitted.
//! - **A crash at any step leaves a log to start from.** Records are framed with their length and a CRC-32: a
//!   torn tail is cut, a damaged record with good ones after it is skipped and reported, and each start writes
//!   a new generation that replaces the old one only once it is complete.
//!
//! Layout under the data directory: `wal/gen-N/shard-K/segment-*.log` (spans) and `decisions.log`
//! (verdicts and emitted violations). Each start reads the newest complete generation, writes what is still
//! needed into a new one, marks it complete, and deletes the old: a change in the number of shards is just a
//! new split.
//!
//! The log keeps its figures in a [`WalUsage`] and reports what a caller cannot see from a return value
//! (damaged records found at a start, failures of the thread that deletes segments) to an [`Observer`]; it
//! logs and counts nothing on its own.
//!
//! ```
//! use std::sync::Arc;
//!
//! use ironforge_engine::model::{SpanId, SpanRecord, TraceId};
//! use ironforge_wal::{Event, Observer, Wal, WalConfig, WalUsage};
//!
//! #[derive(Debug)]
//! struct Quiet;
//!
//! impl Observer for Quiet {
//!     fn observe(&self, _event: Event<'_>, _usage: &WalUsage) {}
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = std::env::temp_dir().join(format!("ironforge-wal-doc-{}", std::process::id()));
//! # let _ = std::fs::remove_dir_all(&dir);
//! let (mut wal, recovered) = Wal::open(&dir, WalConfig::default(), Arc::new(Quiet))?;
//! assert!(recovered.spans.is_empty());
//! let mut log = wal.shard_log(0)?;
//! wal.switch().complete()?;
//! let span = SpanRecord::new(TraceId([1; 16]), SpanId([1; 8]), "session");
//! log.append_spans(std::slice::from_ref(&span))?;
//! log.commit()?; // the batch may now be acknowledged
//! drop((log, wal));
//!
//! // After a crash: the span of the undecided trace comes back.
//! let (_wal, recovered) = Wal::open(&dir, WalConfig::default(), Arc::new(Quiet))?;
//! assert_eq!(recovered.spans, vec![span]);
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok(())
//! # }
//! ```

mod codec;
mod error;
mod frame;
mod lock;
mod observer;
mod record;
mod recovery;
mod release;
mod shard_log;
mod usage;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub use error::{LogError, WalError};
pub use lock::DataDirLock;
pub use observer::{Event, Observer};
pub use record::ViolationKey;
pub use recovery::Recovered;
pub use shard_log::ShardLog;
pub use usage::WalUsage;

/// When accepted spans reach the disk, relative to their acknowledgement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsyncPolicy {
    /// Before the acknowledgement; batches written together share one fsync (group commit).
    Batch,
    /// At most this long after; a killed process loses nothing, a power loss this much.
    Interval(Duration),
    /// Left to the kernel; a killed process loses nothing, a power loss what the kernel had not written.
    None,
}

/// The log's settings, from the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalConfig {
    pub fsync: FsyncPolicy,
    /// Bytes the log may hold; past them batches are refused with a retry hint rather than lost.
    pub max_bytes: u64,
    /// A segment is closed and a new one opened past this many bytes.
    pub segment_bytes: u64,
}

impl WalConfig {
    pub const DEFAULT_MAX_BYTES: u64 = 1024 * 1024 * 1024;
    pub const DEFAULT_SEGMENT_BYTES: u64 = 16 * 1024 * 1024;
}

impl Default for WalConfig {
    fn default() -> Self {
        Self {
            fsync: FsyncPolicy::Batch,
            max_bytes: Self::DEFAULT_MAX_BYTES,
            segment_bytes: Self::DEFAULT_SEGMENT_BYTES,
        }
    }
}

/// The log of one running processor: the generation it writes, and the ones it recovered from until
/// they are replaced.
#[derive(Debug)]
pub struct Wal {
    generation: PathBuf,
    superseded: Vec<PathBuf>,
    config: WalConfig,
    usage: Arc<WalUsage>,
    observer: Arc<dyn Observer>,
}

const MARK_COMPLETE: &str = "COMPLETE";

/// Makes a new generation the one a restart reads, and deletes the ones it replaces.
#[derive(Debug)]
pub struct GenerationSwitch {
    generation: PathBuf,
    superseded: Vec<PathBuf>,
}

impl GenerationSwitch {
    /// Marks the new generation complete (synced, with its directory) and deletes the ones it replaces.
    pub fn complete(self) -> Result<(), WalError> {
        let mark = self.generation.join(MARK_COMPLETE);
        std::fs::File::create(&mark)
            .and_then(|file| file.sync_all())
            .and_then(|()| std::fs::File::open(&self.generation)?.sync_all())
            .map_err(WalError::io(&mark))?;
        for old in self.superseded {
            std::fs::remove_dir_all(&old).map_err(WalError::io(&old))?;
        }
        Ok(())
    }
}

impl Wal {
    /// Reads what the last run left under `data_dir` and opens a new generation to write to. The caller
    /// holds the data directory's lock ([`DataDirLock`]). What reading found damaged goes to `observer`, as
    /// will the failures of the threads that delete decided segments.
    pub fn open(
        data_dir: &Path,
        config: WalConfig,
        observer: Arc<dyn Observer>,
    ) -> Result<(Self, Recovered), WalError> {
        let root = data_dir.join("wal");
        std::fs::create_dir_all(&root).map_err(WalError::io(&root))?;
        let generations = recovery::generations(&root).map_err(WalError::io(&root))?;
        let complete = generations
            .iter()
            .rev()
            .find(|(_, dir)| dir.join(MARK_COMPLETE).exists());
        let usage = Arc::new(WalUsage::default());
        let recovered = match complete {
            Some((_, dir)) => {
                recovery::read_generation(dir, &*observer, &usage).map_err(WalError::io(dir))?
            }
            None => Recovered::default(),
        };
        let next = generations.last().map_or(1, |(number, _)| number + 1);
        let generation = root.join(recovery::generation_name(next));
        std::fs::create_dir_all(&generation).map_err(WalError::io(&generation))?;
        usage.replayed(recovered.spans.len() as u64);
        usage.found_corrupt(recovered.corrupt_records);
        Ok((
            Self {
                generation,
                superseded: generations.into_iter().map(|(_, dir)| dir).collect(),
                config,
                usage,
                observer,
            },
            recovered,
        ))
    }

    /// The log of shard `index` in the new generation.
    pub fn shard_log(&self, index: usize) -> Result<ShardLog, LogError> {
        ShardLog::create(
            self.generation.join(format!("shard-{index:03}")),
            self.config,
            Arc::clone(&self.usage),
            Arc::clone(&self.observer),
        )
    }

    /// Once every shard has written and synced what it recovered, [`GenerationSwitch::complete`] makes the
    /// new generation the one a restart reads, and the old ones go. It may be done later (on another
    /// thread): the old generations stay until then, so a restart still finds them.
    pub fn switch(&mut self) -> GenerationSwitch {
        GenerationSwitch {
            generation: self.generation.clone(),
            superseded: std::mem::take(&mut self.superseded),
        }
    }

    /// The settings the log was opened with.
    pub fn config(&self) -> &WalConfig {
        &self.config
    }

    /// The log's figures, shared by every shard log.
    pub fn usage(&self) -> &Arc<WalUsage> {
        &self.usage
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use ironforge_engine::model::{SpanId, SpanRecord, TraceId};
    use ironforge_engine::verdict::{TraceVerdict, VerdictStatus};
    use shard_log::segment_name;
    use std::sync::Mutex;

    /// Keeps what the log reports, spelled out, for the tests to read.
    #[derive(Debug, Default)]
    struct Recorder(Mutex<Vec<String>>);

    impl Observer for Recorder {
        fn observe(&self, event: Event<'_>, _usage: &WalUsage) {
            let line = match event {
                Event::Failed { what, .. } => format!("failed: {what}"),
                Event::Damaged { offset, bytes, .. } => format!("damaged at {offset}: {bytes}"),
                Event::Unreadable { offset, .. } => format!("unreadable at {offset}"),
                Event::TornTail { bytes, .. } => format!("torn tail: {bytes}"),
            };
            self.0.lock().unwrap().push(line);
        }
    }

    fn open(dir: &Path, config: WalConfig) -> Result<(Wal, Recovered), WalError> {
        Wal::open(dir, config, Arc::new(Recorder::default()))
    }

    impl Wal {
        fn recovered(&mut self) -> Result<(), WalError> {
            self.switch().complete()
        }
    }

    /// The default settings with one changed.
    fn config(change: impl FnOnce(&mut WalConfig)) -> WalConfig {
        let mut config = WalConfig::default();
        change(&mut config);
        config
    }

    /// A log on a new directory (returned, for the test to remove) with one shard, its generation
    /// complete.
    fn started(name: &str, config: WalConfig) -> (PathBuf, Wal, ShardLog) {
        let dir = temp_dir(name);
        let (mut wal, _) = open(&dir, config).unwrap();
        let log = wal.shard_log(0).unwrap();
        wal.recovered().unwrap();
        (dir, wal, log)
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("ironforge-wal-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    fn verdict(trace: u8) -> TraceVerdict {
        TraceVerdict {
            trace_id: TraceId([trace; 16]),
            status: VerdictStatus::Pass,
            production_ready: true,
            violations: Vec::new(),
            violations_over_limit: 0,
            stage_durations: Vec::new(),
            span_count: 1,
            incomplete_reason: None,
            decided_unix_nano: 1,
            service_name: None,
            evicted: false,
            attributes_truncated: 0,
        }
    }

    #[test]
    fn compaction_rewrites_the_decision_file_with_the_newest_verdicts_that_fit_its_budget() {
        // A quarter of 8 MB: room for about twenty of these verdicts, not thirty.
        let (dir, _wal, mut log) = started("compact", config(|c| c.max_bytes = 8_000_000));
        let large = |trace: u8| TraceVerdict {
            incomplete_reason: Some("x".repeat(100_000)),
            decided_unix_nano: u64::from(trace),
            ..verdict(trace)
        };
        let verdicts: Vec<TraceVerdict> = (1..=30).map(large).collect();
        for verdict in &verdicts {
            log.append_verdict(verdict).unwrap();
        }
        log.write_decisions().unwrap();
        let key = ViolationKey {
            trace_id: TraceId([99; 16]),
            fingerprint: 7,
        };
        log.compact(verdicts.iter(), [key].into_iter(), |_| false)
            .unwrap();
        let written = log.usage().bytes();
        assert!(written <= 2_000_000, "{written} bytes kept");
        drop(log);
        let (_, recovered) = open(&dir, WalConfig::default()).unwrap();
        let mut kept: Vec<u8> = recovered.verdicts.iter().map(|v| v.trace_id.0[0]).collect();
        kept.sort_unstable();
        let newest: Vec<u8> = (31 - kept.len() as u8..=30).collect();
        assert!(kept.len() >= 15, "{} verdicts kept", kept.len());
        assert_eq!(kept, newest, "the newest verdicts are the ones kept");
        assert_eq!(recovered.emitted, vec![key]);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn decisions_past_a_mebibyte_are_written_as_they_come_and_read_back_alike() {
        let (dir, _wal, mut log) = started("write-through", WalConfig::default());
        let large = |trace| TraceVerdict {
            incomplete_reason: Some("x".repeat(100_000)),
            ..verdict(trace)
        };
        for trace in 1..=11 {
            log.append_verdict(&large(trace)).unwrap();
        }
        let written = log.usage().bytes();
        assert!(
            written > 1 << 20,
            "{written} bytes written before write_decisions"
        );
        log.append_verdict(&verdict(12)).unwrap();
        log.write_decisions().unwrap();
        drop(log);
        let (_, recovered) = open(&dir, WalConfig::default()).unwrap();
        let mut expected: Vec<TraceVerdict> = (1..=11).map(large).collect();
        expected.push(verdict(12));
        let mut read_back = recovered.verdicts;
        read_back.sort_by_key(|verdict| verdict.trace_id);
        assert!(read_back == expected, "verdicts read back differ");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_restart_reads_back_spans_of_undecided_traces_and_verdicts() {
        let dir = temp_dir("restart");
        let (mut wal, recovered) = open(&dir, WalConfig::default()).unwrap();
        assert!(recovered.spans.is_empty());
        let mut log = wal.shard_log(0).unwrap();
        wal.recovered().unwrap();
        let undecided = SpanRecord::new(TraceId([1; 16]), SpanId([1; 8]), "session");
        let decided = SpanRecord::new(TraceId([2; 16]), SpanId([2; 8]), "run");
        log.append_spans(&[undecided.clone(), decided]).unwrap();
        log.append_verdict(&verdict(2)).unwrap();
        log.commit().unwrap();
        drop(log);

        let (mut wal, recovered) = open(&dir, WalConfig::default()).unwrap();
        assert_eq!(recovered.spans, vec![undecided]);
        assert_eq!(recovered.verdicts, vec![verdict(2)]);
        // Until the new generation is marked complete, a restart still reads the old one.
        let (_, again) = open(&dir, WalConfig::default()).unwrap();
        assert_eq!(again.spans.len(), 1);
        wal.recovered().unwrap();
        let (_, empty) = open(&dir, WalConfig::default()).unwrap();
        assert!(
            empty.spans.is_empty(),
            "the new generation holds nothing yet"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_segment_is_deleted_once_none_of_its_traces_is_in_flight() {
        let (dir, wal, mut log) = started("release", config(|config| config.segment_bytes = 1));
        let segments = |shard: &Path| -> Vec<String> {
            let mut names: Vec<String> = std::fs::read_dir(shard)
                .unwrap()
                .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|name| name.starts_with("segment-"))
                .collect();
            names.sort();
            names
        };
        // One byte per segment: each batch seals its own.
        for trace in [1, 2] {
            let span = SpanRecord::new(TraceId([trace; 16]), SpanId([trace; 8]), "run");
            log.append_spans(&[span]).unwrap();
        }
        log.append_verdict(&verdict(1)).unwrap();
        log.commit().unwrap();
        let shard = wal.generation.join("shard-000");
        assert_eq!(segments(&shard).len(), 3, "two sealed and the active one");
        let held = wal.usage().bytes();

        log.release(|id| *id == TraceId([2; 16])).unwrap();
        log.settle();
        assert_eq!(
            segments(&shard),
            [segment_name(2), segment_name(3)],
            "the segment of the decided trace is gone; the in-flight trace's is kept"
        );
        assert_eq!(wal.usage().segments(), 2);
        assert!(wal.usage().bytes() < held);

        log.release(|_| false).unwrap();
        drop(log);
        assert_eq!(
            segments(&shard),
            [segment_name(3)],
            "a closing log finishes the deletions it was handed"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_cap_below_one_segment_releases_the_active_segment_once_its_traces_are_decided() {
        let (dir, wal, mut log) = started("small-cap", config(|config| config.max_bytes = 64));
        let span = SpanRecord::new(TraceId([1; 16]), SpanId([1; 8]), "run");
        log.append_spans(&[span]).unwrap();
        log.commit().unwrap();
        assert!(wal.usage().bytes() >= 64, "the log is at its cap");

        log.release(|_| true).unwrap();
        log.settle();
        assert!(
            wal.usage().bytes() >= 64,
            "a trace in flight keeps its segment"
        );

        log.release(|_| false).unwrap();
        log.settle();
        assert_eq!(wal.usage().bytes(), 0, "nothing decided is held");
        drop(log);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_damaged_record_in_the_middle_is_skipped_and_counted_and_the_rest_replayed() {
        let (dir, wal, mut log) = started("damaged", WalConfig::default());
        let spans: Vec<SpanRecord> = (1..=3)
            .map(|trace| SpanRecord::new(TraceId([trace; 16]), SpanId([trace; 8]), "run"))
            .collect();
        for span in &spans {
            log.append_spans(std::slice::from_ref(span)).unwrap();
        }
        log.append_verdict(&verdict(7)).unwrap();
        log.append_verdict(&verdict(8)).unwrap();
        log.commit().unwrap();
        drop(log);
        let shard = wal.generation.join("shard-000");
        let flip = |path: PathBuf, at: usize| {
            let mut bytes = std::fs::read(&path).unwrap();
            bytes[at] ^= 0xff;
            std::fs::write(&path, bytes).unwrap();
        };
        let segment = shard.join(segment_name(1));
        let frame = std::fs::metadata(&segment).unwrap().len() as usize / 3;
        flip(segment, frame + frame / 2);
        flip(shard.join(shard_log::DECISIONS), 20);

        let recorder = Arc::new(Recorder::default());
        let (wal, recovered) = Wal::open(&dir, WalConfig::default(), recorder.clone()).unwrap();
        assert_eq!(recovered.spans, vec![spans[0].clone(), spans[2].clone()]);
        assert_eq!(recovered.verdicts, vec![verdict(8)]);
        assert_eq!(recovered.corrupt_records, 2);
        assert_eq!(recovered.discarded_bytes, 0);
        assert_eq!(wal.usage().take_corrupt_records(), 2);
        let reported = recorder.0.lock().unwrap().clone();
        assert_eq!(reported.len(), 2, "{reported:?}");
        assert!(reported.iter().all(|line| line.starts_with("damaged at ")));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_record_that_checks_but_this_version_cannot_read_is_skipped_and_counted() {
        let (dir, wal, mut log) = started("unreadable", WalConfig::default());
        log.append_verdict(&verdict(7)).unwrap();
        log.commit().unwrap();
        drop(log);
        // A frame whose checksum holds around a record kind no version writes, then a good one.
        let decisions = wal.generation.join("shard-000").join(shard_log::DECISIONS);
        let mut bytes = Vec::new();
        frame::append(&mut bytes, |out| out.extend_from_slice(&[0xee, 1, 2, 3]));
        bytes.extend(std::fs::read(&decisions).unwrap());
        std::fs::write(&decisions, bytes).unwrap();

        let recorder = Arc::new(Recorder::default());
        let (_, recovered) = Wal::open(&dir, WalConfig::default(), recorder.clone()).unwrap();
        assert_eq!(recovered.verdicts, vec![verdict(7)]);
        assert_eq!(recovered.corrupt_records, 1);
        assert_eq!(*recorder.0.lock().unwrap(), ["unreadable at 8"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_second_lock_on_one_directory_is_refused() {
        let dir = temp_dir("lock");
        std::fs::create_dir_all(&dir).unwrap();
        let _held = DataDirLock::acquire(&dir).unwrap();
        match DataDirLock::acquire(&dir) {
            Err(WalError::Locked { .. }) => {}
            other => panic!("{other:?}"),
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
