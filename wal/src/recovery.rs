//! Reading what a previous run left: every generation's name, and the complete one's records.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use ironforge_engine::model::{SpanRecord, TraceId};
use ironforge_engine::verdict::TraceVerdict;

use crate::frame;
use crate::observer::{Event, Observer};
use crate::record::{self, Record, ViolationKey};
use crate::shard_log::DECISIONS;
use crate::usage::WalUsage;

const GENERATION_PREFIX: &str = "gen-";

pub(crate) fn generation_name(number: u64) -> String {
    format!("{GENERATION_PREFIX}{number:09}")
}

/// The generation directories under `root`, oldest first.
pub(crate) fn generations(root: &Path) -> std::io::Result<Vec<(u64, PathBuf)>> {
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
    /// Bytes found past the last good record of a file (a torn write): cut, each file reported.
    pub(crate) discarded_bytes: u64,
    /// Damaged records found with good ones after them (the disk, not a crash): skipped, each reported with
    /// its file and offset.
    pub(crate) corrupt_records: u64,
}

/// Where [`records`] reports what it skips or cuts.
struct Report<'a> {
    observer: &'a dyn Observer,
    usage: &'a WalUsage,
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

/// Reads a file's records: a torn tail is cut and reported; a damaged record with good ones after it is
/// skipped, reported with its offset and counted.
fn records(
    path: &Path,
    faults: &mut Recovered,
    report: &Report<'_>,
) -> std::io::Result<Vec<Record>> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(err),
    };
    let frames = frame::read(&bytes);
    for damage in &frames.damaged {
        report.observer.observe(
            Event::Damaged {
                file: path,
                offset: damage.offset,
                bytes: damage.len,
            },
            report.usage,
        );
    }
    faults.corrupt_records += frames.damaged.len() as u64;
    let mut records = Vec::with_capacity(frames.payloads.len());
    for payload in frames.payloads {
        match record::read(payload) {
            Some(record) => records.push(record),
            None => {
                let offset = (payload.as_ptr() as usize).saturating_sub(bytes.as_ptr() as usize);
                report
                    .observer
                    .observe(Event::Unreadable { file: path, offset }, report.usage);
                faults.corrupt_records += 1;
            }
        }
    }
    if frames.discarded > 0 {
        report.observer.observe(
            Event::TornTail {
                file: path,
                bytes: frames.discarded,
            },
            report.usage,
        );
        faults.discarded_bytes += frames.discarded as u64;
    }
    Ok(records)
}

/// Reads the records of the generation in `dir`, reporting what is damaged or cut to `observer`.
pub(crate) fn read_generation(
    dir: &Path,
    observer: &dyn Observer,
    usage: &WalUsage,
) -> std::io::Result<Recovered> {
    let report = Report { observer, usage };
    let mut recovered = Recovered::default();
    let mut verdicts: HashMap<TraceId, TraceVerdict> = HashMap::new();
    let mut decided: HashSet<TraceId> = HashSet::new();
    let mut emitted: Vec<ViolationKey> = Vec::new();
    let mut spans: Vec<SpanRecord> = Vec::new();
    for shard in files(dir, "shard-")? {
        for record in records(&shard.join(DECISIONS), &mut recovered, &report)? {
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
            for record in records(&segment, &mut recovered, &report)? {
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
