"""Multi-site replica HTTP server: one listening socket per site, each on its own loopback address.

Separate loopback addresses make per-host politeness real (the crawler sees distinct hosts): sites bind
127.0.0.10, .11, … .254, then 127.0.1.1 … (Linux routes all of 127/8 to lo). One acceptor thread
watches every listening socket with a selector, and each accepted connection is served by a thread of
its own, so 1,000 sites cost one idle thread, not 1,000 threads polling. Every
request is logged so tests can assert what the crawler did (robots obeyed, delays kept, POST forms).
Sites may be mutated while serving (add_article / edit_article / withdraw_article); all reads and
writes go through one lock, and pages are rendered from the current data on every request.

Routes per site:
  GET  /robots.txt                          site.robots_txt or 404
  GET  /col/col<columnid>/index.html        listing shell with the first group (query ignored)
  POST /module/jpage/dataproxy.jsp          record windows (GET answers 405, as a POST-only jsp); or the
                                            site's options["proxy_path"] (/module/web/…: GET too, by page)
  GET  /art/<Y>/<M>/<D>/art_<col>_<id>.html article (faults: 429/503 first, withdrawn -> 404, or 200
                                            with the same 页面不存在 page where options["soft_404"])
  GET  /private/art/…                       same, for records listed under a robots-disallowed path
  GET  /module/download/downfile.jsp        302 -> /attach/0/<filename>
  GET  /attach/0/<filename>                 attachment bytes (gongkai_replica/files.py)
  GET  /module/visitcount/visit.jsp         tiny HTML
  GET  /module/jslib/…, /images/…           tiny stubs
  anything else                              jcms-style 404 page
Switches for tests (any platform): options["link_forms"] spells listed links another way (spell_links),
options["garble"] serves a page garbled (garble); paths are routed %-decoded.
Sites whose `platform` is not jcms (trs, generic, jpaas, xxgk) are first offered to
gongkai_replica/<platform>.py's route(); what it leaves (None) takes the routes above.
"""

from __future__ import annotations

import hashlib
import importlib
import re
import selectors
import socket
import socketserver
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from gongkai_replica.articles import render_article, render_not_found
from gongkai_replica.files import file_reply
from gongkai_replica.jcms import WEB_PROXY_PATH, dataproxy_xml, proxy_path, render_listing
from gongkai_replica.sites import ReplicaArticle, ReplicaSite

FIRST_ADDRESS = 10  # sites bind 127.0.0.10, .11, …


def site_address(index: int) -> str:
    """The loopback address of the index-th site: 127.0.0.10 … 127.0.0.254, 127.0.1.1 … 127.0.1.254, …

    .0 and .255 are skipped: they read as network and broadcast addresses, which would only confuse.
    """
    n = FIRST_ADDRESS - 1 + index  # position among the usable host numbers 1..254 of 127.0.0.0/16
    block, host = divmod(n, 254)
    if block > 255:
        raise ValueError(f"no loopback address left for site number {index}")
    return f"127.0.{block}.{host + 1}"


def platform_module(site: ReplicaSite) -> Any:
    """gongkai_replica.<platform> for a non-jcms site: route(), listing_path(), article_path()."""
    return importlib.import_module(f"gongkai_replica.{site.platform}")


_ART = re.compile(r"^(/private)?/art/(\d{4})/(\d{1,2})/(\d{1,2})/art_(\d+)_(\d+)\.html$")
_COL = re.compile(r"^/col/col(\d+)/index\.html$")


@dataclass(frozen=True)
class RequestLogEntry:
    """One request as the server saw it. `time` is time.monotonic() at arrival."""

    site: str
    method: str
    path: str
    query: str
    status: int
    time: float
    form: tuple[tuple[str, str], ...] = ()  # decoded POST form fields, in order


@dataclass
class _Response:
    status: int
    body: bytes
    content_type: str
    headers: tuple[tuple[str, str], ...] = ()


