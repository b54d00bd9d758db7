//! Reading recorded traces: files or standard input, gzipped or not, OTLP/JSON lines, a pretty-printed
//! OTLP/JSON document, or one OTLP protobuf request. Requests are decoded one at a time by the receivers'
//! own decoders (the engine's OTLP/JSON reader and its wire decoder) and handed on, so a file is never
//! held whole (a protobuf file is one message, read whole).

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

use flate2::read::MultiGzDecoder;
use ironforge_engine::decode::{Decoded, decode_json_request, decode_request};
use ironforge_engine::plan::ReadPlan;

use crate::input_error::InputError;

/// The file name that means standard input.
pub const STDIN: &str = "-";

/// How standard input is named in messages.
const STDIN_NAME: &str = "<stdin>";

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

const UTF8_BOM: &str = "\u{feff}";

/// Bytes read from a file (and inflated from gzip) at a time: large enough that the read calls cost
/// little beside parsing.
const READ_BUFFER: usize = 256 * 1024;

/// An input as messages and reports name it: its path as given, or `<stdin>`.
pub(super) fn display_name(path: &Path) -> String {
    if path.as_os_str() == STDIN {
        STDIN_NAME.to_owned()
    } else {
        path.display().to_string()
    }
}

/// Reads one input, handing each decoded request to `sink` and each problem to `errors`; the rest of the
/// input is still read after a bad line. `on_read` is told how many bytes of the file (as stored, before
/// any inflating) each read took.
pub(super) fn read(
    path: &Path,
    plan: &ReadPlan,
    sink: &mut dyn FnMut(Decoded),
    errors: &mut dyn FnMut(InputError),
    on_read: &dyn Fn(u64),
) {
    let name = display_name(path);
    let whole_file = |message: String| InputError {
        file: name.clone(),
        line: None,
        message,
    };
    let source: Box<dyn Read> = if path.as_os_str() == STDIN {
        Box::new(io::stdin().lock())
    } else {
        match File::open(path) {
            Ok(file) => Box::new(file),
            Err(err) => return errors(whole_file(format!("cannot open: {err}"))),
        }
    };
    let reader: Box<dyn BufRead + '_> = Box::new(BufReader::with_capacity(
        READ_BUFFER,
        Counted {
            inner: source,
            on_read,
        },
    ));
    let mut reader = match inflated(reader) {
        Ok(reader) => reader,
        Err(err) => return errors(whole_file(format!("cannot read: {err}"))),
    };
    let mut input = Input {
        name: &name,
        plan,
        sink,
        errors,
    };
    match reader.fill_buf() {
        Err(err) => (input.errors)(whole_file(format!("cannot read: {err}"))),
        Ok([]) => (input.errors)(whole_file("empty input".to_owned())),
        Ok(head) if looks_like_json(head) => input.json(reader),
        Ok(_) => input.protobuf(reader),
    }
}

/// A reader that tells how much each read took.
struct Counted<'a, R> {
    inner: R,
    on_read: &'a dyn Fn(u64),
}

impl<R: Read> Read for Counted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = self.inner.read(buf)?;
        (self.on_read)(read as u64);
        Ok(read)
    }
}

/// The reader, inflated when it starts with the gzip magic bytes, whatever the file is called.
fn inflated<'a>(mut reader: Box<dyn BufRead + 'a>) -> io::Result<Box<dyn BufRead + 'a>> {
    if reader.fill_buf()?.starts_with(&GZIP_MAGIC) {
        Ok(Box::new(BufReader::with_capacity(
            READ_BUFFER,
            MultiGzDecoder::new(reader),
        )))
    } else {
        Ok(reader)
    }
}

/// JSON text starts with `{` after white space and holds no control characters; a protobuf request holds
/// field tags and lengths that are control characters (a `scope_spans` tag is 0x12), and its first byte,
/// 0x0a, is a newline only by accident.
fn looks_like_json(head: &[u8]) -> bool {
    let text = head.strip_prefix(UTF8_BOM.as_bytes()).unwrap_or(head);
    let first = text.iter().find(|byte| !byte.is_ascii_whitespace());
    first == Some(&b'{')
        && !text
            .iter()
            .any(|&byte| byte < 0x20 && !matches!(byte, b'\t' | b'\n' | b'\r'))
}

struct Input<'a> {
    name: &'a str,
    plan: &'a ReadPlan,
    sink: &'a mut dyn FnMut(Decoded),
    errors: &'a mut dyn FnMut(InputError),
}

