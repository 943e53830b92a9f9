-- Reindex jobs (crate::reindex): when a SearchParameter is created or
-- changed on the server, the resources written before it get its index rows
-- from a background job. One row per (parameter URL, definition): the same
-- definition is never reindexed twice, and a job left unfinished by a stop
-- resumes from `after_rkey` at the next start.
--
-- state: 'scan' (every resource of the types, in rkey order), 'catch-up'
-- (again, those written since shortly before the job began: a write that
-- extracted its rows with the old registry may commit after the scan passed
-- it), 'done'.
CREATE TABLE reindex_jobs (
    id           BIGSERIAL PRIMARY KEY,
    param_url    TEXT   NOT NULL,
    definition   TEXT   NOT NULL,
    code         TEXT   NOT NULL,
    types        TEXT   NOT NULL, -- space-separated resource types
    state        TEXT   NOT NULL,
    after_rkey   BIGINT NOT NULL DEFAULT 0,
    processed    BIGINT NOT NULL DEFAULT 0,
    created_at   BIGINT NOT NULL, -- microseconds since the epoch
    finished_at  BIGINT,
    UNIQUE (param_url, definition)
);