def garble(resp: _Response, how: str) -> _Response:
    """site.options["garble"] = {path: how}: the page at `path` as a broken front end (a transcoding proxy, a CMS
    cache) serves it now and then: "gbk_as_utf8", a GBK page whose bytes were taken for Latin-1 and sent as
    UTF-8 (华埠镇 -> »ª²ºÕò); "utf8_as_gbk", a UTF-8 page whose bytes were taken for GBK and sent as GBK, what
    GBK cannot hold as `?` (计划总结 -> 璁″垝鎬荤粨); "0xff", as many 0xFF bytes as the page has, labelled
    windows-1250 (a disk or cache fault: no text in any encoding)."""
    if how == "0xff":
        return _Response(resp.status, b"\xff" * len(resp.body), "text/html; charset=windows-1250", resp.headers)
    if how == "gbk_as_utf8":
        return _Response(resp.status, resp.body.decode("latin-1").encode("utf-8"), "text/html; charset=UTF-8",
                         resp.headers)
    body = resp.body.decode("gbk", "replace").encode("gbk", "replace")
    return _Response(resp.status, body, "text/html; charset=GBK", resp.headers)


def spell_links(replica: ReplicaServer, site: ReplicaSite, body: bytes) -> bytes:
    """site.options["link_forms"] = {article_id: form}: every link to that article on a page served (its listing
    rows) spelt in another form of the same URL, as lists mix them (portal-anatomy 1.6): "https" (absolute, on
    this HTTP-only host), "escaped" (its first `_` as `%5f`), "dotted" (a `./` segment before the file name) or
    "fragment" (`#zw` after it). The article is served at its own address whatever the spelling."""
    for article_id, form in site.options["link_forms"].items():
        for column in site.columns:
            article = next((a for a in column.articles if a.article_id == article_id), None)
            if article is None:
                continue
            path = urlsplit(replica.article_url(site.name, article, column.column_id)).path
            name = path.rsplit("/", 1)[1].encode()

            def respell(m: re.Match[bytes], path: str = path, name: bytes = name, form: str = form) -> bytes:
                open_, prefix, close = m.group(1), m.group(2), m.group(3)
                if form == "https":
                    href = f"https://{urlsplit(site.base_url).netloc}{path}".encode()
                elif form == "escaped":
                    href = prefix + name.replace(b"_", b"%5f", 1)
                elif form == "dotted":
                    href = prefix + b"./" + name
                else:
                    href = prefix + name + b"#zw"
                return open_ + href + close

            body = re.sub(rb"""(href=\\?["'])([^"'\\<>\s]*/)""" + re.escape(name) + rb"""(\\?["'])""", respell, body)
    return body


