-- gridsync store, schema 1. Portable SQL for SQLite and PostgreSQL; `{blob}` becomes BLOB or
-- BYTEA. Statements are separated by lines holding only `;`.

CREATE TABLE org_units (
    path TEXT PRIMARY KEY,           -- county/township/village/grid codes
    name TEXT NOT NULL,
    level TEXT NOT NULL
)
;
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    role TEXT NOT NULL,
    scope TEXT NOT NULL,
    department TEXT,
    password_hash TEXT NOT NULL,
    disabled BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
)
;
CREATE TABLE devices (
    id TEXT PRIMARY KEY,
    revoked BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    last_sync_at BIGINT
)
;
-- Everyone who has signed in on a device (phones are shared), latest first by signed_in_at.
CREATE TABLE device_users (
    device_id TEXT NOT NULL REFERENCES devices(id),
    user_id TEXT NOT NULL REFERENCES users(id),
    signed_in_at BIGINT NOT NULL,
    PRIMARY KEY (device_id, user_id)
)
;
-- Automerge actor ids bound to the device that registered them: the audit trail can't be forged.
CREATE TABLE device_actors (
    actor TEXT PRIMARY KEY,
    device_id TEXT NOT NULL REFERENCES devices(id)
)
;
-- Named counters; `feed` numbers the change log. Taking it row-locks, so feed sequence numbers
-- commit in order and a cursor never skips a change that commits late.
CREATE TABLE counters (
    name TEXT PRIMARY KEY,
    value BIGINT NOT NULL
)
;
INSERT INTO counters (name, value) VALUES ('feed', 0)
;
-- The append-only change log: durable log, change feed and audit trail in one.
CREATE TABLE changes (
    seq BIGINT PRIMARY KEY,
    doc TEXT NOT NULL,
    hash TEXT NOT NULL UNIQUE,
    actor TEXT NOT NULL,
    device_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    device_time BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    bytes {blob} NOT NULL
)
;
CREATE INDEX changes_doc ON changes (doc, seq)
;
-- Compacted document per case (rebuildable from `changes`).
CREATE TABLE docs (
    id TEXT PRIMARY KEY,
    snapshot {blob} NOT NULL,
    upto_seq BIGINT NOT NULL
)
;
-- The projection every query, dashboard and the supervision clock reads.
CREATE TABLE cases (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    category TEXT NOT NULL,
    title TEXT NOT NULL,
    status TEXT NOT NULL,
    level TEXT NOT NULL,
    path TEXT NOT NULL,
    county TEXT NOT NULL,
    township TEXT,
    village TEXT,
    grid TEXT,
    department TEXT,
    reporter TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    field_conflicts BIGINT NOT NULL,
    workflow_conflicts BIGINT NOT NULL,
    reopen_count BIGINT NOT NULL,
    accountability BIGINT NOT NULL,
    supervision_count BIGINT NOT NULL,
    rating TEXT,
    last_seq BIGINT NOT NULL
)
;
CREATE INDEX cases_path ON cases (path)
;
CREATE INDEX cases_status ON cases (status)
;
-- Refused changes, whole: never merged, never sent on, never dropped.
CREATE TABLE quarantine (
    id TEXT PRIMARY KEY,
    doc TEXT NOT NULL,
    hash TEXT NOT NULL,
    device_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    code TEXT NOT NULL,
    reason TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    bytes {blob} NOT NULL
)
;
CREATE INDEX quarantine_doc ON quarantine (doc)
;
CREATE TABLE audit_log (
    id TEXT PRIMARY KEY,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    detail TEXT NOT NULL
)
