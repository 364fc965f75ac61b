-- gongkai schema, version 12: one article listed under two columns costs one fetch.
--
-- crawl_urls.article_key: the article a URL shows, where its platform names articles in their URLs (a jcms
-- article under two columns is art_<colA>_<id> and art_<colB>_<id>; gongkai.crawler.platforms.article_key), written
-- by the frontier with every row it records (rows recorded before this migration get theirs when next listed).
-- crawl_urls.state gains 'alias' (the column has no CHECK: gongkai/crawler/frontier.py names its values): another
-- URL of an article the crawl stored or fetched under one of its URLs. An alias is not fetched while its article's
-- other URL is; ingest (store.add_listed_aliases) adds it to the report of that other URL (relation 'column'),
-- looking for the aliases not added yet in the second index.
ALTER TABLE crawl_urls ADD COLUMN IF NOT EXISTS article_key text;
CREATE INDEX IF NOT EXISTS crawl_urls_article_key ON crawl_urls (article_key) WHERE article_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS crawl_urls_aliases ON crawl_urls (url) WHERE state = 'alias';
