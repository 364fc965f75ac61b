-- gongkai schema, version 8: full-text search of reports (the `gongkai web` readers' search).
--
-- Chinese has no spaces, and a word segmenter loses matches (朱溪镇 cut as 朱溪/镇 is not found as 溪镇), so
-- the index holds every character and every pair of adjacent characters (unigrams and bigrams) of a
-- report's folded text. A query term of one or two characters is then answered by the index exactly; a
-- longer term needs all its bigrams (the index's candidates) and is confirmed by strpos() on the folded
-- text. No extension is needed: pg_trgm is not in the embedded server's build (pgserver ships plpgsql and
-- vector only), and trigrams would not index a two-character term anyway.
--
-- * `reports.search_text`: title, a newline, body, folded: NFKC (full-width ％ ２０２３ （ → % 2023 (,
--   on a UTF8 server) and lower case. Kept by a trigger on every insert and on every update that changes
--   the title or the body, so ingest needs no Python for it. The web search confirms matches on it.
-- * `reports_search`: GIN over gongkai_search_keys(): those grams plus a key for the report's site, its
--   period_year and each of its kinds, so a query with filters is one intersection of posting lists in
--   the index (乡村 in 2023 in these four sites), not a heap visit of every report holding 乡村. An
--   expression index: the keys are never stored in the table, and PostgreSQL keeps the index current on
--   every insert and update. Its cost is in the writes: a report's ~3,500 distinct keys, measured by
--   bench/search.py (build time, per-insert cost, query latency at 100,000 reports).
-- * `reports_browse`: the order results are listed in when there is no query (newest first).

DO $$
BEGIN
    IF current_setting('server_encoding') = 'UTF8' THEN
        EXECUTE $f$CREATE FUNCTION gongkai_search_fold(t text) RETURNS text
            LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
            RETURN lower(normalize(t, NFKC))$f$;
    ELSE
        EXECUTE $f$CREATE FUNCTION gongkai_search_fold(t text) RETURNS text
            LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
            RETURN lower(t)$f$;
    END IF;
END $$;

-- Every character and every pair of adjacent characters of folded text t (duplicates included: GIN keeps
-- each key once per row). Pairs come from two regexp passes cutting t, and t from its second character,
-- into two-character pieces (chr(1) marks the cuts, so it is taken out of t first). A pair holding a
-- space or newline is kept too: no query term holds one, so such keys are never asked for.
CREATE FUNCTION gongkai_search_grams(t text) RETURNS text[]
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE COST 100000
    RETURN array_remove(
        string_to_array(replace(t, chr(1), ' '), NULL)
        || string_to_array(regexp_replace(replace(t, chr(1), ' '), '..', E'\\&\x01', 'g'), chr(1))
        || string_to_array(regexp_replace(substr(replace(t, chr(1), ' '), 2), '..', E'\\&\x01', 'g'), chr(1)),
        '');

-- The filter keys start with chr(1), which no gram holds: 's' site, 'y' period_year, 'k' each kind.
CREATE FUNCTION gongkai_search_keys(search_text text, site text, period_year integer, kinds text[]) RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE COST 100000
    RETURN gongkai_search_grams(COALESCE(search_text, ''))
        || ARRAY[chr(1) || 's' || COALESCE(site, '')]
        || CASE WHEN period_year IS NULL THEN '{}'::text[] ELSE ARRAY[chr(1) || 'y' || period_year] END
        || ARRAY(SELECT chr(1) || 'k' || k FROM unnest(COALESCE(kinds, '{}'::text[])) AS k);

ALTER TABLE reports ADD COLUMN search_text text;
DO $$
BEGIN
    ALTER TABLE reports ALTER COLUMN search_text SET COMPRESSION lz4;
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'lz4 compression unavailable, keeping the default';
END $$;

CREATE FUNCTION reports_search_text() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.search_text := gongkai_search_fold(NEW.title || E'\n' || NEW.body);
    RETURN NEW;
END $$;
CREATE TRIGGER reports_search_text_insert BEFORE INSERT ON reports
    FOR EACH ROW EXECUTE FUNCTION reports_search_text();
CREATE TRIGGER reports_search_text_update BEFORE UPDATE OF title, body ON reports
    FOR EACH ROW WHEN (NEW.title IS DISTINCT FROM OLD.title OR NEW.body IS DISTINCT FROM OLD.body)
    EXECUTE FUNCTION reports_search_text();

UPDATE reports SET search_text = gongkai_search_fold(title || E'\n' || body);

-- COLLATE "C": keys compare as bytes (memcmp), not through the locale; inserting a report's few thousand
-- keys is a third cheaper, and queries ask with the same collation.
CREATE INDEX reports_search ON reports
    USING gin ((gongkai_search_keys(search_text, site, period_year, kinds)) COLLATE "C");
CREATE INDEX reports_browse ON reports ((COALESCE(published_date, DATE '0001-01-01')) DESC, id DESC);
