"""The readers' ASGI app: search, report and site pages (Jinja2) and a JSON API, all read-only.

Every request runs in a READ ONLY transaction on a connection whose default is read-only too; every
query is parameterised (queries.py); page sizes are bounded; templates escape everything (autoescape),
and the Content-Security-Policy allows no script at all. A bad parameter is a 400 naming it; an unknown
report or site a 404; a database that cannot be reached a 503; anything else a 500 without details
(the traceback goes to the log, never to the client).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jinja2
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from gongkai import __version__
from gongkai.app.web import queries
from gongkai.app.web.openapi import openapi_schema
from gongkai.errors import DatabaseError

log = logging.getLogger("gongkai.web")
TEMPLATES = Path(__file__).resolve().parent / "templates"

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
                               "form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


def jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def _check_params(params: Mapping[str, str], allowed: set[str]) -> None:
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise queries.BadRequest(f"unknown parameter {unknown[0]!r} (known: {', '.join(sorted(allowed))})")


def _search_request(request: Request) -> tuple[Any, int, Any]:
    """A search's filters, page size and cursor from its query string (the search page and the API take the
    same parameters); an unknown or bad one is a 400 naming it."""
    params = dict(request.query_params)
    _check_params(params, queries.KNOWN_PARAMS)
    return queries.parse_filters(params), queries.parse_limit(params), queries.parse_cursor(params)


def safe_href(url: Any) -> str:
    """A crawled URL fit for an href: http(s) only (a page could name javascript: or data: links)."""
    text = str(url or "").strip()
    return text if text.lower().startswith(("http://", "https://")) else "#"


def cite(rep: Mapping[str, Any]) -> str:
    """A reference in the GB/T 7714 form for online documents: publisher. title[EB/OL]. (published)[retrieved]. URL."""
    publisher = rep.get("publisher") or rep.get("town") or rep.get("site")
    published = rep["published_date"].isoformat() if rep.get("published_date") else "n.d."
    retrieved = rep["retrieved_at"].date().isoformat() if rep.get("retrieved_at") else ""
    return f"{publisher}. {rep['title']}[EB/OL]. ({published})[{retrieved}]. {rep['url']}."


class Readers:
    """Routes over one read-only connection pool."""

    def __init__(self, database_url: str, pool_size: int = 8) -> None:
        self.pool = queries.ReadOnlyPool(database_url, size=pool_size)
        # autoescape for every template: report text is data (a body holding <script> shows as text).
        env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True,
                                 undefined=jinja2.StrictUndefined)
        self.templates = Jinja2Templates(env=env)
        env.globals.update(version=__version__, segments=queries.segments)
        env.filters["href"] = safe_href
        env.filters["query"] = lambda params, **extra: urlencode({**params, **{k: v for k, v in extra.items()
                                                                                 if v is not None}})

    # -- HTML ---------------------------------------------------------------------------------------------

    def page(self, request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
        return self.templates.TemplateResponse(request, name, context, status_code=status)

    def search_page(self, request: Request) -> Response:
        filters, limit, cursor = _search_request(request)
        with self.pool.transaction() as conn:
            choices = queries.filter_choices(conn)
            page = queries.search(conn, filters, limit, cursor)
            facets = queries.count_and_facets(conn, filters)
        base = filters.as_params()
        if limit != queries.DEFAULT_LIMIT:
            base["limit"] = str(limit)
        return self.page(request, "search.html", {
            "filters": filters, "params": base, "page": page, "facets": facets, "choices": choices,
            "kinds": queries.KINDS, "next_url": "/?" + urlencode({**base, "cursor": page.next.encode()})
            if page.next else None, "first_url": "/?" + urlencode(base) if cursor else None})

    def report_page(self, request: Request) -> Response:
        report_id = _report_id(request.path_params["report_id"])
        with self.pool.transaction() as conn:
            rep = queries.report(conn, report_id)
        versions = queries.all_versions(rep)
        diffs = [{"old": a, "new": b, "title_changed": a["title"] != b["title"],
                  "rows": queries.diff_lines(a["body"], b["body"])} for a, b in zip(versions, versions[1:], strict=False)]
        return self.page(request, "report.html", {"r": rep, "versions": versions, "diffs": diffs, "cite": cite(rep)})

    def sites_page(self, request: Request) -> Response:
        with self.pool.transaction() as conn:
            rows = queries.sites(conn)
        return self.page(request, "sites.html", {"sites": rows})

    def site_page(self, request: Request) -> Response:
        name = request.path_params["name"]
        with self.pool.transaction() as conn:
            row = queries.site(conn, name)
        return self.page(request, "site.html", {"s": row})

    # -- JSON ---------------------------------------------------------------------------------------------

    def api_reports(self, request: Request) -> Response:
        filters, limit, cursor = _search_request(request)
        with self.pool.transaction() as conn:
            page = queries.search(conn, filters, limit, cursor)
        return JSONResponse({"items": [h.to_json() for h in page.items],
                             "next": page.next.encode() if page.next else None})

    def api_report(self, request: Request) -> Response:
        _check_params(dict(request.query_params), set())
        report_id = _report_id(request.path_params["report_id"])
        with self.pool.transaction() as conn:
            rep = queries.report(conn, report_id)
        out = {k: v for k, v in rep.items() if k not in ("versions", "urls")}
        out["urls"] = rep["urls"]
        out["versions"] = rep["versions"]
        out["cite"] = cite(rep)
        out["links"] = {"page": f"/reports/{report_id}"}
        return JSONResponse(jsonable(out))

    def api_sites(self, request: Request) -> Response:
        _check_params(dict(request.query_params), set())
        with self.pool.transaction() as conn:
            rows = queries.sites(conn)
        return JSONResponse({"items": jsonable(rows)})

    def api_site(self, request: Request) -> Response:
        _check_params(dict(request.query_params), set())
        with self.pool.transaction() as conn:
            row = queries.site(conn, request.path_params["name"])
        return JSONResponse(jsonable(row))

    def api_openapi(self, request: Request) -> Response:
        return JSONResponse(openapi_schema(__version__))


def _report_id(text: str) -> int:
    if not text.isascii() or not text.isdigit() or len(text) > 18:
        raise queries.BadRequest(f"report id {text[:40]!r} is not a whole number")
    return int(text)


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _error(request: Request, status: int, message: str) -> Response:
    if _wants_json(request):
        return JSONResponse({"error": message, "status": status}, status_code=status, headers=SECURITY_HEADERS)
    templates: Jinja2Templates = request.app.state.readers.templates
    return templates.TemplateResponse(request, "error.html", {"status": status, "message": message},
                                      status_code=status, headers=SECURITY_HEADERS)


async def _bad_request(request: Request, exc: Exception) -> Response:
    return _error(request, 400, str(exc))


async def _not_found(request: Request, exc: Exception) -> Response:
    return _error(request, 404, str(exc))


async def _unavailable(request: Request, exc: Exception) -> Response:
    log.warning("database unavailable: %s", exc)
    return _error(request, 503, "the database is unavailable; try again shortly")


async def _too_slow(request: Request, exc: Exception) -> Response:
    log.warning("query too slow: %s %s", request.url.path, request.url.query)
    return _error(request, 503, str(exc))


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = {404: "no such page", 405: "method not allowed"}.get(exc.status_code, exc.detail)
    return _error(request, exc.status_code, str(message))


async def _server_error(request: Request, exc: Exception) -> Response:
    log.error("error serving %s", request.url.path, exc_info=exc)
    return _error(request, 500, "internal error (logged on the server)")


class SecurityHeaders:
    """Adds SECURITY_HEADERS to every response (pure ASGI: works for streamed and error responses)."""

    def __init__(self, app: Callable) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                for name, value in SECURITY_HEADERS.items():
                    if name.lower().encode() not in present:
                        headers.append((name.lower().encode(), value.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app(database_url: str, pool_size: int = 8) -> Starlette:
    readers = Readers(database_url, pool_size)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            readers.pool.close()

    def get(path: str, endpoint: Callable[[Request], Response]) -> Route:
        return Route(path, endpoint, methods=["GET", "HEAD"])

    routes = [
        get("/", readers.search_page),
        get("/reports/{report_id}", readers.report_page),
        get("/sites", readers.sites_page),
        get("/sites/{name}", readers.site_page),
        get("/api/reports", readers.api_reports),
        get("/api/reports/{report_id}", readers.api_report),
        get("/api/sites", readers.api_sites),
        get("/api/sites/{name}", readers.api_site),
        get("/api/openapi.json", readers.api_openapi),
    ]
    app = Starlette(
        routes=routes, lifespan=lifespan, middleware=[Middleware(SecurityHeaders)],
        exception_handlers={queries.NotFound: _not_found, queries.BadRequest: _bad_request,
                            queries.TooSlow: _too_slow, DatabaseError: _unavailable, HTTPException: _http_error, Exception: _server_error})
    app.state.readers = readers
    return app
