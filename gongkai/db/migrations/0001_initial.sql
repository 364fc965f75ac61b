-- gongkai schema, version 1.
-- Data flows one way: crawl_urls/staged_pages (crawler) -> reports (+ report_urls, report_versions) (ingest).

-- One row per crawl invocation: what it did and how it ended.
CREATE TABLE crawl_runs (
    id          bigserial PRIMARY KEY,
    started_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    status      text NOT NULL DEFAULT 'running',      -- running | ok | failed | interrupted
    listing_urls text[] NOT NULL DEFAULT '{}',
    stats       jsonb NOT NULL DEFAULT '{}'::jsonb,
    error       text
);

-- The frontier: every article URL a listing ever showed us, and where its fetching stands.
-- A URL whose fetch failed stays 'failed' and is retried by the next crawl of its site.
CREATE TABLE crawl_urls (
    url             text PRIMARY KEY,
    site            text NOT NULL,
    column_url      text,
    listing_title   text,
    listing_date    date,
    state           text NOT NULL DEFAULT 'pending',   -- pending | fetched | failed | gone | blocked
    attempts        integer NOT NULL DEFAULT 0,
    last_status     integer,
    last_error      text,
    first_listed_at timestamptz NOT NULL DEFAULT now(),
    last_listed_at  timestamptz NOT NULL DEFAULT now(),
    last_fetched_at timestamptz,
    etag            text,
    last_modified   text
);
CREATE INDEX crawl_urls_site_state ON crawl_urls (site, state);

-- Every raw response fetched for an article, append-only: nothing the crawler fetched is lost,
-- and `gongkai reingest` can re-extract without re-crawling.
CREATE TABLE staged_pages (
    id            bigserial PRIMARY KEY,
    url           text NOT NULL,             -- the article URL as listed
    final_url     text NOT NULL,             -- after redirects
    site          text NOT NULL,
    column_url    text,
    listing_title text,
    listing_date  date,
    status        integer NOT NULL,
    headers       jsonb NOT NULL DEFAULT '{}'::jsonb,
    body          bytea NOT NULL,
    body_sha256   bytea NOT NULL,
    fetched_at    timestamptz NOT NULL,
    crawl_run_id  bigint REFERENCES crawl_runs (id),
    ingest_state  text NOT NULL DEFAULT 'pending',   -- pending | done | skipped | error
    ingested_at   timestamptz,
    ingest_note   text,
    report_id     bigint
);
CREATE INDEX staged_pages_pending ON staged_pages (id) WHERE ingest_state = 'pending';
CREATE INDEX staged_pages_url ON staged_pages (url);

-- The product: one row per report, however many URLs it was found at.
CREATE TABLE reports (
    id             bigserial PRIMARY KEY,
    seq            bigint NOT NULL UNIQUE,    -- change sequence: bumped on every insert or update
    url            text NOT NULL,             -- canonical URL (where the report was first found)
    site           text NOT NULL,
    title          text NOT NULL,
    index_no       text,
    publisher      text,
    doc_no         text,
    written_date   date,
    published_date date,
    category       text,
    body           text NOT NULL,
    attachments    jsonb NOT NULL DEFAULT '[]'::jsonb,
    metadata       jsonb NOT NULL DEFAULT '{}'::jsonb,
    article_key    text,                      -- host + platform article id: one article under many columns
    body_hash      bytea NOT NULL,            -- sha256 of the whitespace-normalised body
    content_hash   bytea NOT NULL,            -- sha256 of every extracted field: detects real changes
    version        integer NOT NULL DEFAULT 1,
    first_seen_at  timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    withdrawn_at   timestamptz,
    source_page_id bigint REFERENCES staged_pages (id)
);
CREATE UNIQUE INDEX reports_article_key ON reports (article_key) WHERE article_key IS NOT NULL;
CREATE INDEX reports_body_hash ON reports (body_hash);
CREATE INDEX reports_site ON reports (site);

-- Every URL a report was found at (the canonical one included).
CREATE TABLE report_urls (
    url           text PRIMARY KEY,
    report_id     bigint NOT NULL REFERENCES reports (id),
    first_seen_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX report_urls_report ON report_urls (report_id);

-- Earlier versions of a report, kept when its text changed at the same URL.
CREATE TABLE report_versions (
    report_id   bigint NOT NULL REFERENCES reports (id),
    version     integer NOT NULL,
    title       text NOT NULL,
    body        text NOT NULL,
    fields      jsonb NOT NULL,             -- the other extracted fields of that version
    valid_from  timestamptz NOT NULL,
    valid_to    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (report_id, version)
);

-- A single-row counter for `reports.seq`. Writers bump it inside their transaction, so the row lock
-- orders them: a consumer reading `seq > last` can never see a later seq commit before an earlier one.
CREATE TABLE feed_counter (
    id  boolean PRIMARY KEY DEFAULT true CHECK (id),
    seq bigint NOT NULL
);
INSERT INTO feed_counter (id, seq) VALUES (true, 0);

-- Report bodies are long Chinese texts: lz4 compresses them cheaper than pglz, where the server has it.
DO $$
BEGIN
    ALTER TABLE reports ALTER COLUMN body SET COMPRESSION lz4;
    ALTER TABLE report_versions ALTER COLUMN body SET COMPRESSION lz4;
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'lz4 compression unavailable, keeping the default';
END $$;
