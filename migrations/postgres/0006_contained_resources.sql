-- Contained resources (https://hl7.org/fhir/R4/search.html#contained), for
-- `_contained=true|both`: one row per contained resource (with an id) of a
-- current resource, written, replaced and deleted with its container in
-- the same statement (store/write.rs).
--
-- A contained resource's search index rows live in the idx_* tables beside
-- everyone else's, under its own key `ckey` instead of an rkey. Contained
-- keys are negative and rkeys positive, so an ordinary search — whose
-- criteria are `r.rkey IN (SELECT rkey FROM idx_… WHERE …)` on `resources`
-- — can never match a container through its contained resources' rows,
-- and needs no extra column or condition to tell them apart: the index
-- tables and their statements are unchanged. A key is derived from the
-- container's rkey and the position (1-based) in its `contained` array:
--
--     ckey = -2^62 + rkey * 2^20 + position
--
-- so a container's contained keys are one range (what the reindex job and
-- the keyset order rely on), ordered by container, then position. Up to
-- 2^20 - 1 contained resources per resource and rkeys below 2^42; past
-- that the arithmetic overflows and the write fails, never mixing keys.
--
-- No primary key on `ckey`: an update deletes a container's rows and
-- inserts their successors (the same keys, mostly) in one statement, whose
-- parts all see the same snapshot — a unique index would see the old row
-- still there. The keys are unique by construction.
CREATE TABLE contained_resources (
    ckey            BIGINT NOT NULL,
    rkey            BIGINT NOT NULL,        -- the container
    rtype           TEXT COLLATE "C" NOT NULL,
    id              TEXT COLLATE "C" NOT NULL
);
CREATE INDEX contained_resources_rkey ON contained_resources (rkey);
CREATE INDEX contained_resources_type ON contained_resources (rtype, ckey);
