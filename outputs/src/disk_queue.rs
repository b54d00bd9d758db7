//! A bounded first-in first-out queue of records on disk, for an output that must not lose what it was given
//! while its downstream is away, nor when the processor stops or crashes before delivering it.
//!
//! The directory holds segment files (`00000000000000000001.seg`, …) appended to in order, and `head`, the
//! position of the first record not yet acknowledged. A record is its payload's length (u32, little endian), the
//! CRC-32 of the payload (u32, little endian), then the payload. Each record goes to the file in one `write`, so a
//! crash of the process leaves it whole in the page cache; a crash of the machine can leave a torn record at the
//! tail, which [`DiskQueue::open`] finds by its length or checksum and cuts off. `head` is replaced by a rename,
//! so it is always one whole position: at worst an old one, and the records after it are delivered again.
//!
//! The bound counts the bytes of records not yet acknowledged; a record that would pass it is refused, so the
//! queue keeps the oldest records and their order. Acknowledged bytes stay on disk until their segment is wholly
//! acknowledged, so the directory holds at most the bound plus one segment.

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, ErrorKind, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Bytes before each payload: its length and its CRC-32.
const HEADER_BYTES: u64 = 8;
/// Largest segment file; a queue with a smaller bound uses an eighth of its bound.
const MAX_SEGMENT_BYTES: u64 = 8 * 1024 * 1024;
/// Smallest segment file, so a tiny bound still writes several records per file.
const MIN_SEGMENT_BYTES: u64 = 4096;
const SEGMENT_SUFFIX: &str = ".seg";
const HEAD_FILE: &str = "head";
const HEAD_TMP_FILE: &str = "head.tmp";

/// Why a record was not queued.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PushError {
    #[error("the queue holds {queued} of its {max} bytes; a record of {record} bytes does not fit")]
    Full { queued: u64, record: u64, max: u64 },
    #[error("writing to the queue failed: {0}")]
    Io(#[from] io::Error),
}

/// What opening a queue found on disk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Recovered {
    /// Records waiting from an earlier run.
    pub records: u64,
    /// Bytes cut from segments whose tail was torn or corrupt.
    pub truncated_bytes: u64,
}

/// The oldest records not yet acknowledged, read from one segment.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    pub records: Vec<Vec<u8>>,
    /// The bytes the records take on disk, headers included.
    pub bytes: u64,
    /// Where the head moves once the batch is acknowledged.
    end: u64,
}

#[derive(Debug, Clone, Copy)]
struct Segment {
    id: u64,
    /// Bytes of whole records.
    len: u64,
    records: u64,
}

/// The queue. Not shared by itself: callers hold it behind a lock.
#[derive(Debug)]
pub(crate) struct DiskQueue {
    dir: PathBuf,
    max_bytes: u64,
    segment_bytes: u64,
    /// Oldest first; the last one is appended to.
    segments: VecDeque<Segment>,
    writer: File,
    /// Offset in the first segment of the first record not yet acknowledged, and the records before it there.
    head_offset: u64,
    head_records: u64,
    queued_records: u64,
    queued_bytes: u64,
}

