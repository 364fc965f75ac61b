"""After an ingest: raise (log once, gauge 1) or clear the extraction alarms of app/health.py."""

from __future__ import annotations

import psycopg

from gongkai.app.health import extraction_alarms, read_site_extraction
from gongkai.app.serve.common import first_line, logger
from gongkai.app.serve.http import Metrics
from gongkai.db import DatabaseError, connect


class ExtractionAlarms:
    def __init__(self, database_url: str, metrics: Metrics) -> None:
        self.database_url = database_url
        self.metrics = metrics
        self.raised: set[tuple[str, str]] = set()  # (site, check) of the alarms last raised

    def check(self) -> None:
        try:
            with connect(self.database_url) as conn:
                alarms = extraction_alarms(read_site_extraction(conn))
        except (psycopg.Error, DatabaseError) as exc:
            logger.warning("extraction check skipped: %s", first_line(exc))
            return
        raised = {(a.site, a.check) for a in alarms}
        for alarm in alarms:
            self.metrics.extraction_alarm.labels(alarm.site, alarm.check).set(1)
            if (alarm.site, alarm.check) not in self.raised:
                logger.warning("extraction alarm: %s", alarm.message, extra={"site": alarm.site, "check": alarm.check})
        for site, check in self.raised - raised:
            self.metrics.extraction_alarm.labels(site, check).set(0)
            logger.info("extraction alarm cleared: %s (%s)", site, check, extra={"site": site, "check": check})
        self.raised = raised