class _SiteHTTPServer(ThreadingHTTPServer):
    """One site's listening socket; ReplicaServer's acceptor accepts on it, a thread per connection."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64  # one acceptor serves every site: while it is busy, connections wait, not fail

    def __init__(self, addr: tuple[str, int], replica: ReplicaServer, site: ReplicaSite) -> None:
        self.replica = replica
        self.site = site
        super().__init__(addr, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the address back to a name (getfqdn): a reverse lookup per
        # site, ~0.1 s each, minutes for 1,000 sites. Nothing here uses the name.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)


class _Acceptor(threading.Thread):
    """Accepts connections on every site's listening socket; each connection gets a handler thread."""

    def __init__(self, servers: list[_SiteHTTPServer]) -> None:
        super().__init__(name="replica-acceptor", daemon=True)
        self.selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self.selector.register(self._wake_r, selectors.EVENT_READ, None)
        for httpd in servers:
            self.selector.register(httpd.socket, selectors.EVENT_READ, httpd)
        self._stopping = False

    def run(self) -> None:
        while not self._stopping:
            for key, _ in self.selector.select():
                if key.data is None:  # woken by stop()
                    continue
                key.data._handle_request_noblock()  # accept, then ThreadingMixIn starts the handler thread

    def stop(self) -> None:
        self._stopping = True
        self._wake_w.send(b"x")
        self.join(timeout=5)
        self.selector.close()
        self._wake_r.close()
        self._wake_w.close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Apache-Coyote/1.1"  # what jcms's Tomcat front announces
    sys_version = ""
    # Headers and body go out in two writes; with Nagle on, the body waits for the client's delayed
    # ACK of the headers: 40 ms per keep-alive request, 25 requests/s per connection at most.
    disable_nagle_algorithm = True
    server: _SiteHTTPServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass  # the request log replaces stderr chatter

    def _handle(self, method: str) -> None:
        arrived = time.monotonic()
        split = urlsplit(self.path)
        form: list[tuple[str, str]] = []
        if method == "POST":
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            form = parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True)
        try:
            # Routed on the decoded path, as Tomcat and nginx do: /content/post%5f1.html is /content/post_1.html.
            resp = self.server.replica._route(self.server.site, method, unquote(split.path), split.query, form,
                                              headers=self.headers)
            if split.path in self.server.site.options.get("garble", {}) and resp.status == 200:
                resp = garble(resp, self.server.site.options["garble"][split.path])
            if self.server.site.options.get("link_forms") and resp.status == 200:
                with self.server.replica.lock:
                    body = spell_links(self.server.replica, self.server.site, resp.body)
                resp = _Response(resp.status, body, resp.content_type, resp.headers)
        except Exception as exc:  # a replica bug should show up as a 500, not a hung client
            resp = _Response(500, f"replica error: {exc!r}".encode(), "text/plain; charset=UTF-8")
        if resp.status == 200 and split.path.startswith(("/art/", "/private/")):
            # Static article pages carry a validator, as nginx in front of jcms does: a revalidating
            # crawler's If-None-Match gets a bodiless 304 while the page is unchanged.
            etag = '"' + hashlib.sha1(resp.body).hexdigest()[:16] + '"'
            resp = _Response(resp.status, resp.body, resp.content_type, (*resp.headers, ("ETag", etag)))
            if self.headers.get("If-None-Match") == etag:
                resp = _Response(304, b"", resp.content_type, (("ETag", etag),))
        self.server.replica._log(
            RequestLogEntry(self.server.site.name, method, split.path, split.query, resp.status, arrived, tuple(form))
        )
        self.send_response(resp.status)
        self.send_header("Content-Type", resp.content_type)
        self.send_header("Content-Length", str(len(resp.body)))
        for k, v in resp.headers:
            self.send_header(k, v)
        self.end_headers()
        if method != "HEAD":
            self.wfile.write(resp.body)

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        self._handle("GET")

    def do_HEAD(self) -> None:  # noqa: N802
        self._handle("HEAD")

    def do_POST(self) -> None:  # noqa: N802
        self._handle("POST")


