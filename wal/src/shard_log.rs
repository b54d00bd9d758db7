//! One shard's part of the log: segments of accepted spans, and a file of the decisions taken on them.
//!
//! Spans are written to the kernel before their batch is acknowledged (a killed process loses nothing),
//! and flushed to the disk as the fsync policy says. A segment is deleted once every trace with spans in it
//! has left the engine and its decision is as durable as the spans were.

use std::collections::{HashSet, VecDeque};
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ironforge_engine::model::{SpanRecord, TraceId};
use ironforge_engine::verdict::TraceVerdict;

use crate::observer::Observer;
use crate::record::{ViolationKey, put_decided, put_emitted, put_spans, put_verdict};

/// Pending decisions are written once they reach this size: a few hundred verdicts of a run each.
const WRITE_DECISIONS_AT: usize = 1 << 20;
use crate::release::{Release, Releaser};
use crate::usage::WalUsage;
use crate::{FsyncPolicy, LogError, WalConfig, frame};

pub(crate) const DECISIONS: &str = "decisions.log";
const DECISIONS_TMP: &str = "decisions.tmp";
/// The decision file is rewritten from what is still needed once it has grown past this, and twice what
/// it held after its last rewrite.
const COMPACT_AT_LEAST: u64 = 8 * 1024 * 1024;
/// With the log near its cap, the decision file is rewritten once it has grown by this much (or an eighth of
/// the cap, when less).
const COMPACT_UNDER_PRESSURE: u64 = 64 * 1024;

pub(crate) fn segment_name(seq: u64) -> String {
    format!("segment-{seq:012}.log")
}

#[derive(Debug)]
struct Segment {
    path: PathBuf,
    bytes: u64,
    /// Every trace with spans here: the segment goes once none of them is in flight.
    traces: HashSet<TraceId>,
}

/// One shard's part of the log: what its worker writes, commits, syncs and releases.
#[derive(Debug)]
pub struct ShardLog {
    dir: PathBuf,
    config: WalConfig,
    sealed: VecDeque<Segment>,
    active: Segment,
    active_file: File,
    next_seq: u64,
    decisions: File,
    decisions_bytes: u64,
    compacted_bytes: u64,
    buf: Vec<u8>,
    /// Decision records appended and not yet written.
    pending: Vec<u8>,
    unsynced: bool,
    last_sync: Instant,
    usage: Arc<WalUsage>,
    releaser: Releaser,
}

