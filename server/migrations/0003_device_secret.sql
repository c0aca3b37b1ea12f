-- A device proves it is the device it names: the first sign-in on a device id returns a secret
-- the phone keeps (encrypted); later sign-ins on that id must present it. Only its SHA-256 is
-- kept.
ALTER TABLE devices ADD COLUMN secret_hash TEXT
