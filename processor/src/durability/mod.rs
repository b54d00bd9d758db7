//! The write-ahead log: every accepted span is written before its batch is acknowledged, with what was
//! decided on it, so a restart rebuilds the traces in flight and repeats no verdict and no violation.
//!
//! Layout under the data directory: `wal/gen-N/shard-K/segment-*.log` (spans) and `decisions.log`
//! (verdicts and emitted violations). Each start reads the newest complete generation, writes what is still
//! needed into a new one, marks it complete, and deletes the old: a crash at any step leaves one complete
//! generation to start from, and a change in the number of shards is just a new split.

mod codec;
pub(crate) mod events;
mod frame;
mod lock;
mod record;
mod recovery;
mod release;
mod shard_log;

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::telemetry::WalUsage;

pub use lock::DataDirLock;
pub use record::ViolationKey;
pub use recovery::Recovered;
pub use shard_log::ShardLog;

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

/// Why the log could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum WalError {
    #[error(
        "the data directory {path} is in use by another ironforge-processor (its lock file is held); \
         give each processor its own --data-dir"
    )]
    Locked { path: PathBuf },
    #[error("write-ahead log in {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl WalError {
    fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Self + '_ {
        move |source| Self::Io {
            path: path.to_path_buf(),
            source,
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
    usage: std::sync::Arc<WalUsage>,
}

const MARK_COMPLETE: &str = "COMPLETE";

/// Makes a new generation the one a restart reads, and deletes the ones it replaces.
#[derive(Debug)]
pub struct GenerationSwitch {
    generation: PathBuf,
    superseded: Vec<PathBuf>,
}

impl GenerationSwitch {
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
    /// holds the data directory's lock.
    pub fn open(data_dir: &Path, config: WalConfig) -> Result<(Self, Recovered), WalError> {
        let root = data_dir.join("wal");
        std::fs::create_dir_all(&root).map_err(WalError::io(&root))?;
        let generations = recovery::generations(&root).map_err(WalError::io(&root))?;
        let complete = generations
            .iter()
            .rev()
            .find(|(_, dir)| dir.join(MARK_COMPLETE).exists());
        let recovered = match complete {
            Some((_, dir)) => recovery::read_generation(dir).map_err(WalError::io(dir))?,
            None => Recovered::default(),
        };
        let next = generations.last().map_or(1, |(number, _)| number + 1);
        let generation = root.join(recovery::generation_name(next));
        std::fs::create_dir_all(&generation).map_err(WalError::io(&generation))?;
        let usage = std::sync::Arc::new(WalUsage::default());
        usage.replayed(recovered.spans.len() as u64);
        usage.found_corrupt(recovered.corrupt_records);
        Ok((
            Self {
                generation,
                superseded: generations.into_iter().map(|(_, dir)| dir).collect(),
                config,
                usage,
            },
            recovered,
        ))
    }

    /// The log of shard `index` in the new generation.
    pub fn shard_log(&self, index: usize) -> std::io::Result<ShardLog> {
        ShardLog::create(
            self.generation.join(format!("shard-{index:03}")),
            self.config,
            std::sync::Arc::clone(&self.usage),
        )
    }

    /// Called once every shard has written and synced what it recovered: the new generation becomes the
    /// one a restart reads, and the old ones go.
    pub fn recovered(&mut self) -> Result<(), WalError> {
        self.switch().complete()
    }

    /// What [`Wal::recovered`] does, to be done later (on another thread) once every shard could write
    /// what it recovered: the old generations stay until then, so a restart still finds them.
    pub fn switch(&mut self) -> GenerationSwitch {
        GenerationSwitch {
            generation: self.generation.clone(),
            superseded: std::mem::take(&mut self.superseded),
        }
    }

    pub fn config(&self) -> &WalConfig {
        &self.config
    }

