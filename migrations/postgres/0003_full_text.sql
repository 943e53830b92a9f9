-- Full-text search (`_text`, `_content`; https://hl7.org/fhir/R4/search.html#text):
-- one row per current resource, replaced with every version and removed on
-- delete, like the rows of 0002_search_index.sql (see store/write.rs).
--
-- The words are Ipê's, not PostgreSQL's: `narrative` (the text of the
-- resource's `text.div`) and `data` (its string, markdown and code values,
-- separated by ' | ') are already folded by ipe::index::full_text — lower
-- case, no accents, one space between words. `words` is built from them
-- without the text-search parser (array_to_tsvector of the space-separated
-- parts, '|' dropped), so no dictionary, stemmer or locale changes a word,
-- and the words are exactly those SQLite's FTS5 table holds. No positions
-- are kept: quoted phrases are checked on `narrative` / `data` themselves.
--
-- One GIN index on the words of both columns serves `_content` directly and
-- `_text` as a first filter (the narrative's words are among them); the
-- narrative is then checked on its own column.
CREATE TABLE idx_text (
    rkey            BIGINT NOT NULL,
    narrative       TEXT COLLATE "C" NOT NULL,
    data            TEXT COLLATE "C" NOT NULL,
    words           tsvector GENERATED ALWAYS AS (
        array_to_tsvector(array_remove(array_remove(
            string_to_array(narrative || ' ' || data, ' '), ''), '|'))
    ) STORED
);
CREATE INDEX idx_text_rkey ON idx_text (rkey);
CREATE INDEX idx_text_words ON idx_text USING gin (words);