impl DiskQueue {
    /// Opens the queue in `dir` (created if missing), cutting torn tails, and positions it after the records an
    /// earlier run saw acknowledged.
    pub(crate) fn open(dir: &Path, max_bytes: u64) -> io::Result<(Self, Recovered)> {
        fs::create_dir_all(dir)?;
        let mut ids = segment_ids(dir)?;
        ids.sort_unstable();
        let (head_id, head_offset) = read_head(dir).unwrap_or((0, 0));
        let mut recovered = Recovered::default();
        let mut segments = VecDeque::new();
        let mut head_boundaries = Vec::new();
        for id in ids {
            let path = segment_path(dir, id);
            if id < head_id {
                // Wholly acknowledged before the last stop; its removal was cut short.
                fs::remove_file(&path)?;
                continue;
            }
            let scan = scan(&path)?;
            if scan.file_len > scan.len {
                OpenOptions::new()
                    .write(true)
                    .open(&path)?
                    .set_len(scan.len)?;
                recovered.truncated_bytes += scan.file_len - scan.len;
            }
            segments.push_back(Segment {
                id,
                len: scan.len,
                records: scan.boundaries.len() as u64,
            });
            if id == head_id {
                head_boundaries = scan.boundaries;
            }
        }
        // The head counts only inside the segment it names, and only at a record boundary; otherwise the
        // queue starts at its oldest record and delivers some again rather than skip any.
        let at_head = segments.front().is_some_and(|first| first.id == head_id);
        let (head_offset, head_records) =
            match head_boundaries.iter().position(|end| *end == head_offset) {
                Some(index) if at_head => (head_offset, index as u64 + 1),
                _ => (0, 0),
            };
        if segments.is_empty() {
            let id = head_id.max(1);
            File::create(segment_path(dir, id))?;
            segments.push_back(Segment {
                id,
                len: 0,
                records: 0,
            });
        }
        let last = segments.back().map_or(1, |s| s.id);
        let writer = OpenOptions::new()
            .append(true)
            .open(segment_path(dir, last))?;
        let queued_records = segments.iter().map(|s| s.records).sum::<u64>() - head_records;
        let queued_bytes = segments.iter().map(|s| s.len).sum::<u64>() - head_offset;
        recovered.records = queued_records;
        let queue = Self {
            dir: dir.to_owned(),
            max_bytes,
            segment_bytes: (max_bytes / 8).clamp(MIN_SEGMENT_BYTES, MAX_SEGMENT_BYTES),
            segments,
            writer,
            head_offset,
            head_records,
            queued_records,
            queued_bytes,
        };
        Ok((queue, recovered))
    }

    pub(crate) fn queued_records(&self) -> u64 {
        self.queued_records
    }

    pub(crate) fn queued_bytes(&self) -> u64 {
        self.queued_bytes
    }

    pub(crate) fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// Appends a record, unless it would take the queue past its bound.
    pub(crate) fn push(&mut self, payload: &[u8]) -> Result<(), PushError> {
        let record = HEADER_BYTES + payload.len() as u64;
        let length = u32::try_from(payload.len()).ok();
        match length {
            Some(length) if self.queued_bytes + record <= self.max_bytes => {
                self.append(length, payload)
            }
            _ => Err(PushError::Full {
                queued: self.queued_bytes,
                record,
                max: self.max_bytes,
            }),
        }
    }

    fn append(&mut self, length: u32, payload: &[u8]) -> Result<(), PushError> {
        let mut bytes = Vec::with_capacity(payload.len() + HEADER_BYTES as usize);
        bytes.extend_from_slice(&length.to_le_bytes());
        bytes.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
        bytes.extend_from_slice(payload);
        let Some(last) = self.segments.back_mut() else {
            return Err(PushError::Io(io::Error::other("the queue has no segment")));
        };
        if let Err(err) = self.writer.write_all(&bytes) {
            // A partial write (a full disk) must not stay as a torn record in the middle of the segment.
            let _ = self.writer.set_len(last.len);
            return Err(err.into());
        }
        last.len += bytes.len() as u64;
        last.records += 1;
        self.queued_records += 1;
        self.queued_bytes += bytes.len() as u64;
        if last.len >= self.segment_bytes {
            // The record is queued already; a segment that cannot be started now is tried again at the next
            // append, whose own write reports a failing disk.
            let _ = self.roll();
        }
        Ok(())
    }

    /// Starts a new segment; the full one is only read from now on.
    fn roll(&mut self) -> io::Result<()> {
        let id = self.segments.back().map_or(1, |s| s.id + 1);
        self.writer.sync_data()?;
        let writer = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(segment_path(&self.dir, id))?;
        self.writer = writer;
        self.segments.push_back(Segment {
            id,
            len: 0,
            records: 0,
        });
        Ok(())
    }

    /// Makes what was appended durable against a crash of the machine, not only of the process.
    pub(crate) fn sync(&self) -> io::Result<()> {
        self.writer.sync_data()
    }