    pub fn usage(&self) -> &std::sync::Arc<WalUsage> {
        &self.usage
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::model::{SpanId, SpanRecord, TraceId};
    use crate::verdict::{TraceVerdict, VerdictStatus};
    use shard_log::segment_name;

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
    fn a_restart_reads_back_spans_of_undecided_traces_and_verdicts() {
        let dir = temp_dir("restart");
        let (mut wal, recovered) = Wal::open(&dir, WalConfig::default()).unwrap();
        assert!(recovered.spans.is_empty());
        let mut log = wal.shard_log(0).unwrap();
        wal.recovered().unwrap();
        let undecided = SpanRecord::new(TraceId([1; 16]), SpanId([1; 8]), "session");
        let decided = SpanRecord::new(TraceId([2; 16]), SpanId([2; 8]), "run");
        log.append_spans(&[undecided.clone(), decided]).unwrap();
        log.append_verdict(&verdict(2)).unwrap();
        log.commit().unwrap();
        drop(log);

        let (mut wal, recovered) = Wal::open(&dir, WalConfig::default()).unwrap();
        assert_eq!(recovered.spans, vec![undecided]);
        assert_eq!(recovered.verdicts, vec![verdict(2)]);
        // Until the new generation is marked complete, a restart still reads the old one.
        let (_, again) = Wal::open(&dir, WalConfig::default()).unwrap();
        assert_eq!(again.spans.len(), 1);
        wal.recovered().unwrap();
        let (_, empty) = Wal::open(&dir, WalConfig::default()).unwrap();
        assert!(
            empty.spans.is_empty(),
            "the new generation holds nothing yet"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_segment_is_deleted_once_none_of_its_traces_is_in_flight() {
        let dir = temp_dir("release");
        let config = WalConfig {
            fsync: FsyncPolicy::Batch,
            segment_bytes: 1,
            ..WalConfig::default()
        };
        let (mut wal, _) = Wal::open(&dir, config).unwrap();
        let mut log = wal.shard_log(0).unwrap();
        wal.recovered().unwrap();
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
        let dir = temp_dir("small-cap");
        let config = WalConfig {
            fsync: FsyncPolicy::Batch,
            max_bytes: 64,
            ..WalConfig::default()
        };
        let (mut wal, _) = Wal::open(&dir, config).unwrap();
        let mut log = wal.shard_log(0).unwrap();
        wal.recovered().unwrap();
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
        let dir = temp_dir("damaged");
        let (mut wal, _) = Wal::open(&dir, WalConfig::default()).unwrap();
        let mut log = wal.shard_log(0).unwrap();
        wal.recovered().unwrap();
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

        let (_, recovered) = Wal::open(&dir, WalConfig::default()).unwrap();
        assert_eq!(recovered.spans, vec![spans[0].clone(), spans[2].clone()]);
        assert_eq!(recovered.verdicts, vec![verdict(8)]);
        assert_eq!(recovered.corrupt_records, 2);
        assert_eq!(recovered.discarded_bytes, 0);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_record_that_checks_but_this_version_cannot_read_is_skipped_and_counted() {
        let dir = temp_dir("unreadable");
        let (mut wal, _) = Wal::open(&dir, WalConfig::default()).unwrap();
        let mut log = wal.shard_log(0).unwrap();
        wal.recovered().unwrap();
        log.append_verdict(&verdict(7)).unwrap();
        log.commit().unwrap();
        drop(log);
        // A frame whose checksum holds around a record kind no version writes, then a good one.
        let decisions = wal.generation.join("shard-000").join(shard_log::DECISIONS);
        let mut bytes = Vec::new();
        frame::append(&mut bytes, |out| out.extend_from_slice(&[0xee, 1, 2, 3]));
        bytes.extend(std::fs::read(&decisions).unwrap());
        std::fs::write(&decisions, bytes).unwrap();

        let (_, recovered) = Wal::open(&dir, WalConfig::default()).unwrap();
        assert_eq!(recovered.verdicts, vec![verdict(7)]);
        assert_eq!(recovered.corrupt_records, 1);
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
