-- Issue 8: a phone's pull reads the changes of the cases in its scope. With the scope as
-- equalities on the path's codes, this index finds those cases, and `changes_doc` their
-- changes after the cursor, instead of scanning every change of the county since the cursor
-- (a morning storm made that quadratic: each phone read the whole storm).
CREATE INDEX cases_scope ON cases (county, township, village, grid)
;
