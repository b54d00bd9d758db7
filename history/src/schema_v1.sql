-- The run history, schema version 1 (PRAGMA user_version = 1).
-- Created with PRAGMA auto_vacuum = INCREMENTAL, set before the first table.
CREATE TABLE runs (
    run_id            INTEGER PRIMARY KEY,   -- arrival order; what `measures` points at
    trace_id          TEXT NOT NULL UNIQUE,  -- 32 lowercase hex digits
    service           TEXT NOT NULL,         -- service.name, '' when the run had none
    decided_unix_nano INTEGER NOT NULL,      -- when the verdict was decided, nanoseconds since the Unix epoch
    status            TEXT NOT NULL,         -- 'pass' | 'fail' | 'warn' | 'incomplete'
    production_ready  INTEGER NOT NULL       -- 0 or 1
);
CREATE INDEX runs_by_service_time ON runs (service, decided_unix_nano);
CREATE INDEX runs_by_time ON runs (decided_unix_nano);

CREATE TABLE measures (
    run_id INTEGER NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    name   TEXT NOT NULL,                    -- e.g. 'run.duration_seconds', 'memory.peak_bytes'
    value  REAL NOT NULL,                    -- always finite
    PRIMARY KEY (run_id, name)
) WITHOUT ROWID;

-- Every measure with its run, for ad-hoc queries.
CREATE VIEW run_measures AS
    SELECT r.trace_id, r.service, r.decided_unix_nano, r.status, r.production_ready, m.name, m.value
    FROM runs AS r JOIN measures AS m ON m.run_id = r.run_id;
