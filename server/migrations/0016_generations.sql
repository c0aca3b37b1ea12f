-- Issue 28: backup and restore (ADR 0032). A store generation begins when the store is first
-- opened and again with every restore from a backup: phones that synced with an older one give
-- back what the backup missed. `base` is the feed position the backup ended at.
CREATE TABLE generations (
    seq BIGINT PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    base BIGINT NOT NULL,
    started_at BIGINT NOT NULL,
    restored_from TEXT
)
;
-- The phones that came back after a restore, and what they gave back (the console's progress).
CREATE TABLE recovery_devices (
    generation TEXT NOT NULL,
    device_id TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    named BIGINT NOT NULL DEFAULT 0,
    lacking BIGINT NOT NULL DEFAULT 0,
    returned BIGINT NOT NULL DEFAULT 0,
    finished_at BIGINT,
    PRIMARY KEY (generation, device_id)
)
