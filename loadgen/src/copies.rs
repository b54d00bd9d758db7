//! A large recorded input from a small one: an OTLP/JSON-lines recording written many times, each copy with
//! its own trace and span ids and later in time than the one before, as runs recorded one after another
//! would be. The input `ironforge-processor check` is measured on.

use std::io::{self, BufRead, Write};

use ironforge_proto::otlp::trace::Span;
use ironforge_proto::otlp::trace_service::ExportTraceServiceRequest;

/// What went wrong reading the recording or writing the copies.
#[derive(Debug, thiserror::Error)]
pub enum CopiesError {
    #[error("cannot read the recording: {0}")]
    Read(io::Error),
    #[error("line {line} of the recording is not an OTLP/JSON ExportTraceServiceRequest: {source}")]
    Parse {
        line: usize,
        source: serde_json::Error,
    },
    #[error("the recording holds no span")]
    Empty,
    #[error("cannot write: {0}")]
    Write(io::Error),
}

/// A recording held parsed, ready to be written again and again.
#[derive(Debug)]
pub struct Recording {
    requests: Vec<ExportTraceServiceRequest>,
    /// From the first span's start to the last span's end.
    span_nanos: u64,
}

impl Recording {
    /// Reads OTLP/JSON lines, one request a line.
    pub fn read(input: impl BufRead) -> Result<Self, CopiesError> {
        let mut requests = Vec::new();
        for (index, line) in input.lines().enumerate() {
            let line = line.map_err(CopiesError::Read)?;
            if line.trim().is_empty() {
                continue;
            }
            let request = serde_json::from_str(&line).map_err(|source| CopiesError::Parse {
                line: index + 1,
                source,
            })?;
            requests.push(request);
        }
        let spans = || requests.iter().flat_map(spans_of);
        let first = spans().map(|span| span.start_time_unix_nano).min();
        let last = spans().map(|span| span.end_time_unix_nano).max();
        let (Some(first), Some(last)) = (first, last) else {
            return Err(CopiesError::Empty);
        };
        Ok(Self {
            span_nanos: last.saturating_sub(first),
            requests,
        })
    }

    /// Writes `copies` copies (see [`Recording::write_copy`]); returns the bytes written.
    pub fn write_copies(
        &self,
        copies: u64,
        gap_nanos: u64,
        mut out: impl Write,
    ) -> Result<u64, CopiesError> {
        let mut written = 0u64;
        for copy in 0..copies {
            written += self.write_copy(copy, gap_nanos, &mut out)?;
        }
        out.flush().map_err(CopiesError::Write)?;
        Ok(written)
    }

    /// Writes copy number `copy`: moved `copy` × (the recording's span + `gap_nanos`) later, with ids no
    /// other copy has. Returns the bytes written.
    pub fn write_copy(
        &self,
        copy: u64,
        gap_nanos: u64,
        out: &mut impl Write,
    ) -> Result<u64, CopiesError> {
        let shift = copy.saturating_mul(self.span_nanos.saturating_add(gap_nanos));
        let key = Key::of(copy);
        let mut written = 0u64;
        let mut line = Vec::new();
        for request in &self.requests {
            let mut request = request.clone();
            for span in request
                .resource_spans
                .iter_mut()
                .flat_map(|resource| &mut resource.scope_spans)
                .flat_map(|scope| &mut scope.spans)
            {
                key.move_span(span, shift);
            }
            line.clear();
            serde_json::to_writer(&mut line, &request).map_err(|err| {
                CopiesError::Write(io::Error::new(io::ErrorKind::InvalidData, err))
            })?;
            line.push(b'\n');
            out.write_all(&line).map_err(CopiesError::Write)?;
            written += line.len() as u64;
        }
        Ok(written)
    }
}

fn spans_of(request: &ExportTraceServiceRequest) -> impl Iterator<Item = &Span> {
    request
        .resource_spans
        .iter()
        .flat_map(|resource| &resource.scope_spans)
        .flat_map(|scope| &scope.spans)
}

