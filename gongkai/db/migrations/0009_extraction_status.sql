-- gongkai schema, version 9: nothing wrong stored as done, and run records that tell the truth.
--
-- reports.extraction: NULL for a clean report; else what extraction could not read (its problems joined by
-- "; ": mojibake, undecodable bytes, ...). Such a report is kept (its page is all there is of it) but never
-- passes for a clean one: consumers see the column in public_reports, `gongkai status` and the service's
-- alarms count it.
ALTER TABLE reports ADD COLUMN extraction text;

-- The consumer interface: columns only ever added (CREATE OR REPLACE keeps the others, new ones go last).
CREATE OR REPLACE VIEW public_reports AS
SELECT r.id, r.seq, r.url,
       ARRAY(SELECT u.url FROM report_urls u WHERE u.report_id = r.id ORDER BY u.first_seen_at, u.url) AS urls,
       r.site, r.title, r.index_no, r.publisher, r.doc_no, r.written_date, r.published_date, r.category,
       r.body, r.attachments, r.metadata, r.version, r.first_seen_at, r.updated_at, r.withdrawn_at,
       r.period_year, r.period_half, r.kinds,
       s.province, s.city, s.county, COALESCE(s.town, r.publisher) AS town,
       r.extraction
FROM reports r
LEFT JOIN sites s ON s.name = r.site;

-- Which process runs a crawl: its pid and host, and the database session (backend pid) holding the crawl's
-- per-host advisory locks for its whole life. A 'running' row whose session is gone (and whose process, on
-- this host, is gone) was left by a killed crawl: any command opening the database marks it interrupted.
ALTER TABLE crawl_runs
    ADD COLUMN pid integer,
    ADD COLUMN host text,
    ADD COLUMN lock_backend integer;
CREATE INDEX crawl_runs_running ON crawl_runs (id) WHERE status = 'running';