    /// Up to `max_records` of the oldest records not yet acknowledged, all from one segment, without removing
    /// them. A record found corrupt ends the batch; [`skip_corrupt`](Self::skip_corrupt) then gets past it.
    pub(crate) fn peek(&mut self, max_records: usize) -> io::Result<Batch> {
        self.drop_finished_segments()?;
        let Some(first) = self.segments.front().copied() else {
            return Ok(Batch::default());
        };
        let mut batch = Batch {
            end: self.head_offset,
            ..Batch::default()
        };
        if self.head_offset >= first.len {
            return Ok(batch);
        }
        let mut file = File::open(segment_path(&self.dir, first.id))?;
        file.seek(SeekFrom::Start(self.head_offset))?;
        let mut reader = BufReader::new(file.take(first.len - self.head_offset));
        while batch.records.len() < max_records {
            match read_record(&mut reader)? {
                Some(payload) => {
                    let bytes = HEADER_BYTES + payload.len() as u64;
                    batch.bytes += bytes;
                    batch.end += bytes;
                    batch.records.push(payload);
                }
                None => break,
            }
        }
        Ok(batch)
    }

    /// Removes a batch [`peek`](Self::peek) returned, once the downstream acknowledged (or refused) it.
    pub(crate) fn ack(&mut self, batch: &Batch) -> io::Result<()> {
        let count = batch.records.len() as u64;
        self.head_offset = batch.end;
        self.head_records += count;
        self.queued_records = self.queued_records.saturating_sub(count);
        self.queued_bytes = self.queued_bytes.saturating_sub(batch.bytes);
        self.drop_finished_segments()?;
        self.write_head()
    }

    /// Whether the first unacknowledged record cannot be read: `peek` returned nothing though records wait.
    pub(crate) fn stuck(&self, peeked: &Batch) -> bool {
        peeked.records.is_empty() && self.queued_records > 0
    }

    /// Gives up the rest of the first segment, which holds a record that cannot be read. Returns the records
    /// lost.
    pub(crate) fn skip_corrupt(&mut self) -> io::Result<u64> {
        let Some(first) = self.segments.front().copied() else {
            return Ok(0);
        };
        let lost = first.records.saturating_sub(self.head_records);
        self.queued_records = self.queued_records.saturating_sub(lost);
        self.queued_bytes = self
            .queued_bytes
            .saturating_sub(first.len.saturating_sub(self.head_offset));
        self.head_offset = first.len;
        self.head_records = first.records;
        if self.segments.len() == 1 {
            self.roll()?;
        }
        self.drop_finished_segments()?;
        self.write_head()?;
        Ok(lost)
    }

    /// Deletes the leading segments every record of which was acknowledged, except the one being written.
    fn drop_finished_segments(&mut self) -> io::Result<()> {
        while self.segments.len() > 1
            && let Some(first) = self.segments.front().copied()
            && self.head_offset >= first.len
        {
            self.segments.pop_front();
            self.head_offset = 0;
            self.head_records = 0;
            // The head names the next segment before the finished one goes, so a crash in between leaves a
            // file that `open` removes, never a head inside a missing file.
            self.write_head()?;
            fs::remove_file(segment_path(&self.dir, first.id))?;
        }
        Ok(())
    }

    fn write_head(&self) -> io::Result<()> {
        let id = self.segments.front().map_or(1, |s| s.id);
        let mut bytes = Vec::with_capacity(20);
        bytes.extend_from_slice(&id.to_le_bytes());
        bytes.extend_from_slice(&self.head_offset.to_le_bytes());
        let crc = crc32fast::hash(&bytes);
        bytes.extend_from_slice(&crc.to_le_bytes());
        let tmp = self.dir.join(HEAD_TMP_FILE);
        fs::write(&tmp, &bytes)?;
        fs::rename(&tmp, self.dir.join(HEAD_FILE))
    }
}

fn segment_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("{id:020}{SEGMENT_SUFFIX}"))
}

fn segment_ids(dir: &Path) -> io::Result<Vec<u64>> {
    let mut ids = Vec::new();
    for entry in fs::read_dir(dir)? {
        let name = entry?.file_name();
        if let Some(id) = name
            .to_str()
            .and_then(|name| name.strip_suffix(SEGMENT_SUFFIX))
            .and_then(|id| id.parse().ok())
        {
            ids.push(id);
        }
    }
    Ok(ids)
}

