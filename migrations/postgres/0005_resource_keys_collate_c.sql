-- Resource types and ids compare byte by byte, as in the index tables
-- (idx_reference.target_type / target_id are COLLATE "C"). With the
-- database's default collation on `resources`, a join from idx_reference to
-- resources (_include, chains) could not use the (rtype, id) index and
-- hash-joined a scan of every resource (docs/PERFORMANCE.md, search).
ALTER TABLE resources
    ALTER COLUMN rtype TYPE TEXT COLLATE "C",
    ALTER COLUMN id TYPE TEXT COLLATE "C";
