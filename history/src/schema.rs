//! The schema and its migrations: which version a file is at, and bringing it to the one this build writes. The
//! schema itself is `schema_v1.sql` and the steps to versions 2 and 3, `schema_v2.sql` and `schema_v3.sql`, all
//! shown in the crate docs.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension};

use crate::error::{HistoryError, sqlite_error};

/// The schema version this build writes and reads, kept in `PRAGMA user_version`.
pub(crate) const SCHEMA_VERSION: i64 = 3;

/// Schema version 1, as the crate docs show it; `auto_vacuum` is set before it, while the file is still empty.
const SCHEMA_V1: &str = include_str!("schema_v1.sql");

/// The step from version 1 to version 2: the table of what the API served for each run. Runs recorded at version
/// 1 have no row in it, so their verdict and analysis read as absent.
const SCHEMA_V2: &str = include_str!("schema_v2.sql");

/// The step from version 2 to version 3: served JSON written compressed. No table changes; the version tells a
/// build that reads only version 2 to leave the file alone rather than fail on a compressed row.
const SCHEMA_V3: &str = include_str!("schema_v3.sql");

/// Brings the file at `path`, open as `connection`, to [`SCHEMA_VERSION`], creating the tables in an empty file.
pub(crate) fn migrate(connection: &Connection, path: &Path) -> Result<(), HistoryError> {
    let sql = |error| sqlite_error(path, error);
    // IMMEDIATE: two processes opening a new file at once must not both create the tables.
    connection.execute_batch("BEGIN IMMEDIATE").map_err(sql)?;
    let result = migrate_in_transaction(connection, path);
    let end = if result.is_ok() { "COMMIT" } else { "ROLLBACK" };
    let ended = connection.execute_batch(end).map_err(sql);
    result.and(ended)
}

fn migrate_in_transaction(connection: &Connection, path: &Path) -> Result<(), HistoryError> {
    let version: i64 = connection
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(|error| sqlite_error(path, error))?;
    if version > SCHEMA_VERSION {
        return Err(HistoryError::NewerSchema {
            path: path.to_path_buf(),
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    if version == 0 {
        let foreign: Option<String> = connection
            .query_row("SELECT name FROM sqlite_schema LIMIT 1", [], |row| {
                row.get(0)
            })
            .optional()
            .map_err(|error| sqlite_error(path, error))?;
        if let Some(name) = foreign {
            return Err(HistoryError::NotAHistory {
                path: path.to_path_buf(),
                reason: format!(
                    "schema version 0 but it already has {name:?}: another application's database"
                ),
            });
        }
        connection
            .execute_batch(SCHEMA_V1)
            .map_err(|error| sqlite_error(path, error))?;
    }
    // Later versions migrate here, one step at a time, each from the version before it.
    if version < 2 {
        connection
            .execute_batch(SCHEMA_V2)
            .map_err(|error| sqlite_error(path, error))?;
    }
    if version < 3 {
        connection
            .execute_batch(SCHEMA_V3)
            .map_err(|error| sqlite_error(path, error))?;
    }
    if version == SCHEMA_VERSION {
        return Ok(());
    }
    connection
        .pragma_update(None, "user_version", SCHEMA_VERSION)
        .map_err(|error| sqlite_error(path, error))
}
