-- Issue 24: notices and SMS (ADR 0027). A notice is one row per recipient account, written in
-- the transaction of the step that causes it, numbered from the `notices` counter under the
-- feed lock (so a phone's "after N" never skips one that commits late); `key` makes it
-- once-only; `draft_key` (the key before the recipient) lets the clock skip reminders it wrote.
-- The SMS outbox holds what goes out through the county's gateway: pending rows are
-- claimed by moving `next_at` ahead (a lease), so a killed server's claim runs out and the row
-- is sent again with the same id (the gateway's idempotency key). Accounts may have a phone
-- number and may opt out of SMS; devices keep the tag and the key their urgent SMS reports are
-- signed with (derived from the device secret, learnt at sign-in).
ALTER TABLE users ADD COLUMN phone TEXT
;
ALTER TABLE users ADD COLUMN sms_opt_out BIGINT NOT NULL DEFAULT 0
;
ALTER TABLE devices ADD COLUMN sms_tag TEXT
;
ALTER TABLE devices ADD COLUMN sms_key TEXT
;
CREATE UNIQUE INDEX devices_sms_tag ON devices (sms_tag)
;
INSERT INTO counters (name, value) VALUES ('notices', 0)
;
CREATE TABLE notices (
    id BIGINT PRIMARY KEY,
    notice_key TEXT NOT NULL UNIQUE,
    draft_key TEXT NOT NULL,
    user_id TEXT NOT NULL,
    case_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    body TEXT NOT NULL,
    urgent BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    read_at BIGINT
)
;
CREATE INDEX notices_user ON notices (user_id, id)
;
CREATE INDEX notices_draft ON notices (draft_key)
;
CREATE TABLE sms_outbox (
    id TEXT PRIMARY KEY,
    notice_key TEXT NOT NULL UNIQUE,
    draft_key TEXT NOT NULL,
    user_id TEXT,
    case_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    to_number TEXT NOT NULL,
    body TEXT NOT NULL,
    urgent BIGINT NOT NULL,
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_at BIGINT NOT NULL,
    last_error TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    sent_at BIGINT
)
;
CREATE INDEX sms_outbox_due ON sms_outbox (state, next_at)
;
CREATE INDEX sms_outbox_number ON sms_outbox (to_number, sent_at)
;
CREATE INDEX sms_outbox_draft ON sms_outbox (draft_key)
;
CREATE TABLE sms_inbound_parts (
    link TEXT NOT NULL,
    part TEXT NOT NULL,
    body TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (link, part)
)