class ReplicaServer:
    """Serve `sites`, each on its own loopback address; use as a context manager or start()/stop()."""

    def __init__(self, sites: Iterable[ReplicaSite]) -> None:
        self.sites: dict[str, ReplicaSite] = {}
        for s in sites:
            if s.name in self.sites:
                raise ValueError(f"duplicate site name {s.name!r}")
            self.sites[s.name] = s
        self.lock = threading.RLock()
        self._log_lock = threading.Lock()
        self._requests: list[RequestLogEntry] = []
        self._hits: dict[tuple[str, str], int] = {}
        self._servers: list[_SiteHTTPServer] = []
        self._acceptor: _Acceptor | None = None

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> ReplicaServer:
        if self._servers:
            return self
        try:
            for i, site in enumerate(self.sites.values()):
                httpd = _SiteHTTPServer((site.address or site_address(i), site.port), self, site)
                self._servers.append(httpd)
                host, port = httpd.server_address[:2]
                site.base_url = f"http://{host}:{port}"
            self._acceptor = _Acceptor(self._servers)
            self._acceptor.start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self._acceptor is not None:
            self._acceptor.stop()
            self._acceptor = None
        for httpd in self._servers:
            httpd.server_close()
        self._servers.clear()

    def __enter__(self) -> ReplicaServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- addresses -------------------------------------------------------------------------------
    def site(self, name: str) -> ReplicaSite:
        return self.sites[name]

    def base_url(self, site_name: str) -> str:
        """"http://127.0.0.11:PORT" once started."""
        url = self.sites[site_name].base_url
        if not url:
            raise RuntimeError("server not started")
        return url

    def listing_urls(self, site_name: str) -> list[str]:
        """One column page URL per column of the site."""
        base = self.base_url(site_name)
        site = self.sites[site_name]
        if site.platform != "jcms":
            return [base + platform_module(site).listing_path(site, c) for c in site.columns]
        return [f"{base}/col/col{c.column_id}/index.html" for c in self.sites[site_name].columns]

    def article_url(self, site_name: str, article: ReplicaArticle, column_id: int | None = None) -> str:
        site = self.sites[site_name]
        if site.platform != "jcms":
            column = site.column(column_id or article.column_id)
            return self.base_url(site_name) + platform_module(site).article_path(site, column, article)
        return self.base_url(site_name) + article.url_path_for(column_id or article.column_id)

    # -- request log -----------------------------------------------------------------------------
    @property
    def requests(self) -> list[RequestLogEntry]:
        """A snapshot of the request log (thread-safe copy)."""
        with self._log_lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        with self._log_lock:
            self._requests.clear()

    def _log(self, entry: RequestLogEntry) -> None:
        with self._log_lock:
            self._requests.append(entry)

    # -- mutations while running -----------------------------------------------------------------
    def mutate(self, fn: Callable[[], Any]) -> Any:
        """Run fn() under the server lock (for custom edits of site objects)."""
        with self.lock:
            return fn()

    def add_article(self, site_name: str, column_id: int, article: ReplicaArticle) -> ReplicaArticle:
        with self.lock:
            return self.sites[site_name].add_article(column_id, article)

    def edit_article(
        self,
        site_name: str,
        article_id: int,
        *,
        title: str | None = None,
        paragraphs: list[str] | None = None,
        **changes: Any,
    ) -> ReplicaArticle:
        """Change an article in place (title, paragraphs, or any other ReplicaArticle field)."""
        with self.lock:
            art = self.sites[site_name].article(article_id)
            if art is None:
                raise KeyError(f"{site_name}: no article {article_id}")
            if title is not None:
                art.title = title
            if paragraphs is not None:
                art.paragraphs = list(paragraphs)
            for k, v in changes.items():
                if not hasattr(art, k):
                    raise AttributeError(k)
                setattr(art, k, v)
            return art

    def withdraw_article(self, site_name: str, article_id: int, *, delist: bool = False) -> None:
        """Withdraw: the page answers 404; with delist=True the record also leaves every listing."""
        with self.lock:
            site = self.sites[site_name]
            art = site.article(article_id)
            if art is None:
                raise KeyError(f"{site_name}: no article {article_id}")
            art.withdrawn = True
            if delist:
                for col in site.columns:
                    col.articles = [a for a in col.articles if a.article_id != article_id]

    def reset_faults(self) -> None:
        """Forget fault counters, so fail_first/too_many_first and files' serve_first apply again."""
        with self.lock:
            self._hits.clear()
            for site in self.sites.values():
                for art in site.articles():
                    for att in art.attachments:
                        att.served = 0

    # -- routing ---------------------------------------------------------------------------------
    def _route(
        self, site: ReplicaSite, method: str, path: str, query: str, form: list[tuple[str, str]],
        headers: Any = None,
    ) -> _Response:
        with self.lock:
            if "navigation" in site.options:  # a county with its whole 政务公开 tree (gongkai_replica/navigation.py)
                from gongkai_replica import navigation

                reply = navigation.route(site, method, path, query, headers or {}, form)
                if reply is not None:
                    return _Response(*reply)
            if site.platform != "jcms":  # trs / generic / jpaas / xxgk pages first, then the common routes
                reply = platform_module(site).route(site, method, path, query, headers or {}, form)
                if reply is not None:
                    return _Response(*reply)
            return self._route_locked(site, method, path, query, form)

    def _html(self, site: ReplicaSite, text: str, status: int = 200) -> _Response:
        if site.charset.lower() == "utf-8":
            return _Response(status, text.encode("utf-8"), "text/html; charset=UTF-8")
        # GBK site: bytes in GBK, header without charset, only the <meta> says gb2312
        return _Response(status, text.encode(site.charset, "xmlcharrefreplace"), "text/html")

    def _not_found(self, site: ReplicaSite) -> _Response:
        return self._html(site, render_not_found(site), 404)

    def _route_locked(
        self, site: ReplicaSite, method: str, path: str, query: str, form: list[tuple[str, str]]
    ) -> _Response:
        if path == proxy_path(site):
            if method != "POST" and path != WEB_PROXY_PATH:
                return _Response(405, b"<html><body>HTTP Status 405 - Request method 'GET' not supported</body></html>",
                                 "text/html; charset=UTF-8", (("Allow", "POST"),))
            params = dict(parse_qsl(query, keep_blank_values=True))
            params.update(form)  # like a servlet's getParameter: query and form merged
            xml = dataproxy_xml(site, params)
            return _Response(200, xml.encode("utf-8"), "text/xml; charset=UTF-8")
        if method not in ("GET", "HEAD"):
            return _Response(405, b"", "text/plain", (("Allow", "GET"),))
        if path == "/robots.txt":
            if site.robots_txt is None:
                return self._not_found(site)
            return _Response(200, site.robots_txt.encode("utf-8"), "text/plain")
        m = _COL.match(path)
        if m:
            col = site.column(int(m.group(1)))
            return self._html(site, render_listing(site, col)) if col else self._not_found(site)
        m = _ART.match(path)
        if m:
            return self._article(site, m, path)
        if path == "/module/download/downfile.jsp":
            params = dict(parse_qsl(query, keep_blank_values=True))
            fname = params.get("filename", "")
            if not site.find_attachment(fname):
                return self._not_found(site)
            return _Response(302, b"", "text/html", (("Location", f"{site.base_url}/attach/0/{fname}"),))
        if path.startswith("/attach/0/"):
            att = site.find_attachment(path.rsplit("/", 1)[1])
            if att is None:
                return self._not_found(site)
            return _Response(*file_reply(att, method))
        if path == "/module/visitcount/visit.jsp":
            return _Response(200, b"<html><head></head><body></body></html>", "text/html; charset=UTF-8")
        if path.startswith("/module/jslib/") and path.endswith(".js"):
            return _Response(200, b"/* replica stub */", "application/javascript")
        if path.startswith("/images/"):
            return _Response(200, b"", "image/png" if path.endswith(".png") else "text/css")
        return self._not_found(site)

    def _article(self, site: ReplicaSite, m: re.Match[str], path: str) -> _Response:
        private, y, mo, d, col_id, art_id = m.groups()
        col = site.column(int(col_id))
        art = next((a for a in col.articles if a.article_id == int(art_id)), None) if col else None
        if (
            col is None
            or art is None
            or bool(private) != art.private
            or (art.pub_date.year, art.pub_date.month, art.pub_date.day) != (int(y), int(mo), int(d))
        ):
            return self._not_found(site)
        key = (site.name, path)
        n = self._hits.get(key, 0)
        self._hits[key] = n + 1
        if n < art.too_many_first:
            body = "<html><head><title>429 Too Many Requests</title></head><body>访问过于频繁，请稍后再试</body></html>"
            return _Response(429, body.encode("utf-8"), "text/html; charset=UTF-8",
                             (("Retry-After", str(art.retry_after)),))
        if n < art.too_many_first + art.fail_first:
            return _Response(503, b"<html><body><h1>503 Service Unavailable</h1></body></html>",
                             "text/html; charset=UTF-8")
        if art.withdrawn:  # options["soft_404"]: the 页面不存在 page with status 200 (anatomy 7.5)
            return self._html(site, render_not_found(site), 200 if site.options.get("soft_404") else 404)
        return self._html(site, render_article(site, col, art))
