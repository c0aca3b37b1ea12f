-- Issue 23: assessment (考核) and accountability (问责). The projection learns every department
-- a case is with (" lead a b ", for the read filter of a department: lead or assisting), the
-- earliest deadline of its open assisting parts (for the supervision clock) and each unit's
-- duties on it (the assessment figures), all derived from the documents (rebuilt on migration).
-- Accountability records are raised once per situation (record_key) and wait for the county's
-- decision; the townships' monthly scores of departments are entered in the console.
ALTER TABLE cases ADD COLUMN departments TEXT NOT NULL DEFAULT ''
;
ALTER TABLE cases ADD COLUMN parts_due_at BIGINT
;
CREATE INDEX cases_parts_due ON cases (parts_due_at)
;
CREATE TABLE duties (
    case_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    unit_kind TEXT NOT NULL,
    unit TEXT NOT NULL,
    assisting BIGINT NOT NULL,
    person TEXT,
    received_at BIGINT NOT NULL,
    sign_due BIGINT,
    signed_at BIGINT,
    due BIGINT,
    done_at BIGINT,
    ended_at BIGINT,
    returned BIGINT NOT NULL,
    reopened BIGINT NOT NULL,
    rated_by_requester BIGINT NOT NULL,
    satisfied_by_requester BIGINT NOT NULL,
    rated_by_staff BIGINT NOT NULL,
    satisfied_by_staff BIGINT NOT NULL,
    return_visits BIGINT NOT NULL,
    PRIMARY KEY (case_id, seq)
)
;
CREATE INDEX duties_received ON duties (unit_kind, received_at)
;
CREATE TABLE accountability (
    id TEXT PRIMARY KEY,
    case_id TEXT NOT NULL,
    record_key TEXT NOT NULL UNIQUE,
    trigger_kind TEXT NOT NULL,
    unit_kind TEXT NOT NULL,
    unit TEXT NOT NULL,
    person TEXT,
    events TEXT NOT NULL,
    raised_at BIGINT NOT NULL,
    decision TEXT,
    note TEXT NOT NULL DEFAULT '',
    decided_by TEXT,
    decided_at BIGINT
)
;
CREATE INDEX accountability_case ON accountability (case_id)
;
CREATE TABLE department_ratings (
    month TEXT NOT NULL,
    month_start BIGINT NOT NULL,
    township TEXT NOT NULL,
    department TEXT NOT NULL,
    score BIGINT NOT NULL,
    comment TEXT NOT NULL,
    by_user TEXT NOT NULL,
    at BIGINT NOT NULL,
    PRIMARY KEY (month, township, department)
)
;
