-- Same model as migrations/postgres/0006_contained_resources.sql; see the
-- comments there.
CREATE TABLE contained_resources (
    ckey            INTEGER PRIMARY KEY,
    rkey            INTEGER NOT NULL,
    rtype           TEXT NOT NULL,
    id              TEXT NOT NULL
);
CREATE INDEX contained_resources_rkey ON contained_resources (rkey);
CREATE INDEX contained_resources_type ON contained_resources (rtype, ckey);
