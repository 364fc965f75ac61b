-- gongkai schema, version 4: cheaper LSH band index for the batched store.
--
-- Writing a report's 32 band rows cost more than writing the report itself: per row a heap tuple, two
-- b-tree entries and a foreign-key check. Now:
-- * the report row carries all its band hashes (`bands`), which is what the near-duplicate test counts;
-- * report_bands only indexes them for lookup: a report written from now on gets the rows of its first
--   17 bands (the store probes a page's first 17: a report sharing 16 of 32 bands shares one of those,
--   see store.probe_bands); reports written before keep all 32 rows, which those probes find as well;
-- * no foreign key and no report_id index on it: only the store writes it, in the transaction that writes
--   the report, and it deletes a report's rows by their hashes (reports.bands).

ALTER TABLE reports ADD COLUMN bands bigint[] NOT NULL DEFAULT '{}';

UPDATE reports r SET bands = b.bands
FROM (SELECT report_id, array_agg(band_hash ORDER BY band_hash) AS bands FROM report_bands GROUP BY report_id) b
WHERE b.report_id = r.id;

ALTER TABLE report_bands DROP CONSTRAINT IF EXISTS report_bands_report_id_fkey;
DROP INDEX IF EXISTS report_bands_report;
