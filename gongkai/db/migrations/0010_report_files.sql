-- gongkai schema, version 10: reports whose text is in their files (issue 26), and versions made only by
-- real changes.
--
-- * `body_source`: where the body was read: 'page' (the page's own text), 'attachment' (read from a file the
--   page links, or the listed file itself), 'ocr' (read from a scan by OCR). NULL: stored before this
--   migration and not re-ingested since.
-- * `cover_note`: a pointer page's own text (检查情况详见附件, under POINTER_MAX_CHARS characters) when the body
--   was read from its file; NULL otherwise (a page of only file names and 附件 labels has no note: its files
--   are in `attachments`).
-- * `attachment_text`: the text of the files beside a page that has its own body (a full report with an
--   attached table), in attachment order, one paragraph per line, a blank line between two files.
-- * `files`: one record per attachment, in order: {url, name (the link text / showname), filename (the
--   Content-Disposition's, GBK or RFC 5987), size, sha256, kind (by its bytes), staged_page_id (the
--   staged_pages row holding the original bytes), chars, ocr, confidence, used ('body' | 'beside' | null),
--   note (why no text was read)}. A file not fetched has only url and name, and a note.
-- * `derived_hash`: sha256 of what is derived from the page and its files (body_source, files,
--   attachment_text, extraction, period, kinds); `content_hash` covers the report's own text and metadata.
--   A report gets a new version only when the latter really changes (see gongkai.ingest.store).
ALTER TABLE reports
    ADD COLUMN body_source text,
    ADD COLUMN cover_note text,
    ADD COLUMN attachment_text text,
    ADD COLUMN files jsonb NOT NULL DEFAULT '[]'::jsonb,
    ADD COLUMN derived_hash bytea;
DO $$
BEGIN
    ALTER TABLE reports ALTER COLUMN attachment_text SET COMPRESSION lz4;
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'lz4 compression unavailable, keeping the default';
END $$;

-- Search finds a report by its files' text and its cover note too. concat_ws skips NULLs, so a report with
-- neither keeps exactly the search_text migration 0008 gave it (title, a newline, body): nothing to rewrite.
CREATE OR REPLACE FUNCTION reports_search_text() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.search_text := gongkai_search_fold(concat_ws(E'\n', NEW.title, NEW.cover_note, NEW.body, NEW.attachment_text));
    RETURN NEW;
END $$;
DROP TRIGGER reports_search_text_update ON reports;
CREATE TRIGGER reports_search_text_update BEFORE UPDATE OF title, body, cover_note, attachment_text ON reports
    FOR EACH ROW WHEN (NEW.title IS DISTINCT FROM OLD.title OR NEW.body IS DISTINCT FROM OLD.body
                       OR NEW.cover_note IS DISTINCT FROM OLD.cover_note
                       OR NEW.attachment_text IS DISTINCT FROM OLD.attachment_text)
    EXECUTE FUNCTION reports_search_text();

-- The consumer interface: columns only ever added (CREATE OR REPLACE keeps the others, new ones go last).
CREATE OR REPLACE VIEW public_reports AS
SELECT r.id, r.seq, r.url,
       ARRAY(SELECT u.url FROM report_urls u WHERE u.report_id = r.id ORDER BY u.first_seen_at, u.url) AS urls,
       r.site, r.title, r.index_no, r.publisher, r.doc_no, r.written_date, r.published_date, r.category,
       r.body, r.attachments, r.metadata, r.version, r.first_seen_at, r.updated_at, r.withdrawn_at,
       r.period_year, r.period_half, r.kinds,
       s.province, s.city, s.county, COALESCE(s.town, r.publisher) AS town,
       r.extraction,
       r.body_source, r.cover_note, r.attachment_text, r.files
FROM reports r
LEFT JOIN sites s ON s.name = r.site;
