//! How the history keeps the JSON the API served: compressed with zstd, since a run's analysis is about 160 KB
//! of JSON (its critical path alone 110 KB for a run of a few hundred spans), and writing that through SQLite's
//! log and checkpoints was most of the CPU the processor spent on a run. Compressed, it is about a tenth.

use rusqlite::ToSql;
use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSqlOutput, ValueRef};

/// zstd's fastest level: about 0.13 ms and a tenth of the size for a 160 KB analysis, where level 3 takes
/// longer for no smaller a result.
const LEVEL: i32 = 1;

/// The largest JSON read back. A damaged frame may state any size; this bounds what reading it allocates.
const MAX_JSON_BYTES: u64 = 256 * 1024 * 1024;

/// Served JSON as the file keeps it.
#[derive(Debug)]
pub(crate) struct Compressed(Vec<u8>);

/// One compression context for the history's life, made at its first use: making one for each answer (and
/// clearing its tables) showed in profiles beside the compressing itself.
#[derive(Default)]
pub(crate) struct Compression(Option<zstd::bulk::Compressor<'static>>);

impl std::fmt::Debug for Compression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Compression").finish_non_exhaustive()
    }
}

impl Compression {
    pub(crate) fn compress(&mut self, json: &str) -> std::io::Result<Compressed> {
        let compressor = match &mut self.0 {
            Some(compressor) => compressor,
            None => self.0.insert(zstd::bulk::Compressor::new(LEVEL)?),
        };
        compressor.compress(json.as_bytes()).map(Compressed)
    }
}

impl ToSql for Compressed {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.0.as_slice()))
    }
}

/// Served JSON read back: a BLOB (schema version 3 on) is decompressed, TEXT (written before) is the JSON.
#[derive(Debug)]
pub(crate) struct ServedJson(pub(crate) String);

/// Why a stored answer could not be read back.
#[derive(Debug, thiserror::Error)]
enum Unreadable {
    #[error("compressed JSON without a stated size, or with a damaged frame header")]
    NoSize,
    #[error("compressed JSON states {0} bytes, past the {MAX_JSON_BYTES} read back at most")]
    TooLarge(u64),
    #[error("compressed JSON does not decompress: {0}")]
    Damaged(#[from] std::io::Error),
    #[error("stored JSON is not UTF-8: {0}")]
    NotUtf8(#[from] std::string::FromUtf8Error),
}

impl FromSql for ServedJson {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let text = match value {
            ValueRef::Text(text) => String::from_utf8(text.to_vec()).map_err(Unreadable::from),
            ValueRef::Blob(blob) => decompress(blob),
            ValueRef::Null | ValueRef::Integer(_) | ValueRef::Real(_) => {
                return Err(FromSqlError::InvalidType);
            }
        };
        text.map(Self)
            .map_err(|error| FromSqlError::Other(Box::new(error)))
    }
}

fn decompress(blob: &[u8]) -> Result<String, Unreadable> {
    let size = zstd::zstd_safe::get_frame_content_size(blob)
        .ok()
        .flatten()
        .ok_or(Unreadable::NoSize)?;
    if size > MAX_JSON_BYTES {
        return Err(Unreadable::TooLarge(size));
    }
    let capacity = usize::try_from(size).map_err(|_| Unreadable::TooLarge(size))?;
    let json = zstd::bulk::decompress(blob, capacity)?;
    Ok(String::from_utf8(json)?)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn read(value: ValueRef<'_>) -> FromSqlResult<String> {
        ServedJson::column_result(value).map(|json| json.0)
    }

    #[test]
    fn json_reads_back_whether_compressed_or_stored_as_text() {
        let json = r#"{"critical_path":[{"name":"session","seconds":1.5}]}"#.repeat(50);
        let mut compression = Compression::default();
        let compressed = compression.compress(&json).unwrap();
        let again = compression.compress(&json).unwrap();
        assert_eq!(again.0, compressed.0, "a kept context compresses alike");
        assert!(compressed.0.len() < json.len() / 5);
        assert_eq!(read(ValueRef::Blob(&compressed.0)).unwrap(), json);
        assert_eq!(read(ValueRef::Text(json.as_bytes())).unwrap(), json);
    }

    #[test]
    fn a_damaged_blob_is_an_error_not_a_panic_nor_a_huge_allocation() {
        let compressed = Compression::default()
            .compress(&"x".repeat(1000))
            .unwrap()
            .0;
        for cut in 0..compressed.len() {
            assert!(
                read(ValueRef::Blob(&compressed[..cut])).is_err(),
                "cut at {cut}"
            );
        }
        let mut flipped = compressed.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 0xff;
        assert!(read(ValueRef::Blob(&flipped)).is_err());
        // A frame header stating 2^40 bytes of content.
        let mut huge = vec![0x28, 0xb5, 0x2f, 0xfd, 0xe0];
        huge.extend_from_slice(&(1u64 << 40).to_le_bytes());
        assert!(read(ValueRef::Blob(&huge)).is_err());
        assert!(read(ValueRef::Text(&[0xff, 0xfe])).is_err());
        assert!(read(ValueRef::Integer(1)).is_err());
    }
}
