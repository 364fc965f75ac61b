"""A fault-injecting replica portal: what the main replica server cannot do with a well-behaved handler.

A `FaultServer` serves one `ReplicaSite` (listing, dataproxy, articles, robots.txt) like the main
replica, on its own loopback address (127.0.0.100 upward, clear of the demo's 127.0.0.10+), except
where a `Fault` is set for a path: then, for the first `times` requests of that path, it answers the
fault instead, with raw control of the socket:

- respond:   any status, headers and body (500/502/503 bursts, 429 + Retry-After, an empty 200, a WAF
             challenge shell served with 200, redirects, mislabelled or GB18030 bytes, hostile XML ...)
- reset:     headers and part of the body, then a TCP RST (SO_LINGER 0) mid-body
- truncate:  Content-Length larger than the body actually sent, then a clean close
- stall:     read the request, send nothing until the client gives up (or `seconds` pass)
- slow:      the real page, dripped out in small pieces over `seconds`
- gzip_bomb: Content-Encoding: gzip, a small body that inflates to `size` bytes
- huge:      a `size`-byte page, streamed until the client hangs up
- stream:    a page with no Content-Length (the body ends when the connection closes), streamed up to `size`
             bytes or until the client hangs up; `streamed[path]` counts the bytes the client took
- endless:   a dataproxy that ignores the record window and always claims more rows

After `times` requests the real page is served again, so "fails N times, then heals" and "always
fails" (times=ALWAYS) are both one line. `heal()` clears every fault (the portal recovered).
"""

from __future__ import annotations

import copy
import html as html_lib
import re
import socket
import struct
import threading
import time
import zlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from gongkai_replica.server import ReplicaServer, _Response
from gongkai_replica.sites import ReplicaArticle, ReplicaColumn, ReplicaSite

FIRST_FAULT_ADDRESS = 100  # fault sites bind 127.0.0.100, .101, …
ALWAYS = 1 << 30

CHALLENGE_SHELL = (
    b"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title></title>"
    b"<script type=\"text/javascript\">$_ts=window['$_ts'];if(!$_ts)$_ts={};$_ts.nsd=84737;"
    b"$_ts.cd=\"qEcrrAq3EGlFcGAmcqAqEr\";</script>"
    b"<script type=\"text/javascript\" charset=\"utf-8\" src=\"/4QbVtADbnLVIc/c.FxJzG50F.a5b8f2d.js\" r=\"m\"></script>"
    b"</head><body></body></html>"
)

SAFELINE_SHELL = (
    "<!DOCTYPE html><html><head><title>安全验证</title></head><body>"
    "<div id=\"safeline_bot_challenge\">请稍候…</div>"
    "<script>document.cookie='safeline_bot_token=0;path=/';location.reload()</script></body></html>"
).encode()


@dataclass
class Fault:
    kind: str = "respond"
    times: int = ALWAYS
    status: int = 200
    body: bytes = b""
    content_type: str = "text/html; charset=UTF-8"
    headers: tuple[tuple[str, str], ...] = ()
    seconds: float = 0.0
    size: int = 0


def status(code: int, times: int = ALWAYS, retry_after: str | None = None) -> Fault:
    headers = (("Retry-After", retry_after),) if retry_after is not None else ()
    body = f"<html><body><h1>{code} error</h1></body></html>".encode()
    return Fault("respond", times, code, body, headers=headers)


def page(body: bytes, content_type: str = "text/html; charset=UTF-8", times: int = ALWAYS,
         code: int = 200) -> Fault:
    return Fault("respond", times, code, body, content_type)


def redirect(location: str, times: int = ALWAYS, code: int = 302) -> Fault:
    return Fault("respond", times, code, b"", headers=(("Location", location),))


_BOMBS: dict[int, bytes] = {}


def gzip_bomb(size: int) -> bytes:
    """A gzip member that inflates to `size` zero bytes (about size/1000 bytes on the wire)."""
    if size not in _BOMBS:
        comp = zlib.compressobj(9, zlib.DEFLATED, 31)  # wbits 31: gzip container
        chunk = b"\0" * (1 << 20)
        parts = [comp.compress(chunk) for _ in range(size >> 20)]
        parts.append(comp.compress(b"\0" * (size & ((1 << 20) - 1))))
        parts.append(comp.flush())
        _BOMBS[size] = b"".join(parts)
    return _BOMBS[size]


