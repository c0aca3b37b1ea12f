-- Issue 27: phone-to-phone sync (ADR 0030). A change a colleague's phone carried is stored as its
-- author device's, with the carrier's device and account beside it for the timeline (经 … 转交).
-- When a device was revoked: its certificates issued before then get nothing from a peer, and
-- phones learn of it at their sync for a certificate's lifetime.
ALTER TABLE changes ADD COLUMN relayed_by TEXT
;
ALTER TABLE changes ADD COLUMN relayed_user TEXT
;
ALTER TABLE devices ADD COLUMN revoked_at BIGINT
;
CREATE INDEX devices_revoked_at ON devices (revoked_at)
