-- gongkai schema, version 3: the `gongkai serve` daemon's state, so it survives restarts.

-- Which configured site a crawl run was for. Filled on insert from `sites` (the crawl writes only its
-- listing URLs): the site whose listings contain the run's listings, when exactly one does.
ALTER TABLE crawl_runs ADD COLUMN site text;
CREATE INDEX crawl_runs_site ON crawl_runs (site, id);
CREATE INDEX staged_pages_crawl_run ON staged_pages (crawl_run_id);

CREATE FUNCTION crawl_runs_fill_site() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.site IS NULL THEN
        SELECT min(s.name) INTO NEW.site FROM sites s
        WHERE NEW.listing_urls <@ s.listings
        HAVING count(*) = 1;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER crawl_runs_fill_site BEFORE INSERT ON crawl_runs
    FOR EACH ROW EXECUTE FUNCTION crawl_runs_fill_site();

-- One row per scheduled job ('crawl:<site>' or 'ingest'): when it last ran and when it runs next.
-- On start the service derives each job's next run from last_started_at, so a run missed while it was
-- down happens once (coalesced), and one that was not due yet keeps its time.
CREATE TABLE service_jobs (
    job              text PRIMARY KEY,
    site             text,
    schedule         text NOT NULL DEFAULT '',
    next_run_at      timestamptz,
    last_started_at  timestamptz,
    last_finished_at timestamptz,
    last_status      text,            -- ok | failed | interrupted | busy
    last_error       text,
    running          boolean NOT NULL DEFAULT false,
    updated_at       timestamptz NOT NULL DEFAULT now()
);

-- The service instance holding the scheduler lock (one per database): for `gongkai status`.
CREATE TABLE service_state (
    id           boolean PRIMARY KEY DEFAULT true CHECK (id),
    pid          integer,
    host         text,
    http_url     text,
    config_path  text,
    started_at   timestamptz,
    heartbeat_at timestamptz,
    stopped_at   timestamptz
);

-- The crawl history the issue asks for: per run, its site, times, page counts and error.
-- new/updated count the reports its pages created or changed once ingested.
CREATE VIEW crawl_history AS
SELECT r.id, r.site, r.started_at, r.finished_at, r.status,
       COALESCE((r.stats ->> 'fetched')::integer, 0) AS pages_fetched,
       COALESCE((r.stats ->> 'failed')::integer, 0) AS pages_failed,
       (SELECT count(*) FROM staged_pages p WHERE p.crawl_run_id = r.id AND p.ingest_note = 'new') AS pages_new,
       (SELECT count(*) FROM staged_pages p WHERE p.crawl_run_id = r.id AND p.ingest_note = 'updated')
           AS pages_updated,
       r.error
FROM crawl_runs r;
