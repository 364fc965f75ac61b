"""Application layer: the jobs the entry points run (crawl-and-ingest, serve, status, demo)."""
