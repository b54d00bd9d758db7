//! How a trace id is kept: the API's 16 bytes in, 32 lowercase hex digits in the file, so that any SQL tool shows
//! and compares them as the API and the logs spell them.

use rusqlite::types::Type;

/// The column text of a trace id.
pub(crate) fn column_text(trace_id: &[u8; 16]) -> String {
    hex::encode(trace_id)
}

/// The trace id in column `index` of `row`; a text that is not one is a conversion error.
pub(crate) fn from_column(row: &rusqlite::Row<'_>, index: usize) -> rusqlite::Result<[u8; 16]> {
    let text: String = row.get(index)?;
    let mut trace_id = [0u8; 16];
    hex::decode_to_slice(&text, &mut trace_id).map_err(|error| {
        rusqlite::Error::FromSqlConversionFailure(index, Type::Text, Box::new(error))
    })?;
    Ok(trace_id)
}
