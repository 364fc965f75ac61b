-- gongkai schema, version 7: what kind of crawl a run was.
--
-- `gongkai serve` turns a site's scheduled crawl into a refresh (--full --revalidate: every listing page
-- walked, every stored article re-checked with a conditional request) when its last refresh is older
-- than the site's `refresh` period; it finds that run here. Runs from before this version were routine
-- as far as anyone can tell now, so the first scheduled crawl after the upgrade refreshes.
ALTER TABLE crawl_runs
    ADD COLUMN full_walk boolean NOT NULL DEFAULT false,
    ADD COLUMN revalidated boolean NOT NULL DEFAULT false;
CREATE INDEX crawl_runs_refresh ON crawl_runs (site, started_at) WHERE full_walk AND revalidated;

-- crawl_history says what kind of run each was (new columns go last: CREATE OR REPLACE keeps the rest).
CREATE OR REPLACE VIEW crawl_history AS
SELECT r.id, r.site, r.started_at, r.finished_at, r.status,
       COALESCE((r.stats ->> 'fetched')::integer, 0) AS pages_fetched,
       COALESCE((r.stats ->> 'failed')::integer, 0) AS pages_failed,
       (SELECT count(*) FROM staged_pages p WHERE p.crawl_run_id = r.id AND p.ingest_note = 'new') AS pages_new,
       (SELECT count(*) FROM staged_pages p WHERE p.crawl_run_id = r.id AND p.ingest_note = 'updated')
           AS pages_updated,
       r.error,
       CASE WHEN r.full_walk AND r.revalidated THEN 'refresh' WHEN r.full_walk THEN 'full'
            WHEN r.revalidated THEN 'revalidate' ELSE 'routine' END AS kind
FROM crawl_runs r;