class _FaultHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr: tuple[str, int], owner: FaultServer) -> None:
        self.owner = owner
        super().__init__(addr, _FaultHandler)


class _FaultHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Apache-Coyote/1.1"
    sys_version = ""
    server: _FaultHTTPServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass

    def _handle(self, method: str) -> None:
        owner = self.server.owner
        split = urlsplit(self.path)
        form: list[tuple[str, str]] = []
        if method == "POST":
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            form = parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True)
        fault = owner._take_fault(split.path)
        real = owner._real(method, split.path, split.query, form)
        owner._log(method, split.path, fault.kind if fault else str(real.status))
        try:
            if fault is None:
                self._send(real.status, real.body, real.content_type, real.headers)
            else:
                getattr(self, f"_fault_{fault.kind}")(fault, real, split.query, form)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            self.close_connection = True

    def _send(self, code: int, body: bytes, content_type: str, headers: Iterable[tuple[str, str]] = (),
              length: int | None = None) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        for key, value in headers:
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.wfile.flush()

    # -- faults ----------------------------------------------------------------------------------
    def _fault_respond(self, fault: Fault, real: _Response, query: str, form: list) -> None:
        self._send(fault.status, fault.body, fault.content_type, fault.headers)

    def _fault_reset(self, fault: Fault, real: _Response, query: str, form: list) -> None:
        self.send_response(200)
        self.send_header("Content-Type", real.content_type)
        self.send_header("Content-Length", str(len(real.body)))
        self.end_headers()
        self.wfile.write(real.body[: len(real.body) // 3])
        self.wfile.flush()
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self.connection.close()  # with linger 0: RST, not FIN

    def _fault_truncate(self, fault: Fault, real: _Response, query: str, form: list) -> None:
        self._send(200, real.body[: len(real.body) // 2], real.content_type, length=len(real.body))
        self.close_connection = True

    def _fault_stall(self, fault: Fault, real: _Response, query: str, form: list) -> None:
        self.server.owner._stop.wait(fault.seconds or 3600)
        self.close_connection = True

    def _fault_slow(self, fault: Fault, real: _Response, query: str, form: list) -> None:
        self.send_response(real.status)
        self.send_header("Content-Type", real.content_type)
        self.send_header("Content-Length", str(len(real.body)))
        self.end_headers()
        pieces = 10
        step = max(1, len(real.body) // pieces + 1)
        for i in range(0, len(real.body), step):
            self.wfile.write(real.body[i:i + step])
            self.wfile.flush()
            if self.server.owner._stop.wait(fault.seconds / pieces):
                break

    def _fault_gzip_bomb(self, fault: Fault, real: _Response, query: str, form: list) -> None:
        self._send(200, gzip_bomb(fault.size), "text/html; charset=UTF-8", (("Content-Encoding", "gzip"),))

    def _fault_huge(self, fault: Fault, real: _Response, query: str, form: list) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=UTF-8")
        self.send_header("Content-Length", str(fault.size))
        self.end_headers()
        chunk = b"<p>" + "工作总结".encode() * 5000 + b"</p>\n"
        sent = 0
        while sent < fault.size and not self.server.owner._stop.is_set():
            piece = chunk[: fault.size - sent]
            self.wfile.write(piece)
            sent += len(piece)
        self.close_connection = True

    def _fault_stream(self, fault: Fault, real: _Response, query: str, form: list) -> None:
        """No Content-Length, no chunking: HTTP/1.0-style, the body runs until the server closes."""
        owner = self.server.owner
        path = urlsplit(self.path).path
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=UTF-8")
        self.send_header("Connection", "close")
        self.end_headers()
        chunk = b"<p>" + "工作总结".encode() * 5000 + b"</p>\n"
        sent = 0
        try:
            while sent < fault.size and not owner._stop.is_set():
                piece = chunk[: fault.size - sent]
                self.wfile.write(piece)
                sent += len(piece)
                with owner._lock:
                    owner.streamed[path] = owner.streamed.get(path, 0) + len(piece)
        finally:
            self.close_connection = True

    def _fault_endless(self, fault: Fault, real: _Response, query: str, form: list) -> None:
        """Ignore startrecord/endrecord: always the first window, and a total that keeps growing."""
        owner = self.server.owner
        params = dict(parse_qsl(query))
        params.update(form)
        params.update(startrecord="1", endrecord=str(owner.site.per_page * owner.site.group_size))
        real = owner._real("POST", urlsplit(self.path).path, "", list(params.items()))
        body = real.body.decode("utf-8")
        grown = owner.hits_for(urlsplit(self.path).path) * 1000 + 100000
        body = re.sub(r"<totalrecord>\d+</totalrecord>", f"<totalrecord>{grown}</totalrecord>", body, count=1)
        self._send(200, body.encode("utf-8"), "text/xml; charset=UTF-8")

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        self._handle("GET")

    def do_HEAD(self) -> None:  # noqa: N802
        self._handle("HEAD")

    def do_POST(self) -> None:  # noqa: N802
        self._handle("POST")


class FaultServer:
    """One replica site with per-path faults, on its own loopback address."""

    def __init__(self, site: ReplicaSite, address: str, port: int = 0) -> None:
        self.site = site
        self.address = address
        self.port = port
        self.faults: dict[str, Fault] = {}
        self._hits: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.log: list[tuple[str, str, str, float]] = []  # (method, path, fault kind or status, monotonic)
        self.streamed: dict[str, int] = {}  # bytes of `stream` faults written to the client, per path
        self._replica = ReplicaServer([site])  # routing only; never started
        self._httpd: _FaultHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> FaultServer:
        self._stop.clear()
        self._httpd = _FaultHTTPServer((self.address, self.port), self)
        host, port = self._httpd.server_address[:2]
        self.port = port
        self.site.base_url = f"http://{host}:{port}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True,
                                        name=f"faults-{self.site.name}")
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FaultServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- faults ------------------------------------------------------------------------------------
    def set_fault(self, path: str, fault: Fault) -> None:
        with self._lock:
            self.faults[path] = fault
            self._hits[path] = 0

    def heal(self) -> None:
        """The portal recovered: every path answers normally from now on."""
        with self._lock:
            self.faults.clear()

    def hits_for(self, path: str) -> int:
        with self._lock:
            return self._hits[path]

    def _take_fault(self, path: str) -> Fault | None:
        with self._lock:
            fault = self.faults.get(path)
            n = self._hits[path]
            self._hits[path] = n + 1
            return fault if fault is not None and n < fault.times else None

    def _real(self, method: str, path: str, query: str, form: list[tuple[str, str]]) -> _Response:
        try:
            return self._replica._route(self.site, method, path, query, form)
        except Exception as exc:  # a replica bug should show up as a 500, not a hung client
            return _Response(500, f"replica error: {exc!r}".encode(), "text/plain; charset=UTF-8")

    def _log(self, method: str, path: str, what: str) -> None:
        with self._lock:
            self.log.append((method, path, what, time.monotonic()))

    def requests_for(self, path: str) -> list[str]:
        with self._lock:
            return [what for _, p, what, _ in self.log if p == path]

    def times_for_prefix(self, prefix: str) -> list[float]:
        with self._lock:
            return [when for _, p, _, when in self.log if p.startswith(prefix)]

    def times_for(self, path: str) -> list[float]:
        with self._lock:
            return [when for _, p, _, when in self.log if p == path]

    # -- addresses ---------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return self.site.base_url

    @property
    def column(self) -> ReplicaColumn:
        return self.site.columns[0]

    @property
    def listing_url(self) -> str:
        return f"{self.base_url}/col/col{self.column.column_id}/index.html"

    @property
    def listing_path(self) -> str:
        return f"/col/col{self.column.column_id}/index.html"

    def path(self, article: ReplicaArticle) -> str:
        return article.url_path_for(self.column.column_id)

    def url(self, article: ReplicaArticle) -> str:
        return self.base_url + self.path(article)

    def real_page(self, article: ReplicaArticle) -> str:
        """The article page as the main replica renders it (text, before encoding)."""
        from gongkai_replica.articles import render_article

        return render_article(self.site, self.column, article)


def fault_site(name: str, count: int, *, skip: int = 0, column_id: int = 1229900000, per_page: int = 15,
               group_size: int = 3, robots_txt: str | None = "User-agent: *\nAllow: /\n") -> ReplicaSite:
    """A one-column jcms site of `count` distinct articles (copies of the demo's reports, from the
    `skip`-th on, so sites crawled into one database do not share bodies)."""
    from gongkai_replica.demo import build_demo_sites

    pool = [a for s in build_demo_sites() for c in s.columns for a in c.articles
            if not a.attachments and not a.withdrawn and not a.private]
    seen: set[int] = set()
    articles = []
    for a in pool:
        if a.article_id in seen:
            continue
        seen.add(a.article_id)
        if len(seen) <= skip:
            continue
        shallow = copy.copy(a)
        shallow.site = None
        art = copy.deepcopy(shallow)
        art.layout = a.effective_layout
        art.column_id = 0
        art.fail_first = art.too_many_first = 0
        articles.append(art)
        if len(articles) == count:
            break
    if len(articles) < count:
        raise ValueError(f"the demo has only {len(articles)} distinct articles")
    column = ReplicaColumn(column_id, "计划总结", articles)
    return ReplicaSite(name=name, webid=9000 + column_id % 1000, unitid=7000000 + column_id % 1000,
                       webname="故障测试县人民政府", columns=[column], per_page=per_page, group_size=group_size,
                       robots_txt=robots_txt, region="故障县", domain=f"{name}.example.gov.cn", site_code="3399990001")


def fault_address(n: int) -> str:
    return f"127.0.0.{FIRST_FAULT_ADDRESS + n}"


# -- hostile content ---------------------------------------------------------------------------------

def billion_laughs_xml(records_xml: str, total: int) -> str:
    """A dataproxy answer with a DOCTYPE of nested entities (10^9 'lol's if expanded) used in a record."""
    entities = ['<!ENTITY lol "lol">'] + [
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10)]
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE datastore [\n{chr(10).join(entities)}\n]>\n'
            f"<datastore>\n<nextgroup><![CDATA[]]></nextgroup>\n<recordset>\n"
            f"<record><![CDATA[<li><a href=\"/art/2020/1/1/art_1_1.html\">&lol9;</a></li>]]></record>\n"
            f"{records_xml}\n</recordset>\n<totalrecord>{total}</totalrecord>\n</datastore>\n")


def xxe_xml(records_xml: str, total: int, secret_path: str) -> str:
    """A dataproxy answer declaring external entities (a local file, a URL) and using them in records."""
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE datastore [\n'
            f'<!ENTITY xxe SYSTEM "file://{secret_path}">\n<!ENTITY net SYSTEM "http://127.0.0.1:9/xxe">\n]>\n'
            f"<datastore>\n<nextgroup><![CDATA[]]></nextgroup>\n<recordset>\n"
            f"<record>&xxe;&net;</record>\n{records_xml}\n</recordset>\n"
            f"<totalrecord>{total}</totalrecord>\n</datastore>\n")


def records_of(xml: str) -> str:
    """The <record> elements of a dataproxy answer or listing datastore."""
    start = xml.index("<recordset>") + len("<recordset>")
    return xml[start:xml.index("</recordset>")]


def gb18030_page(page_html: str) -> bytes:
    """GB18030 bytes (4-byte sequences for characters outside GBK) for a page whose <meta> says gb2312."""
    text = page_html.replace("charset=utf-8", "charset=gb2312")
    return text.encode("gb18030")


def malformed(page_html: str) -> bytes:
    """The page with unclosed and stray tags, a broken comment and attribute soup, as old CMSs emit."""
    text = page_html.replace("</div>", "</div></span></td>", 3).replace("</p>", "", 5)
    text = text.replace("<body>", "<body><!-- unterminated <b><i><font color=red size=>><table><tr><td>", 1)
    text = text.replace("</html>", "<div><p><<>>&&;&#xZZ;&#99999999;</html></html>")
    return text.encode("utf-8")


def escape_attr(text: str) -> str:
    return html_lib.escape(text, quote=True)


def wait_until(predicate, timeout: float = 30.0, interval: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False
