-- Issue 19: the county's rules (catalogue, departments, patrol checklist, calendar) as data,
-- one row per version with who changed them and why; and the version each device holds, as
-- the device last said, so an unchanged sync carries no rules bytes.
CREATE TABLE rules (
    version BIGINT PRIMARY KEY,
    body TEXT NOT NULL,
    changed_by TEXT NOT NULL,
    changed_at BIGINT NOT NULL,
    summary TEXT NOT NULL
)
;
CREATE TABLE device_rules (
    device_id TEXT PRIMARY KEY,
    version BIGINT NOT NULL
)
;
