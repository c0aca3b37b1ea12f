-- Photos and documents (issue 7): blobs named by SHA-256, stored once in the object store.
-- `case_blobs` (from each case's attachments, rebuilt with the projection) decides who may read
-- a blob: whoever may read one case that references it. Uploads arrive in parts kept here, in
-- the database, until the last byte (at most 20 MiB per blob): any server on the database can
-- resume an upload another began, and the object store only ever holds whole, checked blobs.
CREATE TABLE blobs (
    sha256 TEXT PRIMARY KEY,
    mime TEXT NOT NULL,
    size BIGINT NOT NULL,
    device_id TEXT NOT NULL,
    created_at BIGINT NOT NULL
)
;
CREATE TABLE case_blobs (
    case_id TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    PRIMARY KEY (case_id, sha256)
)
;
CREATE INDEX case_blobs_sha ON case_blobs (sha256)
;
CREATE TABLE blob_parts (
    sha256 TEXT NOT NULL,
    start_at BIGINT NOT NULL,
    len BIGINT NOT NULL,
    total BIGINT NOT NULL,
    mime TEXT NOT NULL,
    bytes {blob} NOT NULL,
    PRIMARY KEY (sha256, start_at)
)
