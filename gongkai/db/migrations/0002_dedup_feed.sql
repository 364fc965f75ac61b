-- gongkai schema, version 2: near-duplicates, derived fields, sites, the consumer view.

-- How a URL relates to its report: where it was first found, the same article in another column,
-- or a repost of the text elsewhere (e.g. a town's report republished by the county office).
ALTER TABLE report_urls ADD COLUMN relation text NOT NULL DEFAULT 'primary';  -- primary | column | repost

-- Derived from the title: the period the report covers and what it contains.
ALTER TABLE reports ADD COLUMN period_year integer;
ALTER TABLE reports ADD COLUMN period_half text;                  -- H1 | H2 | year
ALTER TABLE reports ADD COLUMN kinds text[] NOT NULL DEFAULT '{}'; -- 总结 | 计划 | 思路

-- MinHash LSH band hashes of each report's body: candidate near-duplicates share a band hash.
CREATE TABLE report_bands (
    report_id bigint NOT NULL REFERENCES reports (id) ON DELETE CASCADE,
    band_hash bigint NOT NULL,
    PRIMARY KEY (band_hash, report_id)
);
CREATE INDEX report_bands_report ON report_bands (report_id);

-- Configured sites, written by crawls of named sites: where a report comes from.
CREATE TABLE sites (
    name       text PRIMARY KEY,
    province   text,
    city       text,
    county     text,
    town       text,
    platform   text,
    listings   text[] NOT NULL DEFAULT '{}',
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- An article that vanished from its listing is marked here by a complete walk of that listing.
ALTER TABLE crawl_urls ADD COLUMN delisted_at timestamptz;

-- The stable, documented interface for consumers. Columns are only ever added, never renamed.
CREATE VIEW public_reports AS
SELECT r.id, r.seq, r.url,
       ARRAY(SELECT u.url FROM report_urls u WHERE u.report_id = r.id ORDER BY u.first_seen_at, u.url) AS urls,
       r.site, r.title, r.index_no, r.publisher, r.doc_no, r.written_date, r.published_date, r.category,
       r.body, r.attachments, r.metadata, r.version, r.first_seen_at, r.updated_at, r.withdrawn_at,
       r.period_year, r.period_half, r.kinds,
       s.province, s.city, s.county, COALESCE(s.town, r.publisher) AS town
FROM reports r
LEFT JOIN sites s ON s.name = r.site;
