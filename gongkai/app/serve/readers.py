"""The readers' web app (`gongkai web`) inside `gongkai serve`, on its own address next to /healthz and
/metrics: the daemon that keeps the reports fresh also serves them. GONGKAI_WEB_ADDR moves it (`off`: none).

It runs in a thread of its own (uvicorn in a thread installs no signal handlers: the service's SIGTERM
stops it through `stop()`). A port that is taken is one warning and the service goes on without it: the
crawl schedule matters more than the reading room.
"""

from __future__ import annotations

import threading
from typing import Any

from gongkai.app.serve.common import logger
from gongkai.errors import UserError
from gongkai.settings import get_settings

DEFAULT_ADDR = "127.0.0.1:8090"


class ReadersServer:
    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self.url: str | None = None
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def start(self) -> ReadersServer:
        addr = get_settings().web_addr or DEFAULT_ADDR
        if addr.strip().lower() == "off":
            return self
        import uvicorn

        from gongkai.app.web import listen
        from gongkai.app.web.app import create_app

        host, _, port = addr.rpartition(":")
        try:
            sock = listen(host or "127.0.0.1", int(port))
        except (UserError, ValueError) as exc:
            logger.warning("the readers' web app is not served: %s (GONGKAI_WEB_ADDR=%s)", exc, addr)
            return self
        config = uvicorn.Config(create_app(self.database_url), log_config=None, access_log=False,
                                server_header=False, proxy_headers=False, lifespan="on")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]},
                                        name="gongkai-readers", daemon=True)
        self._thread.start()
        shown = f"[{host}]" if ":" in host else host
        self.url = f"http://{shown}:{sock.getsockname()[1]}/"
        logger.info("readers' web app on %s", self.url, extra={"web_url": self.url})
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
