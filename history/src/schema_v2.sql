-- Schema version 2 (PRAGMA user_version = 2): version 1 and this table, added by the migration from it.
-- What the API served for each run, so that it answers the same after a restart. Rows are in arrival
-- order (run_id), like `runs`, so retention by size frees whole pages here too.
CREATE TABLE served (
    run_id   INTEGER PRIMARY KEY REFERENCES runs (run_id) ON DELETE CASCADE,
    verdict  TEXT,                           -- the verdict as JSON, violations included; NULL when not kept
    analysis TEXT                            -- the run's analysis as JSON; NULL when not kept
);