/// The saved head position; `None` when missing or damaged.
fn read_head(dir: &Path) -> Option<(u64, u64)> {
    let bytes = fs::read(dir.join(HEAD_FILE)).ok()?;
    let (position, crc) = bytes.split_at_checked(16)?;
    let crc = u32::from_le_bytes(crc.try_into().ok()?);
    if crc != crc32fast::hash(position) {
        return None;
    }
    let (id, offset) = position.split_at(8);
    Some((
        u64::from_le_bytes(id.try_into().ok()?),
        u64::from_le_bytes(offset.try_into().ok()?),
    ))
}

struct Scan {
    file_len: u64,
    /// Bytes of the whole, valid records at the start of the file.
    len: u64,
    /// The end offset of each of those records.
    boundaries: Vec<u64>,
}

fn scan(path: &Path) -> io::Result<Scan> {
    let file = File::open(path)?;
    let file_len = file.metadata()?.len();
    let mut reader = BufReader::new(file);
    let mut scan = Scan {
        file_len,
        len: 0,
        boundaries: Vec::new(),
    };
    while let Some(payload) = read_record(&mut reader)? {
        scan.len += HEADER_BYTES + payload.len() as u64;
        scan.boundaries.push(scan.len);
    }
    Ok(scan)
}

/// The next record's payload; `None` at the end of the input or at a record that is torn or fails its checksum.
fn read_record(reader: &mut impl Read) -> io::Result<Option<Vec<u8>>> {
    let mut header = [0_u8; HEADER_BYTES as usize];
    if !read_whole(reader, &mut header)? {
        return Ok(None);
    }
    let (length, crc) = header.split_at(4);
    let length = u32::from_le_bytes([length[0], length[1], length[2], length[3]]);
    let crc = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
    // Read in pieces through `take`, so a corrupt length cannot make one huge allocation up front.
    let mut payload = Vec::new();
    reader.take(u64::from(length)).read_to_end(&mut payload)?;
    if payload.len() != length as usize || crc32fast::hash(&payload) != crc {
        return Ok(None);
    }
    Ok(Some(payload))
}

