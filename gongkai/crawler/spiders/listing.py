"""The one spider: walk column listings (any platform), fetch every article, yield items for staging.

It yields requests and items, nothing else: no database access, no extraction. Which platform a
listing runs is detected from the page unless the caller names it.
"""

from __future__ import annotations

import hashlib
import re
import time
from array import array
from collections.abc import AsyncIterator, Iterable
from typing import Any
from urllib.parse import SplitResult, urlsplit, urlunsplit

import scrapy
from scrapy.exceptions import IgnoreRequest
from scrapy.http import FormRequest, Request, Response, TextResponse
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from gongkai.crawler.items import (
    FetchedPage,
    FetchFailed,
    LinkedFiles,
    ListedArticle,
    ListedArticles,
    ListingProblem,
    Revalidated,
)
from gongkai.crawler.platforms import (
    ListingPage,
    UnsupportedListing,
    article_key,
    detect_platform,
    platform_by_name,
)
from gongkai.filekinds import check_file
from gongkai.filelinks import DOCUMENT_EXTS, is_document_link
from gongkai.urls import file_name, host_key, wire_url

# Article responses with these statuses are staged as they are: they mean "withdrawn".
GONE_STATUSES = [404, 410]
# A listing whose pages stop bringing articles not seen in this crawl this many times in a row is
# paging in circles (a proxy that ignores the window, a total that keeps growing).
MAX_REPEATED_PAGES = 3
# Rows read from one listing page at most. A jcms page embeds per_page x group_size (45 to 150) rows, a
# dataproxy window as many: a page claiming 150,000 (a broken or hostile template) would make 150,000
# 'pending' frontier rows that every later crawl retries, and hold them all in memory at once.
MAX_ROWS_PER_PAGE = 1000
# Articles go before listing pages. Scrapy's per-host queue is LIFO, so the next listing page (yielded
# after a page's articles) came first: a column was walked to its end before its articles were
# fetched, holding every article request of the crawl in memory at once (~2.4 KB each, 240 MB per
# 100,000 pages). Fetching a page's articles before its next page holds one page's worth per listing.
ARTICLE_PRIORITY = 1
# With a per-host scheduler queue (DownloaderAwarePriorityQueue, the single-process crawl), a listing page
# at depth d ranks its articles in two halves around its next page: first half -3d, next page -3d-1,
# second half -3d-2, and every later page's requests rank lower. The next page is fetched while the
# second half is, so a host is never left waiting for a listing page with nothing else to fetch (it was,
# once per page), and a column still holds at most about one and a half pages of article requests.
# Not with one global queue (scrapy-redis): there a deep column would wait for every shallow one.
LOOKAHEAD_SETTING = "GONGKAI_LISTING_LOOKAHEAD"
DEFAULT_PORTS = {"http": 80, "https": 443}
# A file request's meta "document_of" is the URL of the article that links the file; a file retried from the
# frontier (its article fetched by an earlier crawl, not recorded with the file) says this instead.
FROM_FRONTIER = "(an article of an earlier crawl)"


def _site_of(parts: SplitResult) -> tuple[str, int | None]:
    """(host without a leading www., port unless the scheme's default): what one site's URLs share."""
    host = (parts.hostname or "").lower()
    port = parts.port
    return host.removeprefix("www."), None if port == DEFAULT_PORTS.get(parts.scheme.lower()) else port


def same_site_url(url: str, listing_url: str) -> str | None:
    """`url` in the listing page's scheme and host[:port] if it is on the listing's site, else None.

    Lists mix forms of their own site's address (portal-anatomy 1.6): www. or not, a default port
    spelt out, http:// or https:// (and HTTPS answers 410 on an HTTP-only host, 2.3). Compared with the
    listing hosts as written, such a row is dropped as another site's, or fetched at an address the site
    does not serve; in the listing's form it shares the listing's politeness, allowlist entry and
    article identity.
    """
    try:
        row, listing = urlsplit(url), urlsplit(listing_url)
        if row.scheme.lower() not in DEFAULT_PORTS or not row.hostname or _site_of(row) != _site_of(listing):
            return None
    except ValueError:  # a port that is no number
        return None
    host = listing.hostname or ""
    netloc = (f"[{host}]" if ":" in host else host) + (f":{listing.port}" if listing.port else "")
    if (row.scheme, row.netloc) == (listing.scheme, netloc):
        return url
    return urlunsplit((listing.scheme, netloc, row.path, row.query, row.fragment))


