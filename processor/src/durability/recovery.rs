//! Reading what a previous run left: every generation's name, and the complete one's records.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use crate::model::{SpanRecord, TraceId};
use crate::verdict::TraceVerdict;

use super::frame;
use super::record::{self, Record, ViolationKey};
use super::shard_log::DECISIONS;

const GENERATION_PREFIX: &str = "gen-";

pub(super) fn generation_name(number: u64) -> String {
    format!("{GENERATION_PREFIX}{number:09}")
}

/// The generation directories under `root`, oldest first.
pub(super) fn generations(root: &Path) -> std::io::Result<Vec<(u64, PathBuf)>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(root)? {
        let entry = entry?;
        let name = entry.file_name();
        let number = name
            .to_str()
            .and_then(|name| name.strip_prefix(GENERATION_PREFIX))
            .and_then(|number| number.parse::<u64>().ok());
        if let Some(number) = number {
            found.push((number, entry.path()));
        }
    }
    found.sort();
    Ok(found)
}

/// What the last run left that the engine has to see again.
#[derive(Debug, Default)]
pub struct Recovered {
    /// Spans of traces not decided, in the order each old shard accepted them.
    pub spans: Vec<SpanRecord>,
    /// Verdicts already given (the last for each trace), oldest decision first.
    pub verdicts: Vec<TraceVerdict>,
    /// Violations already emitted on traces not decided.
    pub emitted: Vec<ViolationKey>,
    /// Bytes found past the last good record of a file (a torn write): cut, with a warning.
    pub discarded_bytes: u64,
    /// Damaged records found with good ones after them (the disk, not a crash): skipped, each logged with
    /// its file and offset.
    pub corrupt_records: u64,
}

/// Files of a directory whose names start with `prefix`, sorted by name.
fn files(dir: &Path, prefix: &str) -> std::io::Result<Vec<PathBuf>> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| {
            path.file_name()
                .and_then(|name| name.to_str())
                .is_some_and(|name| name.starts_with(prefix))
        })
        .collect();
    found.sort();
    Ok(found)
}

/// Reads a file's records: a torn tail is cut with a warning; a damaged record with good ones after it is
/// skipped, logged with its offset and counted.
fn records(path: &Path, faults: &mut Recovered) -> std::io::Result<Vec<Record>> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(err),
    };
    let frames = frame::read(&bytes);
    for damage in &frames.damaged {
        tracing::error!(
            file = %path.display(),
            offset = damage.offset,
            bytes = damage.len,
            "write-ahead log: a damaged record in the middle of the file (its checksum fails); it is skipped \
             and the records after it are replayed"
        );
    }
    faults.corrupt_records += frames.damaged.len() as u64;
    let mut records = Vec::with_capacity(frames.payloads.len());
    for payload in frames.payloads {
        match record::read(payload) {
            Some(record) => records.push(record),
            None => {
                let offset = payload.as_ptr() as usize - bytes.as_ptr() as usize;
                tracing::error!(
                    file = %path.display(),
                    offset,
                    "write-ahead log: a record this version cannot read; it is skipped"
                );
                faults.corrupt_records += 1;
            }
        }
    }
    if frames.discarded > 0 {
        tracing::warn!(
            file = %path.display(),
            bytes = frames.discarded,
            "write-ahead log: cut a torn tail (the process stopped mid-write); the rest is replayed"
        );
        faults.discarded_bytes += frames.discarded as u64;
    }
    Ok(records)
}

pub(super) fn read_generation(dir: &Path) -> std::io::Result<Recovered> {
    let mut recovered = Recovered::default();
    let mut verdicts: HashMap<TraceId, TraceVerdict> = HashMap::new();
    let mut decided: HashSet<TraceId> = HashSet::new();
    let mut emitted: Vec<ViolationKey> = Vec::new();
    let mut spans: Vec<SpanRecord> = Vec::new();
    for shard in files(dir, "shard-")? {
        for record in records(&shard.join(DECISIONS), &mut recovered)? {
            match record {
                Record::Verdict(verdict) => {
                    decided.insert(verdict.trace_id);
                    verdicts.insert(verdict.trace_id, *verdict);
                }
                Record::Decided(trace_id) => {
                    decided.insert(trace_id);
                }
                Record::Emitted(key) => emitted.push(key),
                Record::Spans(_) => {}
            }
        }
        for segment in files(&shard, "segment-")? {
            for record in records(&segment, &mut recovered)? {
                if let Record::Spans(batch) = record {
                    spans.extend(batch);
                }
            }
        }
    }
    spans.retain(|span| !decided.contains(&span.trace_id));
    emitted.retain(|key| !decided.contains(&key.trace_id));
    let mut verdicts: Vec<TraceVerdict> = verdicts.into_values().collect();
    verdicts.sort_by_key(|verdict| verdict.decided_unix_nano);
    recovered.spans = spans;
    recovered.verdicts = verdicts;
    recovered.emitted = emitted;
    Ok(recovered)
}