/// What one copy's ids are XORed with: the same for every id of the copy, so parent links and links within
/// the recording still meet, and different for every copy.
struct Key([u8; 16]);

impl Key {
    fn of(copy: u64) -> Self {
        let high = splitmix64(copy.wrapping_mul(2));
        let low = splitmix64(copy.wrapping_mul(2).wrapping_add(1));
        let mut key = [0; 16];
        key[..8].copy_from_slice(&high.to_be_bytes());
        key[8..].copy_from_slice(&low.to_be_bytes());
        Self(key)
    }

    fn apply(&self, id: &mut [u8]) {
        for (byte, key) in id.iter_mut().zip(self.0) {
            *byte ^= key;
        }
    }

    fn move_span(&self, span: &mut Span, shift: u64) {
        self.apply(&mut span.trace_id);
        self.apply(&mut span.span_id);
        self.apply(&mut span.parent_span_id);
        span.start_time_unix_nano = span.start_time_unix_nano.saturating_add(shift);
        span.end_time_unix_nano = span.end_time_unix_nano.saturating_add(shift);
        for event in &mut span.events {
            event.time_unix_nano = event.time_unix_nano.saturating_add(shift);
        }
        for link in &mut span.links {
            self.apply(&mut link.trace_id);
            self.apply(&mut link.span_id);
        }
    }
}

/// A well-mixed 64-bit value from a counter (Steele, Lea and Flood's SplitMix64 finaliser).
fn splitmix64(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    const LINE: &str = r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"0102030405060708","name":"run","startTimeUnixNano":"1000","endTimeUnixNano":"5000"},{"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"1112131415161718","parentSpanId":"0102030405060708","name":"stage","startTimeUnixNano":"2000","endTimeUnixNano":"3000"}]}]}]}"#;

    fn copies(count: u64) -> Vec<ExportTraceServiceRequest> {
        let recording = Recording::read(LINE.as_bytes()).unwrap();
        let mut out = Vec::new();
        let written = recording.write_copies(count, 10, &mut out).unwrap();
        assert_eq!(written, out.len() as u64);
        out.split(|&byte| byte == b'\n')
            .filter(|line| !line.is_empty())
            .map(|line| serde_json::from_slice(line).unwrap())
            .collect()
    }

    #[test]
    fn each_copy_has_its_own_ids_and_comes_later() {
        let requests = copies(3);
        assert_eq!(requests.len(), 3);
        let spans: Vec<Vec<&Span>> = requests.iter().map(|r| spans_of(r).collect()).collect();
        let mut trace_ids: Vec<&Vec<u8>> = spans.iter().map(|s| &s[0].trace_id).collect();
        trace_ids.dedup();
        assert_eq!(trace_ids.len(), 3);
        for (copy, spans) in spans.iter().enumerate() {
            let (root, child) = (spans[0], spans[1]);
            assert_eq!(root.trace_id, child.trace_id);
            assert_eq!(child.parent_span_id, root.span_id);
            assert_ne!(root.span_id, child.span_id);
            // The recording spans 4,000 ns; with the 10 ns gap each copy starts 4,010 ns after the last.
            let shift = copy as u64 * 4_010;
            assert_eq!(root.start_time_unix_nano, 1_000 + shift);
            assert_eq!(child.end_time_unix_nano, 3_000 + shift);
        }
        assert_ne!(spans[0][0].span_id, spans[1][0].span_id);
    }

    #[test]
    fn a_recording_without_spans_or_json_is_refused() {
        assert!(matches!(
            Recording::read(&b"{\"resourceSpans\":[]}\n"[..]),
            Err(CopiesError::Empty)
        ));
        assert!(matches!(
            Recording::read(&b"\n{oops\n"[..]),
            Err(CopiesError::Parse { line: 2, .. })
        ));
    }
}
