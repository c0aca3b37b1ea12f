-- Who may read a blob (issue 7): a reference grants its case's readers access only when the
-- account that added it holds the bytes, so knowing a photo's SHA-256 is not enough to read it.
-- `blob_holders`: accounts that sent every byte of a blob (checked against its name).
-- `blob_refs`: which account added each reference, recorded at admission (the projection's
-- `case_blobs` is rebuilt from documents, which do not say who added what).
CREATE TABLE blob_holders (
    sha256 TEXT NOT NULL,
    user_id TEXT NOT NULL,
    PRIMARY KEY (sha256, user_id)
)
;
CREATE TABLE blob_refs (
    case_id TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    user_id TEXT NOT NULL,
    PRIMARY KEY (case_id, sha256, user_id)
)
;
CREATE INDEX blob_refs_sha ON blob_refs (sha256)
;
-- A reference in `case_blobs` with no `blob_refs` row predates this migration and keeps
-- granting access (`Store::may_read_blob`); every reference admitted since has a row.
-- Blobs already stored are held by the accounts signed in on the device that sent them.
INSERT INTO blob_holders (sha256, user_id)
    SELECT DISTINCT b.sha256, u.user_id FROM blobs b JOIN device_users u ON u.device_id = b.device_id
;
-- Each account resumes its own upload; one who does not hold a stored blob proves it by
-- sending it. Uploads under way when this ran start again from byte 0.
DROP TABLE blob_parts
;
CREATE TABLE blob_parts (
    sha256 TEXT NOT NULL,
    user_id TEXT NOT NULL,
    start_at BIGINT NOT NULL,
    len BIGINT NOT NULL,
    total BIGINT NOT NULL,
    mime TEXT NOT NULL,
    bytes {blob} NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (sha256, user_id, start_at)
)
;
CREATE INDEX blob_parts_created ON blob_parts (created_at)
