-- The case loop (issue 5): deadlines, supervision, resolution and mediation in the projection,
-- so the supervision clock, the overdue filter and /v1/stats read one table. All derived from
-- the documents (rebuilt on migration).
ALTER TABLE cases ADD COLUMN due_at BIGINT
;
ALTER TABLE cases ADD COLUMN clock_started_at BIGINT
;
ALTER TABLE cases ADD COLUMN supervised_level TEXT
;
ALTER TABLE cases ADD COLUMN accepted_at BIGINT
;
ALTER TABLE cases ADD COLUMN resolved_at BIGINT
;
ALTER TABLE cases ADD COLUMN resolved_on_time BIGINT
;
ALTER TABLE cases ADD COLUMN resolved_level TEXT
;
ALTER TABLE cases ADD COLUMN mediation_result TEXT
;
ALTER TABLE cases ADD COLUMN referral TEXT
;
CREATE INDEX cases_due ON cases (due_at)
;
CREATE INDEX cases_created ON cases (created_at)
