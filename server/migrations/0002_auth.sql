-- Token signing keys and per-device refresh tokens.

-- Shared by every server on the database so tokens verify on any of them.
CREATE TABLE signing_keys (
    id TEXT PRIMARY KEY,
    private_pkcs8 {blob} NOT NULL,
    public_raw {blob} NOT NULL,
    created_at BIGINT NOT NULL
)
;
-- Only a SHA-256 of each token is kept. A family is one device's chain of rotations: presenting
-- a used token again revokes the whole family (the token was stolen or replayed).
CREATE TABLE refresh_tokens (
    hash TEXT PRIMARY KEY,
    family TEXT NOT NULL,
    device_id TEXT NOT NULL REFERENCES devices(id),
    user_id TEXT NOT NULL REFERENCES users(id),
    issued_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used BIGINT NOT NULL DEFAULT 0,
    revoked BIGINT NOT NULL DEFAULT 0
)
;
CREATE INDEX refresh_tokens_family ON refresh_tokens (family)
