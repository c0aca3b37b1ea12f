-- Issue 18: a quarantine with limits. What is kept of a refused change is bounded: a change up
-- to `quarantine::KEEP_WHOLE_BYTES` whole (it can be released once the reason is fixed), a larger
-- one as its first KiB with its length and SHA-256. Each device's kept bytes and the refusals
-- past its budget (counted, not stored) are tallied per device; the total in `counters`.
ALTER TABLE quarantine ADD COLUMN size BIGINT NOT NULL DEFAULT 0
;
ALTER TABLE quarantine ADD COLUMN whole BIGINT NOT NULL DEFAULT 1
;
ALTER TABLE quarantine ADD COLUMN sha256 TEXT NOT NULL DEFAULT ''
;
ALTER TABLE quarantine ADD COLUMN released_at BIGINT
;
ALTER TABLE quarantine ADD COLUMN released_by TEXT
;
CREATE INDEX quarantine_device ON quarantine (device_id, received_at)
;
UPDATE quarantine SET size = length(bytes)
;
CREATE TABLE quarantine_devices (
    device_id TEXT PRIMARY KEY,
    kept BIGINT NOT NULL,
    kept_bytes BIGINT NOT NULL,
    dropped BIGINT NOT NULL,
    dropped_bytes BIGINT NOT NULL,
    last_at BIGINT NOT NULL
)
;
INSERT INTO quarantine_devices (device_id, kept, kept_bytes, dropped, dropped_bytes, last_at)
SELECT device_id, count(*), sum(length(bytes)), 0, 0, max(received_at) FROM quarantine GROUP BY device_id
;
INSERT INTO counters (name, value) SELECT 'quarantine_bytes', COALESCE(sum(length(bytes)), 0) FROM quarantine
;
