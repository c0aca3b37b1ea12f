-- Issue 22: residents' channels. The projection learns each case's source (来源), its first
-- response, whether it was answered (答复), whose rating stands and the return visits, all
-- derived from the documents (rebuilt on migration). Receipts let a requester look a case up
-- (the code kept only as a hash); intake channels and their orders make a retried work order
-- one case (the first answer, receipt and code included, is kept and given again).
ALTER TABLE cases ADD COLUMN source TEXT NOT NULL DEFAULT 'other'
;
ALTER TABLE cases ADD COLUMN first_response_at BIGINT
;
ALTER TABLE cases ADD COLUMN replied BIGINT NOT NULL DEFAULT 0
;
ALTER TABLE cases ADD COLUMN rating_by_requester BIGINT NOT NULL DEFAULT 0
;
ALTER TABLE cases ADD COLUMN return_visits BIGINT NOT NULL DEFAULT 0
;
CREATE TABLE receipts (
    receipt_no TEXT PRIMARY KEY,
    case_id TEXT NOT NULL UNIQUE,
    code_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL
)
;
CREATE TABLE intake_channels (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    source TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
)
;
CREATE TABLE intake_orders (
    channel_id TEXT NOT NULL,
    order_ref TEXT NOT NULL,
    body_hash TEXT NOT NULL,
    case_id TEXT NOT NULL,
    response TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (channel_id, order_ref)
)
;
