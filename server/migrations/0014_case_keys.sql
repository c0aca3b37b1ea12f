-- Issue 26: personal data sealed per case (ADR 0029). Each case key the server holds, wrapped
-- under the deployment's data key; erasure deletes the row (with secure_delete on SQLite) and
-- keeps the ids in `erased_keys`, so a phone that pushes the key again is not believed. The
-- erasure log is what phones learn erasures from, and survives a restore of older keys.
CREATE TABLE case_keys (
    case_id TEXT NOT NULL,
    key_id TEXT NOT NULL,
    wrapped {blob} NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (case_id, key_id)
)
;
CREATE TABLE erased_keys (
    case_id TEXT NOT NULL,
    key_id TEXT NOT NULL,
    erasure BIGINT NOT NULL,
    PRIMARY KEY (case_id, key_id)
)
;
CREATE TABLE erasures (
    seq BIGINT PRIMARY KEY,
    case_id TEXT NOT NULL,
    key_ids TEXT NOT NULL,
    erased_at BIGINT NOT NULL,
    erased_by TEXT NOT NULL,
    reason TEXT NOT NULL
)
;
INSERT INTO counters (name, value) VALUES ('erasures', 0)
;
-- The data key when the deployment gives none (GRIDSYNC_DATA_KEY): kept here, with a warning.
CREATE TABLE data_keys (
    id TEXT PRIMARY KEY,
    secret {blob} NOT NULL,
    created_at BIGINT NOT NULL
)