fn append_file(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

/// Makes a file's creation or rename in `dir` durable.
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

impl ShardLog {
    pub(crate) fn create(
        dir: PathBuf,
        config: WalConfig,
        usage: Arc<WalUsage>,
        observer: Arc<dyn Observer>,
    ) -> Result<Self, LogError> {
        std::fs::create_dir_all(&dir)?;
        let path = dir.join(segment_name(1));
        let active_file = append_file(&path)?;
        let decisions = append_file(&dir.join(DECISIONS))?;
        sync_dir(&dir)?;
        usage.segment_opened();
        let name = dir
            .file_name()
            .map_or_else(String::new, |name| name.to_string_lossy().into_owned());
        let releaser = Releaser::start(
            format!("ironforge-wal-release-{name}"),
            Arc::clone(&usage),
            observer,
        )?;
        Ok(Self {
            active: Segment {
                path,
                bytes: 0,
                traces: HashSet::new(),
            },
            dir,
            config,
            sealed: VecDeque::new(),
            active_file,
            next_seq: 2,
            decisions,
            decisions_bytes: 0,
            compacted_bytes: 0,
            buf: Vec::new(),
            pending: Vec::new(),
            unsynced: false,
            last_sync: Instant::now(),
            usage,
            releaser,
        })
    }

    /// Empties the log before what the last run left is written to it, so that an attempt a full disk cut
    /// short leaves nothing behind: the segments go, the decision file is cut to nothing, and what was
    /// appended and not written is dropped.
    pub fn reset(&mut self) -> Result<(), LogError> {
        self.releaser.settle();
        for segment in self.sealed.drain(..) {
            match std::fs::remove_file(&segment.path) {
                Err(err) if err.kind() != std::io::ErrorKind::NotFound => return Err(err.into()),
                _ => self.usage.segment_removed(segment.bytes),
            }
        }
        self.active_file.set_len(0)?;
        self.usage.remove_bytes(self.active.bytes);
        self.active.bytes = 0;
        self.active.traces.clear();
        self.decisions.set_len(0)?;
        self.usage.remove_bytes(self.decisions_bytes);
        self.decisions_bytes = 0;
        self.compacted_bytes = 0;
        self.pending.clear();
        self.unsynced = true;
        Ok(())
    }

    /// Writes a batch of spans. On an error the segment is cut back to before the batch, so the batch is
    /// neither acknowledged nor half kept.
    pub fn append_spans(&mut self, spans: &[SpanRecord]) -> Result<(), LogError> {
        self.buf.clear();
        frame::append(&mut self.buf, |out| put_spans(out, spans));
        if let Err(err) = self.active_file.write_all(&self.buf) {
            let _ = self.active_file.set_len(self.active.bytes);
            return Err(err.into());
        }
        let written = self.buf.len() as u64;
        self.active.bytes += written;
        self.usage.add_bytes(written);
        self.unsynced = true;
        self.active
            .traces
            .extend(spans.iter().map(|span| span.trace_id));
        if self.active.bytes >= self.config.segment_bytes {
            self.rotate()?;
        }
        Ok(())
    }

    fn rotate(&mut self) -> std::io::Result<()> {
        if self.config.fsync != FsyncPolicy::None {
            self.active_file.sync_data()?;
        }
        let path = self.dir.join(segment_name(self.next_seq));
        let file = append_file(&path)?;
        self.next_seq += 1;
        self.active_file = file;
        let sealed = std::mem::replace(
            &mut self.active,
            Segment {
                path,
                bytes: 0,
                traces: HashSet::new(),
            },
        );
        self.sealed.push_back(sealed);
        self.usage.segment_opened();
        Ok(())
    }

    /// Adds a verdict to the decisions to write (see [`ShardLog::write_decisions`]); writes what is pending
    /// once it reaches a mebibyte, so that a batch that decides many traces with many violations
    /// each (a flood evicted at once) never holds them all in one buffer.
    pub fn append_verdict(&mut self, verdict: &TraceVerdict) -> Result<(), LogError> {
        let before = self.pending.len();
        let mut failed = None;
        frame::append(&mut self.pending, |out| {
            failed = put_verdict(out, verdict).err();
        });
        match failed {
            Some(err) => {
                self.pending.truncate(before);
                Err(err.into())
            }
            None if self.pending.len() >= WRITE_DECISIONS_AT => self.write_decisions(),
            None => Ok(()),
        }
    }

    /// Adds an emitted violation to the decisions to write (see [`ShardLog::write_decisions`]).
    pub fn append_emitted(&mut self, key: &ViolationKey) {
        frame::append(&mut self.pending, |out| put_emitted(out, key));
    }

    /// Drops the decisions appended and not yet written.
    pub fn discard_pending(&mut self) {
        self.pending.clear();
    }

    /// Writes the decisions appended since the last call with one `write`: a verdict comes with a few
    /// dozen violations, and a record each cost a system call each.
    pub fn write_decisions(&mut self) -> Result<(), LogError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let written = self.decisions.write_all(&self.pending);
        let bytes = self.pending.len() as u64;
        self.pending.clear();
        // One verdict past the mark may have grown the buffer (its size follows
        // `max_violations_per_trace`): it is not kept at that size.
        self.pending.shrink_to(2 * WRITE_DECISIONS_AT);
        written?;
        self.decisions_bytes += bytes;
        self.usage.add_bytes(bytes);
        self.unsynced = true;
        Ok(())
    }

    /// Makes what was written durable as the policy asks before a batch is acknowledged: now for `batch`
    /// (once for every batch written since the last commit), later or never for the others.
    pub fn commit(&mut self) -> Result<(), LogError> {
        match self.config.fsync {
            FsyncPolicy::Batch => self.sync(),
            FsyncPolicy::Interval(_) | FsyncPolicy::None => Ok(()),
        }
    }

    /// For the `interval` policy: syncs when the interval has passed since the last sync.
    pub fn sync_if_due(&mut self) -> Result<(), LogError> {
        match self.config.fsync {
            FsyncPolicy::Interval(every) if self.last_sync.elapsed() >= every => self.sync(),
            _ => Ok(()),
        }
    }

    /// How long the worker may sleep before `sync_if_due` has work.
    pub fn sync_interval(&self) -> Option<Duration> {
        match self.config.fsync {
            FsyncPolicy::Interval(every) => Some(every),
            FsyncPolicy::Batch | FsyncPolicy::None => None,
        }
    }

    /// Flushes everything written to the disk, whatever the policy: on shutdown and after recovery.
    pub fn sync(&mut self) -> Result<(), LogError> {
        self.write_decisions()?;
        if self.unsynced {
            let started = Instant::now();
            self.active_file.sync_data()?;
            self.decisions.sync_data()?;
            self.usage.synced(started.elapsed());
            self.unsynced = false;
        }
        self.last_sync = Instant::now();
        Ok(())
    }

    /// Hands the sealed segments none of whose traces is still in flight to the releasing thread, which
    /// makes their decisions as durable as the policy makes anything and then deletes them, so a crash never
    /// finds spans gone and decisions missing.
    ///
    /// Past half the log's cap, the active segment is sealed at every call (about once a second), so that
    /// a segment holds a second of traces and goes as soon as they are decided: a cap smaller than a
    /// segment would otherwise keep a whole segment for one trace in flight and refuse every batch, the
    /// missing root of that trace included.
    pub fn release(&mut self, in_flight: impl Fn(&TraceId) -> bool) -> Result<(), LogError> {
        let done = |segment: &Segment| !segment.traces.iter().any(&in_flight);
        if self.active.bytes > 0 && self.usage.bytes() >= self.config.max_bytes / 2 {
            self.rotate()?;
        }
        if !self.sealed.iter().any(done) {
            return Ok(());
        }
        self.write_decisions()?;
        let decisions = match self.config.fsync {
            FsyncPolicy::None => None,
            FsyncPolicy::Batch | FsyncPolicy::Interval(_) => Some(self.decisions.try_clone()?),
        };
        let (released, kept): (VecDeque<Segment>, VecDeque<Segment>) =
            self.sealed.drain(..).partition(done);
        self.sealed = kept;
        let segments = released
            .into_iter()
            .map(|segment| (segment.path, segment.bytes))
            .collect();
        self.releaser.release(Release {
            decisions,
            segments,
        });
        Ok(())
    }

    /// Waits until every segment released so far is deleted.
    pub fn settle(&self) {
        self.releaser.settle();
    }

    /// The log's figures (shared by every shard).
    pub fn usage(&self) -> &WalUsage {
        &self.usage
    }

    /// Whether the decision file has grown enough to be rewritten: past 8 MiB and twice its last rewrite,
    /// or, with the log past half its cap, by an eighth of the cap (at most 64 KiB) since the last rewrite;
    /// otherwise a cap smaller than 8 MiB would fill with decisions and refuse every batch for good.
    pub fn wants_compaction(&self) -> bool {
        let grown = self.decisions_bytes > COMPACT_AT_LEAST.max(2 * self.compacted_bytes);
        let pressed = self.usage.bytes() >= self.config.max_bytes / 2
            && self.decisions_bytes
                >= self.compacted_bytes + (self.config.max_bytes / 8).min(COMPACT_UNDER_PRESSURE);
        grown || pressed
    }

    /// Rewrites the decision file with only what a restart still needs: the verdicts kept for the API
    /// (newest first, within a quarter of the log's cap: older ones are then not answered after a restart),
    /// the traces decided whose spans are still logged (so a replay skips them), and the violations emitted
    /// on traces still in flight. Written aside and renamed over, so a crash leaves the old file or the new.
    pub fn compact<'a>(
        &mut self,
        verdicts: impl Iterator<Item = &'a TraceVerdict>,
        emitted: impl Iterator<Item = ViolationKey>,
        in_flight: impl Fn(&TraceId) -> bool,
    ) -> Result<(), LogError> {
        self.write_decisions()?;
        // Written frame by frame: the file may hold a quarter of `max_bytes`, far more than is worth holding
        // in memory at once.
        let tmp = self.dir.join(DECISIONS_TMP);
        let mut out = Compacted {
            file: BufWriter::new(File::create(&tmp)?),
            frame: Vec::new(),
            bytes: 0,
        };
        let mut kept = HashSet::new();
        let mut verdicts: Vec<&TraceVerdict> = verdicts.collect();
        verdicts.sort_by_key(|verdict| std::cmp::Reverse(verdict.decided_unix_nano));
        let budget = usize::try_from(self.config.max_bytes / 4).unwrap_or(usize::MAX);
        for verdict in verdicts {
            out.encode(|o| {
                let _ = put_verdict(o, verdict);
            });
            if out.bytes + out.frame.len() > budget {
                break;
            }
            out.write()?;
            kept.insert(verdict.trace_id);
        }
        let logged = self.sealed.iter().chain([&self.active]);
        let decided: HashSet<&TraceId> = logged
            .flat_map(|segment| &segment.traces)
            .filter(|id| !kept.contains(*id) && !in_flight(id))
            .collect();
        for trace_id in decided {
            out.encode(|o| put_decided(o, trace_id));
            out.write()?;
        }
        for key in emitted {
            out.encode(|o| put_emitted(o, &key));
            out.write()?;
        }
        let new_bytes = out.bytes as u64;
        out.file
            .into_inner()
            .map_err(|err| err.into_error())?
            .sync_data()?;
        let path = self.dir.join(DECISIONS);
        std::fs::rename(&tmp, &path)?;
        sync_dir(&self.dir)?;
        self.decisions = append_file(&path)?;
        self.usage.remove_bytes(self.decisions_bytes);
        self.usage.add_bytes(new_bytes);
        self.decisions_bytes = new_bytes;
        self.compacted_bytes = new_bytes;
        Ok(())
    }
}

/// The decision file being rewritten by [`ShardLog::compact`]: one frame encoded at a time.
struct Compacted {
    file: BufWriter<File>,
    frame: Vec<u8>,
    /// Bytes written so far.
    bytes: usize,
}

impl Compacted {
    /// Encodes the next frame, not yet written.
    fn encode(&mut self, encode: impl FnOnce(&mut Vec<u8>)) {
        self.frame.clear();
        frame::append(&mut self.frame, encode);
    }

    /// Writes the frame last encoded.
    fn write(&mut self) -> std::io::Result<()> {
        self.file.write_all(&self.frame)?;
        self.bytes += self.frame.len();
        Ok(())
    }
}