impl Input<'_> {
    fn error(&mut self, line: Option<u64>, message: String) {
        (self.errors)(InputError {
            file: self.name.to_owned(),
            line,
            message,
        });
    }

    /// Hands on the valid spans of a decoded request; refused spans are bad input.
    fn decoded(&mut self, line: Option<u64>, decoded: Decoded) {
        if decoded.rejected > 0 {
            let message = format!(
                "{} invalid span(s) left out: {}",
                decoded.rejected,
                decoded.error_message()
            );
            self.error(line, message);
        }
        (self.sink)(decoded);
    }

    fn protobuf(&mut self, mut reader: Box<dyn BufRead + '_>) {
        let mut bytes = Vec::new();
        if let Err(err) = reader.read_to_end(&mut bytes) {
            return self.error(None, format!("cannot read: {err}"));
        }
        match decode_request(&bytes, self.plan) {
            Ok(decoded) => self.decoded(None, decoded),
            Err(err) => self.error(
                None,
                format!("neither OTLP/JSON nor an OTLP protobuf ExportTraceServiceRequest: {err}"),
            ),
        }
    }

    /// Documents one per line, or spread over lines: a document ends where its braces close.
    fn json(&mut self, mut reader: Box<dyn BufRead + '_>) {
        let mut document = Document::default();
        let mut bytes = Vec::new();
        let mut number = 0u64;
        loop {
            bytes.clear();
            match reader.read_until(b'\n', &mut bytes) {
                Ok(0) => break,
                Ok(_) => number += 1,
                Err(err) => {
                    self.error(Some(number + 1), format!("cannot read: {err}"));
                    break;
                }
            }
            let line = match std::str::from_utf8(&bytes) {
                Ok(line) => line,
                Err(err) => {
                    self.abandon(&mut document);
                    self.error(Some(number), format!("not UTF-8 text: {err}"));
                    continue;
                }
            };
            let line = if number == 1 {
                line.strip_prefix(UTF8_BOM).unwrap_or(line)
            } else {
                line
            };
            // Inside a pretty-printed document lines are indented: a `{` in the first column starts the
            // next document, so the one before it was cut short.
            if !document.is_empty() && line.starts_with('{') {
                self.abandon(&mut document);
            }
            if document.is_empty() {
                if line.trim().is_empty() {
                    continue;
                }
                document.start = number;
                // One document a line, as the file exporter writes: parsed where it lies, without the
                // scan and copy that gathering costs. Only a line that ends mid-document is gathered.
                // Without its line break, a line cut inside a string ends there rather than holding a
                // control character, and so reads as the start of a longer document.
                let text = line.trim_end_matches(['\r', '\n']);
                if self.parse(text, number, true) == Parsed::CutShort {
                    document.push(line);
                }
                continue;
            }
            document.push(line);
            if document.closed() {
                let document = std::mem::take(&mut document);
                self.parse(&document.text, document.start, false);
            }
        }
        self.abandon(&mut document);
    }

    /// Reports a document that never closed, and forgets it.
    fn abandon(&mut self, document: &mut Document) {
        if !document.is_empty() {
            let start = document.start;
            *document = Document::default();
            self.error(
                Some(start),
                "OTLP/JSON document cut short: its braces never close".to_owned(),
            );
        }
    }

    /// Parses one document that starts on line `start`, reporting what is wrong with it; one that ends
    /// before its braces close is left to the caller when `may_continue` (more lines may complete it).
    fn parse(&mut self, text: &str, start: u64, may_continue: bool) -> Parsed {
        match decode_json_request(text, self.plan) {
            Ok(decoded) => self.decoded(Some(start), decoded),
            // The reader may find a wrong value before the end of a line that opens a longer document;
            // the braces tell that the document goes on, and it is judged whole.
            Err(err) if may_continue && (err.eof || !Document::closes(text)) => {
                return Parsed::CutShort;
            }
            Err(err) => {
                // The reader counts lines from the document's start; the file's line is given instead.
                let line = start + (err.line as u64).saturating_sub(1);
                self.error(
                    Some(line),
                    format!(
                        "invalid OTLP/JSON ExportTraceServiceRequest (column {}): {}",
                        err.column, err.message
                    ),
                );
            }
        }
        Parsed::Done
    }
}

/// What became of a document handed to [`Input::parse`].
#[derive(Debug, PartialEq, Eq)]
enum Parsed {
    /// Decoded and handed on, or reported.
    Done,
    /// It ends before its braces close: the start of a document spread over lines.
    CutShort,
}

/// One JSON document being gathered line by line, with enough of a scanner to know where it ends.
#[derive(Debug, Default)]
struct Document {
    text: String,
    /// Line of the file it starts on.
    start: u64,
    depth: i64,
    in_string: bool,
    escaped: bool,
}

impl Document {
    fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    fn push(&mut self, line: &str) {
        for byte in line.bytes() {
            if self.in_string {
                match byte {
                    _ if self.escaped => self.escaped = false,
                    b'\\' => self.escaped = true,
                    b'"' => self.in_string = false,
                    _ => {}
                }
            } else {
                match byte {
                    b'"' => self.in_string = true,
                    b'{' | b'[' => self.depth += 1,
                    b'}' | b']' => self.depth -= 1,
                    _ => {}
                }
            }
        }
        self.text.push_str(line);
    }

    /// Whether its outermost braces have closed (or it never opened any, which the parser then reports).
    fn closed(&self) -> bool {
        self.depth <= 0 && !self.in_string
    }

    /// Whether a document that is all of `text` closes its braces.
    fn closes(text: &str) -> bool {
        let mut document = Document::default();
        document.push(text);
        document.closed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_told_from_protobuf() {
        assert!(looks_like_json(b"{\"resourceSpans\":[]}\n"));
        assert!(looks_like_json(b"\n  {\n"));
        assert!(looks_like_json(b"\xef\xbb\xbf{}"));
        // A request whose first resource is 123 bytes long: 0x0a, then 0x7b, which is `{`.
        assert!(!looks_like_json(b"\n{\x12\x05"));
        assert!(!looks_like_json(b"garbage"));
    }

    #[test]
    fn a_document_closes_where_its_braces_do() {
        let mut document = Document::default();
        document.push("{\"a\": \"}{\\\"\",\n");
        assert!(!document.closed());
        document.push("  \"b\": [1, {}]\n");
        assert!(!document.closed());
        document.push("}\n");
        assert!(document.closed());
    }
}
