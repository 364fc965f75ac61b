-- gongkai schema, version 11: what `gongkai serve`'s discovery found on each county portal.
--
-- Each site with a `home` is walked on the `discovery:` schedule (gongkai/app/serve/discovery.py). A run is one
-- row of discovery_runs; discovered_columns holds, per report column of the portal's host, what the latest
-- conclusive run said of it: found (configured and still linked), new (found, not configured before that run:
-- added to the sites file, or crawled in memory when the file is not writable) or vanished (configured, no
-- longer linked from the portal, or its page answers 404/410). A vanished column stays in the config and is
-- still crawled: a person decides. gongkai/app/discovered.py is the only writer of both tables.
CREATE TABLE discovery_runs (
    id          bigserial PRIMARY KEY,
    site        text NOT NULL,                  -- the site whose home was walked
    home        text NOT NULL,
    started_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    status      text NOT NULL DEFAULT 'running',  -- running | ok | partial | failed | interrupted | busy
    requests    integer NOT NULL DEFAULT 0,
    found       integer NOT NULL DEFAULT 0,
    new         integer NOT NULL DEFAULT 0,
    vanished    integer NOT NULL DEFAULT 0,
    error       text
);
CREATE INDEX discovery_runs_site ON discovery_runs (site, id);

CREATE TABLE discovered_columns (
    url           text PRIMARY KEY,             -- the listing URL as configured (as found, for a new one)
    site          text NOT NULL,                -- the configured site it belongs to (or was added to)
    discovered_by text NOT NULL,                -- the site whose home discovery walked
    state         text NOT NULL CHECK (state IN ('found', 'new', 'vanished')),
    town          text,
    name          text,
    platform      text,
    row_count     integer,
    newest        date,
    in_file       boolean NOT NULL DEFAULT true,  -- false: the sites file could not be written; crawled in memory
    why           text,                         -- of a vanished column: 'HTTP 404', 'not linked', 'moved to …'
    first_seen_at timestamptz NOT NULL DEFAULT now(),
    last_seen_at  timestamptz,                  -- when a discovery last found it linked
    vanished_at   timestamptz,
    run_id        bigint REFERENCES discovery_runs (id) ON DELETE SET NULL,
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX discovered_columns_site ON discovered_columns (site, state);
CREATE INDEX discovered_columns_by ON discovered_columns (discovered_by);