/// Fills `buf`; `false` when the input ends first.
fn read_whole(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<bool> {
    match reader.read_exact(buf) {
        Ok(()) => Ok(true),
        Err(err) if err.kind() == ErrorKind::UnexpectedEof => Ok(false),
        Err(err) => Err(err),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    struct TempDir(PathBuf);

    impl TempDir {
        fn new(name: &str) -> Self {
            let dir = std::env::temp_dir().join(format!(
                "ironforge-disk-queue-{name}-{}",
                std::process::id()
            ));
            let _ = fs::remove_dir_all(&dir);
            Self(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn payloads(batch: &Batch) -> Vec<String> {
        batch
            .records
            .iter()
            .map(|r| String::from_utf8(r.clone()).unwrap())
            .collect()
    }

    /// Takes every record, acknowledging each batch.
    fn drain(queue: &mut DiskQueue) -> Vec<String> {
        let mut all = Vec::new();
        loop {
            let batch = queue.peek(3).unwrap();
            if batch.records.is_empty() {
                return all;
            }
            all.extend(payloads(&batch));
            queue.ack(&batch).unwrap();
        }
    }

    #[test]
    fn records_come_back_in_order_across_segments_and_reopening() {
        let dir = TempDir::new("order");
        let (mut queue, recovered) = DiskQueue::open(&dir.0, 1 << 16).unwrap();
        assert_eq!(recovered, Recovered::default());
        let record = "x".repeat(1000);
        for i in 0..20 {
            queue.push(format!("{i:02}{record}").as_bytes()).unwrap();
        }
        assert!(
            segment_ids(&dir.0).unwrap().len() > 2,
            "small segments roll"
        );
        let first = queue.peek(5).unwrap();
        assert_eq!(first.records.len(), 5);
        queue.ack(&first).unwrap();
        // Peeked but not acknowledged: delivered again after a restart.
        let _unacknowledged = queue.peek(5).unwrap();
        drop(queue);

        let (mut queue, recovered) = DiskQueue::open(&dir.0, 1 << 16).unwrap();
        assert_eq!(recovered.records, 15);
        assert_eq!(queue.queued_bytes(), 15 * (1002 + HEADER_BYTES));
        let ids: Vec<String> = drain(&mut queue)
            .iter()
            .map(|r| r[..2].to_owned())
            .collect();
        let expected: Vec<String> = (5..20).map(|i| format!("{i:02}")).collect();
        assert_eq!(ids, expected);
        assert_eq!((queue.queued_records(), queue.queued_bytes()), (0, 0));
        assert_eq!(
            segment_ids(&dir.0).unwrap().len(),
            1,
            "finished segments are deleted"
        );
    }

    #[test]
    fn the_bound_refuses_what_does_not_fit_and_frees_on_ack() {
        let dir = TempDir::new("bound");
        let (mut queue, _) = DiskQueue::open(&dir.0, 3 * (HEADER_BYTES + 4)).unwrap();
        for record in ["aaaa", "bbbb", "cccc"] {
            queue.push(record.as_bytes()).unwrap();
        }
        assert!(matches!(
            queue.push(b"dddd"),
            Err(PushError::Full { queued: 36, .. })
        ));
        let batch = queue.peek(1).unwrap();
        queue.ack(&batch).unwrap();
        queue.push(b"dddd").unwrap();
        assert_eq!(drain(&mut queue), ["bbbb", "cccc", "dddd"]);
    }

    #[test]
    fn a_torn_or_corrupt_tail_is_cut_on_open() {
        let dir = TempDir::new("torn");
        let (mut queue, _) = DiskQueue::open(&dir.0, 1 << 20).unwrap();
        queue.push(b"whole").unwrap();
        queue.push(b"torn!").unwrap();
        drop(queue);
        let path = segment_path(&dir.0, 1);
        let len = fs::metadata(&path).unwrap().len();
        OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(len - 2)
            .unwrap();

        let (mut queue, recovered) = DiskQueue::open(&dir.0, 1 << 20).unwrap();
        assert_eq!(recovered.records, 1);
        assert_eq!(recovered.truncated_bytes, HEADER_BYTES + 3);
        queue.push(b"after").unwrap();
        drop(queue);

        // A flipped payload byte fails the checksum: that record and what follows it are cut.
        let mut bytes = fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        fs::write(&path, bytes).unwrap();
        let (mut queue, recovered) = DiskQueue::open(&dir.0, 1 << 20).unwrap();
        assert_eq!(recovered.records, 1);
        assert_eq!(drain(&mut queue), ["whole"]);
    }

    #[test]
    fn a_damaged_head_delivers_again_rather_than_skip() {
        let dir = TempDir::new("head");
        let (mut queue, _) = DiskQueue::open(&dir.0, 1 << 20).unwrap();
        queue.push(b"one").unwrap();
        queue.push(b"two").unwrap();
        let batch = queue.peek(1).unwrap();
        queue.ack(&batch).unwrap();
        drop(queue);
        fs::write(dir.0.join(HEAD_FILE), b"garbage").unwrap();
        let (mut queue, recovered) = DiskQueue::open(&dir.0, 1 << 20).unwrap();
        assert_eq!(recovered.records, 2);
        assert_eq!(drain(&mut queue), ["one", "two"]);
    }

    #[test]
    fn a_corrupt_record_in_the_middle_is_skipped_not_stuck_on() {
        let dir = TempDir::new("skip");
        let (mut queue, _) = DiskQueue::open(&dir.0, 1 << 20).unwrap();
        queue.push(b"one").unwrap();
        queue.push(b"two").unwrap();
        // Damaged after open checked it, as a failing disk would.
        let path = segment_path(&dir.0, 1);
        let mut bytes = fs::read(&path).unwrap();
        bytes[HEADER_BYTES as usize] ^= 0xff;
        fs::write(&path, bytes).unwrap();
        let batch = queue.peek(10).unwrap();
        assert!(queue.stuck(&batch));
        assert_eq!(queue.skip_corrupt().unwrap(), 2);
        queue.push(b"three").unwrap();
        assert_eq!(drain(&mut queue), ["three"]);
    }
}
