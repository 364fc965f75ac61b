"""`gongkai serve`: crawl every configured site on its schedule, ingest in between, survive restarts.

Design (see README "Running as a service"):
- APScheduler's BackgroundScheduler with in-memory jobs; the state that must survive a restart lives
  in Postgres (`service_jobs`): each job's next run is derived on start from when it last started, so
  a run missed while the service was down happens once (coalesced), never as a burst.
- Each crawl is a subprocess (`gongkai crawl --site NAME --no-ingest`): Scrapy's Twisted reactor cannot
  be restarted in one process, a crawl's memory is returned to the OS when it ends, and a crashing
  crawl cannot take the scheduler with it. Ingest runs in-process (plain psycopg) after each crawl and
  on its own interval.
- One scheduler per database: a session advisory lock; a second `serve` exits with code 4.
  One crawl per site: the crawl process holds an advisory lock per site (app/locks.py), so not even a
  crawl left over from a killed service overlaps the next one (that run is skipped as `busy`).
- SIGTERM/SIGINT: no new jobs; running crawls get SIGTERM (Scrapy then finishes its in-flight
  requests and stages them, the run ends `interrupted`); exit 0 within `shutdown_timeout`.
  A crawl whose parent dies (kill -9) notices and does the same (app/crawl_sites.py, _die_with_parent).

- Discovery: every site with a `home` is walked again on the `discovery:` schedule; new report columns are
  written into the sites file (or kept in memory when it cannot be written) and crawled, vanished ones
  recorded and reported (discovery.py; the tables are app/discovered.py's). A site with no column yet has
  no crawl job until discovery finds one.

The parts: daemon.py (Service, composing them), scheduling.py (lock, APScheduler, first runs,
heartbeat, signals, shutdown), jobs.py (crawl and ingest job bodies), discovery.py (the discovery job),
alarms.py (extraction alarms), http.py (/healthz, /metrics), state.py (the only writer of service_jobs and
service_state), crawl_runs.py (the service's SQL over crawl_runs).
"""

from gongkai.app.serve.daemon import Service, serve_command

__all__ = ["Service", "serve_command"]
