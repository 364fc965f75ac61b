-- gongkai schema, version 6: reports are indexed under their first 20 band hashes, not 17.
--
-- The store now asks a candidate to turn up under 4 of a page's first 20 bands (store.PROBE_BANDS,
-- MIN_PROBE_SHARED) instead of 1 of 17: with 1, a corpus built from the same stock paragraphs returned
-- thousands of candidates per lookup at 100,000 reports. Reports written since version 4 have rows for
-- bands 1-17 only: add 18-20 from `bands` (kept in band order for them). Reports from before version 4
-- already have all 32 rows (their `bands` array is in hash order), so for them this adds nothing.
INSERT INTO report_bands (report_id, band_hash)
SELECT id, unnest(bands[18:20]) FROM reports WHERE cardinality(bands) = 32
ON CONFLICT DO NOTHING;
