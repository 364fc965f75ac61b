"""`python -m gongkai.crawler.distributed JOB_ID WORKER_ID`: one crawl worker (the coordinator starts these)."""

from gongkai.crawler.distributed.workers import main

raise SystemExit(main())
