-- Issue 25: evidence that holds up (ADR 0028). A phone's Ed25519 public key is bound to its
-- device at sign-in like the device secret; every signature the server checked at admission (and
-- every one it made for its own changes) is kept beside the change, with the public key it
-- verified under, never rewritten. The server's change-signing key is its own table, apart from
-- the token keys, so rotating one leaves the other.
ALTER TABLE devices ADD COLUMN sign_key {blob}
;
CREATE TABLE change_keys (
    id TEXT PRIMARY KEY,
    private_pkcs8 {blob} NOT NULL,
    public_raw {blob} NOT NULL,
    created_at BIGINT NOT NULL
)
;
CREATE TABLE change_sigs (
    seq BIGINT PRIMARY KEY,
    signer TEXT NOT NULL,
    public_key {blob} NOT NULL,
    sig {blob} NOT NULL
)
;
-- The receipt log: one entry per committed push, appended under the feed lock, each entry's hash
-- over its canonical CBOR (which holds the previous entry's hash). Changes before this migration
-- came before the chain: `receipts_from` is the feed position the chain starts after.
CREATE TABLE receipt_log (
    seq BIGINT PRIMARY KEY,
    hash {blob} NOT NULL,
    first_feed BIGINT NOT NULL,
    last_feed BIGINT NOT NULL,
    entry {blob} NOT NULL
)
;
CREATE INDEX receipt_log_feed ON receipt_log (last_feed)
;
INSERT INTO counters (name, value) SELECT 'receipts_from', value FROM counters WHERE name = 'feed'
;
-- The read audit: every read of a case's personal data, hash-chained like the receipts, under
-- its own lock row (not the feed's), so a read never waits for a push.
INSERT INTO counters (name, value) VALUES ('read_audit', 0)
;
CREATE TABLE read_audit (
    seq BIGINT PRIMARY KEY,
    hash {blob} NOT NULL,
    at BIGINT NOT NULL,
    user_id TEXT NOT NULL,
    case_id TEXT NOT NULL,
    route TEXT NOT NULL,
    addr TEXT NOT NULL,
    entry {blob} NOT NULL
)
;
CREATE INDEX read_audit_case ON read_audit (case_id, seq)
;
CREATE INDEX read_audit_user ON read_audit (user_id, seq)
