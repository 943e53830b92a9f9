-- Same model as migrations/postgres/0003_full_text.sql; see the comments
-- there. The words are indexed by an FTS5 table over `idx_text` (external
-- content: the text is stored once, in `idx_text`), kept in step by
-- triggers, so the store writes and deletes `idx_text` rows as it does on
-- PostgreSQL.
--
-- - tokenize = 'ascii': splits at ASCII characters that are not letters or
--   digits (here: the spaces and '|'), and takes every other character as
--   part of a word. Ipê has folded the text already, so FTS5's words are
--   exactly Ipê's (unicode61 would apply its own, older, idea of letters).
-- - detail = 'column': which column a word is in (for `_text`), no
--   positions; quoted phrases are checked on the text, as on PostgreSQL.
-- - columnsize = 0: no per-row word counts, which only ranking uses.
-- - `rkey` is the rowid of both tables.
CREATE TABLE idx_text (
    rkey            INTEGER PRIMARY KEY,
    narrative       TEXT NOT NULL,
    data            TEXT NOT NULL
);

CREATE VIRTUAL TABLE idx_text_fts USING fts5 (
    narrative, data,
    content = 'idx_text', content_rowid = 'rkey',
    tokenize = 'ascii', detail = 'column', columnsize = 0
);

CREATE TRIGGER idx_text_insert AFTER INSERT ON idx_text BEGIN
    INSERT INTO idx_text_fts (rowid, narrative, data) VALUES (new.rkey, new.narrative, new.data);
END;

-- FTS5 removes a row by the words it was given: the old values, exactly.
CREATE TRIGGER idx_text_delete AFTER DELETE ON idx_text BEGIN
    INSERT INTO idx_text_fts (idx_text_fts, rowid, narrative, data)
    VALUES ('delete', old.rkey, old.narrative, old.data);
END;

-- The store never updates a row (it deletes and inserts), but an update
-- must not leave the words of the old text behind.
CREATE TRIGGER idx_text_update AFTER UPDATE ON idx_text BEGIN
    INSERT INTO idx_text_fts (idx_text_fts, rowid, narrative, data)
    VALUES ('delete', old.rkey, old.narrative, old.data);
    INSERT INTO idx_text_fts (rowid, narrative, data) VALUES (new.rkey, new.narrative, new.data);
END;