class UrlSet:
    """A set of URLs held as 64-bit digests in an open-addressing hash table (an array, linear probing).

    `known` (every article stored for the crawled sites), `listed` and `requested` (every article this
    crawl's listings showed, and every one it asked for) grow with the database and the crawl: as str
    in a set a URL costs ~150 bytes, here 12 to 24. A digest collision (about n²/2⁶⁴: one in ten
    million crawls of a million URLs) makes one article look seen: it stays 'pending' in crawl_urls and
    the next crawl fetches it.
    """

    def __init__(self, urls: Iterable[str] = ()) -> None:
        self._slots = array("Q", [0]) * 1024  # 0 marks an empty slot (no digest is 0, see digest())
        self._count = 0
        for url in urls:
            self.add(url)

    @staticmethod
    def digest(url: str) -> int:
        value = int.from_bytes(hashlib.blake2b(url.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "big")
        return value or 1

    def _slot(self, key: int) -> int:
        """Where key is, or the empty slot where it would go."""
        slots, mask = self._slots, len(self._slots) - 1
        i = key & mask
        while True:
            value = slots[i]
            if value == key or value == 0:
                return i
            i = (i + 1) & mask

    def __contains__(self, url: object) -> bool:
        key = self.digest(str(url))
        return self._slots[self._slot(key)] == key

    def add(self, url: str) -> None:
        key = self.digest(url)
        i = self._slot(key)
        if self._slots[i] == key:
            return
        self._slots[i] = key
        self._count += 1
        if self._count * 3 > len(self._slots) * 2:  # at 2/3 full, double
            old, self._slots = self._slots, array("Q", [0]) * (2 * len(self._slots))
            for value in old:
                if value:
                    self._slots[self._slot(value)] = value

    def __len__(self) -> int:
        return self._count

    def claim(self, urls: Iterable[str]) -> list[bool]:
        """Add urls; for each, whether it was new (a url given twice is new the first time only).

        """
        fresh = []
        for url in urls:
            before = self._count
            self.add(url)
            fresh.append(self._count > before)
        return fresh


class CrawlMemory:
    """What this crawl has listed and what it has requested: two sets, because seeds are not listings.

    `listed`: every article URL a listing page of this crawl showed; a page that shows none new is a
    repeat (MAX_REPEATED_PAGES). `requested`: every article URL this crawl asked for, by a listing or by
    a retry/revalidate seed: one fetch each. (One set for both made a --full --revalidate walk stop
    after 3 pages: every stored URL had been claimed by its revalidation, so no listing page looked new.)
    """

    def __init__(self) -> None:
        self.listed = UrlSet()
        self.requested = UrlSet()

    def claim(self, listed: list[str], requested: list[str]) -> tuple[list[bool], list[bool]]:
        """Add urls to each set; for each, whether it was new there.

        The spider's one question about its memory, asked once per listing page (and once per seed):
        distributed mode's shared memory (distributed.SharedMemory) answers it in one round trip.
        """
        return self.listed.claim(listed), self.requested.claim(requested)


class ListingSpider(scrapy.Spider):
    name = "gongkai"

    def __init__(self, listings: list[dict[str, Any]], retry: Iterable[dict[str, Any]] = (),
                 known: UrlSet | Iterable[str] = (), revalidate: Iterable[dict[str, Any]] = (), full: bool = False,
                 **kwargs: Any) -> None:
        """Crawl `listings` ([{url, site, platform?}]).

        retry: frontier rows {url, site, column_url, title, date} that failed before: fetched again.
        known: article URLs already stored, and the article identities (platforms.article_key) of the
        fetched ones (a UrlSet, or any iterable: frontier.known_entries): listed but not fetched again.
        A routine crawl walks each listing newest-first and stops paging at the first page that holds
        only known articles;
        `full` walks every page (and so can tell which articles vanished from a listing).
        revalidate: stored rows {url, site, etag, last_modified} to re-check with conditional requests.
        """
        super().__init__(**kwargs)
        self.listings = listings
        self.retry = list(retry)
        self.known = known if isinstance(known, UrlSet) else UrlSet(known)
        self.revalidate = list(revalidate)
        self.full = full
        self.walk_all = {item["url"] for item in listings if item.get("walk_all")}  # full walk of these only
        self.allowed_hosts = {host_key(item["url"]) for item in listings}
        self.problems: list[ListingProblem] = []
        self.repeated: dict[str, int] = {}
        self.complete_columns: set[str] = set()
        self.memory = CrawlMemory()

    async def start(self) -> AsyncIterator[Any]:
        for listing in self.listings:
            yield Request(listing["url"], callback=self.parse_listing, errback=self.listing_failed,
                          dont_filter=True, meta={"column_url": listing["url"], "site": listing["site"],
                                                  "platform": listing.get("platform")})
        for row in self.retry:
            url = wire_url(row["url"])
            if host_key(url) in self.allowed_hosts and self.claim_seed(url):
                yield self.seed_request(url, row)
        for row in self.revalidate:
            url = wire_url(row["url"])
            if host_key(url) in self.allowed_hosts and self.claim_seed(url):
                request = self.seed_request(url, row)
                if row.get("etag"):
                    request.headers["If-None-Match"] = row["etag"]
                if row.get("last_modified"):
                    request.headers["If-Modified-Since"] = row["last_modified"]
                request.meta["handle_httpstatus_list"] = [*GONE_STATUSES, 304]
                yield request

    def article_request(self, url: str, site: str, column_url: str | None, title: str | None,
                        date: str | None) -> Request:
        """The request for an article the caller has just claimed in memory.requested."""
        # dont_filter: memory.requested already dedups; Scrapy's dupefilter would silently drop a redirect
        # back to this URL (a loop), leaving no trace instead of "max redirections reached".
        return Request(url, callback=self.parse_article, errback=self.article_failed, dont_filter=True,
                       priority=ARTICLE_PRIORITY,
                       meta={"site": site, "column_url": column_url, "listing_title": title, "listing_date": date,
                             "handle_httpstatus_list": GONE_STATUSES})

    def seed_request(self, url: str, row: dict[str, Any]) -> Request:
        """The request for a retried or revalidated frontier row, claimed by the caller. A column-less row
        of a file link is a report file an article linked (frontier.record_linked_files): requested as the
        article's own file request is, checked as a file and not read for links."""
        request = self.article_request(url, row["site"], row.get("column_url"), row.get("title"), row.get("date"))
        if row.get("column_url") is None and is_document_link(url):
            request.meta["document_of"] = FROM_FRONTIER
        return request

    def parse_listing(self, response: Response) -> Iterable[Any]:
        meta = response.meta
        try:
            platform = platform_by_name(meta["platform"]) if meta.get("platform") else detect_platform(response.text, response.url)
            page = platform.parse_listing_page(response.text, response.url)
        except Exception as exc:  # noqa: BLE001 - any parser failure is this listing's problem, said loudly
            problem = ListingProblem(meta["column_url"], f"{meta['column_url']}: {_parse_error(exc)}")
            self.problems.append(problem)
            yield problem
            return
        yield from self.follow(page, meta, platform.NAME, response.url)

    def parse_continuation(self, response: Response) -> Iterable[Any]:
        meta = response.meta
        platform = platform_by_name(meta["platform"])
        try:
            page = platform.parse_continuation(response.text, response.url, meta["state"])
        except Exception as exc:  # noqa: BLE001 - as above: the walk stops here, and the run says so
            problem = ListingProblem(meta["column_url"],
                                     f"{meta['column_url']}: pagination at {response.url}: {_parse_error(exc)}")
            self.problems.append(problem)
            yield problem
            return
        yield from self.follow(page, meta, platform.NAME, response.url)

    def follow(self, page: ListingPage, meta: dict[str, Any], platform_name: str,
               page_url: str | None = None) -> Iterable[Any]:
        """Claim and request a listing page's articles, then its next page. `page_url`: the page's own URL
        (default: the column's), whose scheme and host[:port] the rows on its site are written in."""
        column_url, site = meta["column_url"], meta["site"]
        depth = meta.get("depth", 0)
        lookahead = self.crawler.settings.getbool(LOOKAHEAD_SETTING)
        rows: list[ListedArticle] = []
        offsite: list[str] = []
        records = page.records
        if len(records) > MAX_ROWS_PER_PAGE:
            self.crawler.stats.inc_value("listing/rows_over_limit", len(records) - MAX_ROWS_PER_PAGE)
            self.logger.warning("%s: a listing page with %d rows: reading the first %d", column_url, len(records),
                                MAX_ROWS_PER_PAGE)
            records = records[:MAX_ROWS_PER_PAGE]
        for record in records:
            # The wire form is the key of every stage (gongkai.urls): a link with a space or a NUL in it must
            # be listed under the URL its request goes out as, or the frontier holds it twice and every
            # routine crawl fetches it again. UTF-8, as Scrapy sends a Request's URL.
            url = wire_url(same_site_url(record.url, page_url or column_url) or record.url)
            if host_key(url) not in self.allowed_hosts:
                offsite.append(record.url)
                continue
            rows.append(ListedArticle(url=url, site=site, column_url=column_url, title=record.title, date=record.date))
        if offsite:
            self.crawler.stats.inc_value("listing/offsite_records", len(offsite))
            self.logger.warning("%s: %d rows link to other sites (not followed): e.g. %s", column_url, len(offsite),
                                offsite[0])
        # An article not stored is claimed for fetching too: a retry seed may have asked for it already,
        # and one listed earlier in this crawl was claimed then (so both questions go in one round trip).
        # So is its article identity: another URL of an article stored or claimed (the article under a
        # second column) is an alias, recorded and never fetched.
        keys = [article_key(a.url) for a in rows]
        stored: list[bool] = []
        for a, key in zip(rows, keys, strict=True):
            url_known = a.url in self.known
            a.alias = not url_known and key is not None and key in self.known
            stored.append(url_known or a.alias)
        wanted = [(a, key) for a, key, known in zip(rows, keys, stored, strict=True) if not known]
        new_listed, claimed = self.memory.claim([a.url for a in rows], _with_keys(wanted))
        unseen = sum(new_listed)
        unknown = sum(new and not known for new, known in zip(new_listed, stored, strict=True))
        articles = []
        for a, url_new, key_new in _claims(wanted, claimed):
            if url_new and key_new:
                articles.append(self.article_request(a.url, site, column_url, a.title, a.date))
            elif url_new:
                a.alias = True
                self.crawler.stats.inc_value("listing/aliases")
        if rows:  # before the article requests: the frontier knows an article before its fetch is staged
            yield ListedArticles(rows)
        half = (len(articles) + 1) // 2
        for n, request in enumerate(articles):
            if lookahead:
                request.priority = -3 * depth - (0 if n < half else 2)
            yield request
        oldest = rows[-1].url if rows else None
        yield from self.next_page(page, meta, platform_name, unseen, unknown, depth, lookahead, oldest)

    def next_page(self, page: ListingPage, meta: dict[str, Any], platform_name: str, unseen: int, unknown: int,
                  depth: int, lookahead: bool, oldest: str | None = None) -> Iterable[Request]:
        """The request for the listing's next page, if the walk goes on. `oldest`: the page's last row
        followed (as claimed: in the listing's form)."""
        column_url = meta["column_url"]
        self.crawler.stats.inc_value("listing/pages")
        if page.records:  # a page of none of this column's rows (an xxgk search page of other columns') is no repeat
            self.repeated[column_url] = 0 if unseen else self.repeated.get(column_url, 0) + 1
        if page.next is None:
            self.complete_columns.add(column_url)
            return
        if self.repeated.get(column_url, 0) >= MAX_REPEATED_PAGES:
            self.crawler.stats.inc_value("listing/stopped_repeating")
            self.logger.warning("%s: stopped paging, %d pages in a row repeated what was already listed",
                                column_url, MAX_REPEATED_PAGES)
            return
        # A page without records (a jpaas shell whose rows come from the gateway) says nothing yet.
        if not (self.full or column_url in self.walk_all) and page.records and (
                not unknown or (oldest is not None and self.stored(oldest))):
            # Listings run newest first: once the oldest row of a page is one we already have, every
            # later page is older still and known too. (A back-dated insertion deep in a listing is
            # the full walk's job.)
            self.crawler.stats.inc_value("listing/stopped_known")
            return
        next_meta = {"column_url": column_url, "site": meta["site"], "platform": platform_name,
                     "state": page.next.state, "depth": depth + 1}
        priority = -3 * depth - 1 if lookahead else 0
        if page.next.method == "POST":
            yield FormRequest(page.next.url, formdata=page.next.formdata or {}, callback=self.parse_continuation,
                              errback=self.listing_failed, meta=next_meta, dont_filter=True,
                              headers=page.next.headers, priority=priority)
        else:
            yield Request(page.next.url, callback=self.parse_continuation, errback=self.listing_failed,
                          meta=next_meta, dont_filter=True, headers=page.next.headers, priority=priority)

    def stored(self, url: str) -> bool:
        """Is the article at `url` stored: the URL, or another URL of its article (platforms.article_key)."""
        key = article_key(url)
        return url in self.known or (key is not None and key in self.known)

    def claim_seed(self, url: str) -> bool:
        """Claim a retried or revalidated URL, and its article identity (so no alias of it is fetched too):
        whether it is to be requested."""
        key = article_key(url)
        return self.memory.claim([], [url] if key is None else [url, key])[1][0]

    def parse_article(self, response: Response) -> Iterable[Any]:
        meta = response.meta
        if response.status == 304:
            yield Revalidated(url=response.url, site=meta["site"])
            return
        first_url = response.request.meta.get("redirect_urls", [response.url])[0]
        # A report file: linked from an article, a listing row that is a file, or a failed one retried.
        if response.status == 200 and (meta.get("document_of") or is_document_link(first_url)):
            check = check_file(response.body, file_name(response.url))
            if check.failed_fetch:
                # A 2-byte stub, an error page served as the .doc, a download cut short: no file came, so it is
                # a failed fetch (retried by the next crawl), never a file whose "text" is an error message.
                self.logger.warning("could not fetch %s: not the file (%s); the next crawl tries again",
                                    first_url, check.detail or check.problem)
                yield FetchFailed(url=first_url, site=meta["site"], reason=f"not the file: {check.problem}",
                                  status=response.status)
                return
        documents = document_links(response) if response.status == 200 and not meta.get("document_of") else []
        linked = [url for url in documents if url not in self.known]
        if linked:  # with the article's fetch or before it, never after (see LinkedFiles)
            yield LinkedFiles(site=meta["site"], urls=linked)
        headers = {key.decode("latin-1"): [v.decode("latin-1") for v in values]
                   for key, values in response.headers.items()}
        yield FetchedPage(url=first_url, final_url=response.url,
                          site=meta["site"], column_url=meta.get("column_url"), listing_title=meta.get("listing_title"),
                          listing_date=meta.get("listing_date"), status=response.status, headers=headers,
                          body=response.body, fetched_at=time.time())
        if documents:
            yield from self.follow_documents(response, documents)

    def follow_documents(self, response: Response, urls: list[str]) -> Iterable[Request]:
        """Fetch the report files an article links (.pdf, .docx, .doc...: `urls`, its document_links) on the
        crawl's hosts: an attachment-only report's text is only there. Each file is fetched once, like an
        article: the frontier knows it afterwards ('pending' from the article's staging on: LinkedFiles).
        Column-less, so no listing walk ever takes it for delisted."""
        claimed = self.memory.claim([], urls)[1] if urls else []
        for url, new in zip(urls, claimed, strict=True):
            if new and url not in self.known:
                request = self.article_request(url, response.meta["site"], None, None, None)
                request.meta["document_of"] = response.url
                yield request

    def article_failed(self, failure: Failure) -> Iterable[Any]:
        request = failure.request
        meta = request.meta
        url = meta.get("redirect_urls", [request.url])[0]
        if failure.check(HttpError):
            status = failure.value.response.status
            item = FetchFailed(url=url, site=meta["site"], reason=f"HTTP {status}", status=status)
        elif failure.check(IgnoreRequest):
            message = str(failure.value)
            if "Forbidden by robots.txt" in message:
                item = FetchFailed(url=url, site=meta["site"], reason="forbidden by robots.txt", blocked=True)
            else:  # redirected off host, redirect loop, too large: the portal may fix it; the next crawl retries
                item = FetchFailed(url=url, site=meta["site"], reason=message or "ignored")
        else:
            item = FetchFailed(url=url, site=meta["site"], reason=_describe(failure))
        if not item.blocked:
            self.logger.warning("could not fetch %s: %s (the next crawl tries again)", url, item.reason)
        yield item

    def listing_failed(self, failure: Failure) -> Iterable[Any]:
        meta = failure.request.meta
        if failure.check(HttpError):
            reason = f"HTTP {failure.value.response.status}"
        else:
            reason = _describe(failure)
        what = "listing" if "state" not in meta else f"pagination request {failure.request.url}"
        problem = ListingProblem(meta["column_url"], f"{meta['column_url']}: {what} failed: {reason}")
        self.problems.append(problem)
        yield problem


# A cheap look at the bytes first: most articles link no file. Made from filelinks.DOCUMENT_EXTS, so a
# format added there is looked for here too.
_DOCUMENT_HINT = re.compile(rb"\.(?:" + b"|".join(re.escape(ext[1:].encode()) for ext in DOCUMENT_EXTS) + rb")\b", re.I)


def document_links(response: Response) -> list[str]:
    """Absolute URLs of the report files an article page links, on its own host, in page order: direct
    links (/attach/0/x.pdf) and download gateways naming one (downfile.jsp?filename=x.docx)."""
    if not isinstance(response, TextResponse) or not _DOCUMENT_HINT.search(response.body):
        return []  # most articles link no file: no parse
    host = host_key(response.url)
    found: list[str] = []
    # Links, and the PDF viewers a report shown only as a PDF is embedded in (#pdfshow[data-value], anatomy 3.5).
    refs = response.xpath("//a/@href | //*[@id='pdfshow']/@data-value | //embed/@src | //iframe/@src"
                          " | //object/@data").getall()
    for href in refs:
        href = href.strip()
        if not href or href.lower().startswith(("javascript:", "mailto:", "#")):
            continue
        # As a browser requests it (a query in the page's own encoding, GBK on many portals), and so the
        # frontier knows it.
        url = wire_url(response.urljoin(href), response.encoding)
        if urlsplit(url).scheme not in ("http", "https") or host_key(url) != host or url in found:
            continue
        if is_document_link(url):
            found.append(url)
    return found


def _with_keys(wanted: list[tuple[ListedArticle, str | None]]) -> list[str]:
    """What a page's wanted rows claim in memory.requested: each URL, followed by its article identity."""
    return [entry for a, key in wanted for entry in ((a.url,) if key is None else (a.url, key))]


def _claims(wanted: list[tuple[ListedArticle, str | None]],
            claimed: list[bool]) -> Iterable[tuple[ListedArticle, bool, bool]]:
    """Per wanted row: (row, its URL new to this crawl, its article new to this crawl), read off the claims
    _with_keys made (a row without an article identity is a new article when its URL is new)."""
    answers = iter(claimed)
    for a, key in wanted:
        url_new = next(answers)
        yield a, url_new, next(answers) if key is not None else True


def _parse_error(exc: Exception) -> str:
    """What went wrong reading a listing page, in one line. UnsupportedListing says it; a binary answer has
    no .text (AttributeError); anything else is a page our parser did not expect: name it, so the run
    ends 'failed' and the next routine crawl walks the whole listing (a silent stop lost its rest)."""
    if isinstance(exc, UnsupportedListing):
        return str(exc)
    if isinstance(exc, AttributeError):
        return f"not a text page ({exc})"
    detail = (str(exc).strip().splitlines() or [""])[0][:200]
    return f"the page could not be read ({exc.__class__.__name__}: {detail})"


def _describe(failure: Failure) -> str:
    text = str(failure.value).strip().splitlines()
    detail = text[0] if text else ""
    if detail and failure.check(IgnoreRequest):  # our own refusals say why in words; the class adds nothing
        return detail[:300]
    return f"{failure.type.__name__}: {detail}"[:300] if detail else failure.type.__name__
