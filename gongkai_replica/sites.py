"""Data model of the replica portals: sites, columns, articles.

Everything a page shows is derived from these objects at request time, so a test can mutate them
while the server runs (add, edit, withdraw) and the ground truth (`ReplicaArticle.expected`) always
describes exactly what the server would render now.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gongkai.models import ArticleFields

# The five article layouts, named after the seed page each one reproduces.
L000 = "L000"  # 仙居 朱溪镇: td table, spaced labels, 发布日期/访问次数 line, 信息来源 line
L001 = "L001"  # 衢江 大洲镇: desktop table + duplicated mobile <ul>, 编辑:( 关闭 打印
L002 = "L002"  # 武义 柳城畲族镇: inline rows, .con_wen without ZJEG_RSS markers, .docx attachment
L003 = "L003"  # 磐安 玉山镇: 公开形式/公开时限/生成日期, title repeated as first body line
L004 = "L004"  # 泰顺 三魁镇: label and value in separate <li>, 「2024- 01- 24 14 : 53」
LAYOUTS = (L000, L001, L002, L003, L004)

# Listing <li> markup variants (portal-anatomy 1.6).
REC_QUOTED_TRUNC = "quoted_trunc"  # single-quoted attrs, full title= attr, shown text cut with …
REC_BRACKET = "bracket"  # <span>[2024-08-05]</span>
REC_ITALIC_ABS = "italic_abs"  # absolute href, <span>T</span><i>date</i> inside the <a>
REC_FONT_BULLET = "font_bullet"  # <li class="ft14lh30 cf"><font> · </font><a …>
REC_PLAIN = "plain"  # double-quoted attrs, plain date span

# jpage config flavours (key order differs; "param" is the older var param_<unitid> form).
JPAGE_A = "A"
JPAGE_B = "B"
JPAGE_PARAM = "param"


@dataclass
class ReplicaAttachment:
    """A file linked from an article: through /module/download/downfile.jsp (jcms), or beside the page
    (`link`, TRS: ./P020240315….doc). Served by gongkai_replica/files.py."""

    name: str  # shown name, e.g. "2024年上半年工作总结(柳城畲族镇)0726.docx"
    filename: str  # server-side name: 32 hex + extension (either case: .DOC too)
    data: bytes = b"PK\x03\x04replica-docx"
    text: list[str] = field(default_factory=list)  # the report lines `data` holds below its title, if any
    link: str = ""  # the href the page shows when not the jcms gateway's (relative to the article page)
    # The Content-Disposition's file name: "utf-8" (RFC 5987 filename*=UTF-8''…), "gbk" (raw GBK bytes in
    # filename="…", as a GBK Tomcat sends it), "" (none, as a static file server sends a file).
    disposition: str = "utf-8"
    content_type: str = ""  # "" -> by the extension
    # What the portal serves before `data`, one body a GET (a 2-byte stub, an error page, a download cut
    # short), until it is fixed: a crawl that gets one must fetch the file again on its next run.
    serve_first: tuple[bytes, ...] = ()
    served: int = 0  # GETs of the file so far (ReplicaServer.reset_faults sets it back to 0)

    @classmethod
    def of_report(cls, name: str, filename: str, title: str, paragraphs: list[str]) -> ReplicaAttachment:
        """A real .docx or .pdf (by the filename's extension) holding the report: Word-edited, 公文 layout."""
        from gongkai_replica.documents import docx_bytes, pdf_bytes, signature_lines

        data = pdf_bytes(title, paragraphs) if filename.endswith(".pdf") else docx_bytes(title, paragraphs)
        return cls(name, filename, data, [*(p.strip() for p in paragraphs if p.strip()), *signature_lines(title)])

    @property
    def href(self) -> str:
        from urllib.parse import quote

        if self.link:
            return self.link
        return (
            f"/module/download/downfile.jsp?classid=0&filename={self.filename}"
            f"&showname={quote(self.name, safe='')}"
        )


@dataclass
class ReplicaArticle:
    """One article page. `expected` is the extractor's ground truth for the page as rendered."""

    article_id: int
    pub_date: datetime
    title: str
    paragraphs: list[str]
    town: str  # 发布机构 / 发布单位 shown in the metadata block
    index_no: str = ""
    written_date: date | None = None  # None -> pub_date's date
    doc_no: str = ""
    source: str | None = None  # 来源 / 信息来源; None -> town (L003 uses the county)
    category: str = "计划总结"
    attachments: list[ReplicaAttachment] = field(default_factory=list)
    layout: str | None = None  # None -> the site's article_layout
    column_id: int = 0  # primary column (url_path); set when first added to a column
    list_title: str | None = None  # title shown in listings when it differs (None -> title)
    written_cn: bool = False  # L004: show 成文日期 as 2024年1月24日
    # faults, counted per server instance
    fail_first: int = 0  # answer 503 this many times first
    too_many_first: int = 0  # answer 429 + Retry-After this many times first
    retry_after: int = 1
    withdrawn: bool = False  # still listed, page answers 404
    private: bool = False  # listed under /private/… (robots-disallowed on the demo)
    file_row: bool = False  # listed as a link straight to its first attachment (anatomy 1.6, 3.5): no page
    site: ReplicaSite | None = field(default=None, repr=False, compare=False)

    def url_path_for(self, column_id: int) -> str:
        if self.file_row and self.attachments:
            return self.attachments[0].href
        d = self.pub_date
        prefix = "/private" if self.private else ""
        return f"{prefix}/art/{d.year}/{d.month}/{d.day}/art_{column_id}_{self.article_id}.html"

    @property
    def url_path(self) -> str:
        """Path under the primary column: /art/<Y>/<M>/<D>/art_<col>_<id>.html, no zero padding."""
        return self.url_path_for(self.column_id)

    @property
    def url(self) -> str:
        """Absolute URL (needs the site to be served: base_url is set by ReplicaServer.start)."""
        return (self.site.base_url if self.site else "") + self.url_path

    @property
    def effective_layout(self) -> str:
        return self.layout or (self.site.article_layout if self.site else L000)

    @property
    def metadata_pairs(self) -> list[tuple[str, str]]:
        """(label as shown, value as shown) of the metadata block(s), in document order."""
        from gongkai_replica.articles import layout_pairs

        return layout_pairs(self)[0]

    @property
    def info_pairs(self) -> list[tuple[str, str]]:
        """(label, value) of the info line(s) that count as metadata (来源, 发布日期 …)."""
        from gongkai_replica.articles import layout_pairs

        return layout_pairs(self)[1]

    @property
    def expected(self) -> ArticleFields:
        """Ground truth for the stored report, computed from the same data the page is rendered from."""
        from gongkai_replica.articles import expected_fields

        return expected_fields(self)

    @property
    def expected_on_page(self) -> ArticleFields:
        """Ground truth for the extractor on the page alone: an attachment-only body is its file names."""
        from gongkai_replica.articles import expected_fields

        return expected_fields(self, read_documents=False)


@dataclass
class ReplicaColumn:
    """A jcms column (栏目): /col/col<column_id>/index.html plus its dataproxy record list."""

    column_id: int
    name: str  # shown column name, e.g. "计划总结"
    articles: list[ReplicaArticle] = field(default_factory=list)
    parent: str = ""  # township shown in the breadcrumb ("" for a county-level column)
    junk_positions: tuple[int, ...] = ()  # 0-based record positions holding a link-less <li>
    pinned: tuple[int, ...] = ()  # ids of articles shown first whatever their date (置顶 rows)

    def records(self) -> list[ReplicaArticle | None]:
        """The listing order: pinned rows first, then newest first by publish time, ties by article id desc;
        None = junk row."""
        rows: list[ReplicaArticle | None] = sorted(
            self.articles, key=lambda a: (a.pub_date, a.article_id), reverse=True
        )
        if self.pinned:
            rows = pinned_first(rows, self.pinned)
        for pos in sorted(self.junk_positions):
            rows.insert(min(pos, len(rows)), None)
        return rows


def pinned_first(rows: list[ReplicaArticle | None], pinned: tuple[int, ...]) -> list[ReplicaArticle | None]:
    """A 置顶 list: the pinned articles on top in the order given, out of date order, then the rest."""
    on_top = [a for n in pinned for a in rows if a is not None and a.article_id == n]
    return on_top + [a for a in rows if a is None or a.article_id not in pinned]


@dataclass
class ReplicaSite:
    """One portal: its jcms ids, columns, markup flavours, charset and robots.txt."""

    name: str  # short key, e.g. "xianju"
    webid: int
    unitid: int
    webname: str  # verbatim, may carry a leading space (" 仙居县人民政府")
    columns: list[ReplicaColumn]
    per_page: int = 15
    group_size: int = 3
    robots_txt: str | None = None  # None -> /robots.txt answers 404
    article_layout: str = L000
    charset: str = "utf-8"  # "gbk": GBK bytes, header without charset, meta says gb2312
    region: str = ""  # county, e.g. "仙居县"
    domain: str = ""  # the real host name the replica stands for (shown in metas/footer)
    site_code: str = ""  # 网站标识码
    record_style: str = REC_PLAIN
    jpage_style: str = JPAGE_A
    lookahead_duplicate: bool = False  # later dataproxy windows repeat the previous group's last row
    address: str | None = None  # 127.0.0.x to bind; None -> assigned by the server
    port: int = 0  # 0 -> ephemeral
    base_url: str = ""  # set by ReplicaServer.start()
    platform: str = "jcms"  # "trs" | "generic" | "jpaas" | "xxgk": pages served by gongkai_replica/<platform>.py
    options: dict[str, Any] = field(default_factory=dict)  # that platform's settings (paths, ids, quirks)

    def __post_init__(self) -> None:
        for col in self.columns:
            for art in col.articles:
                self._adopt(art, col)

    def _adopt(self, article: ReplicaArticle, column: ReplicaColumn) -> None:
        article.site = self
        if not article.column_id:
            article.column_id = column.column_id

    @property
    def site_name(self) -> str:
        """webname without its stray spaces, as shown in titles."""
        return self.webname.strip()

    def column(self, column_id: int) -> ReplicaColumn | None:
        return next((c for c in self.columns if c.column_id == column_id), None)

    def add_article(self, column_id: int, article: ReplicaArticle) -> ReplicaArticle:
        col = self.column(column_id)
        if col is None:
            raise KeyError(f"{self.name}: no column {column_id}")
        self._adopt(article, col)
        col.articles.append(article)
        return article

    def articles(self) -> list[ReplicaArticle]:
        """Distinct articles of the site (an id listed under two columns counts once)."""
        seen: dict[int, ReplicaArticle] = {}
        for col in self.columns:
            for art in col.articles:
                seen.setdefault(art.article_id, art)
        return list(seen.values())

    def article(self, article_id: int) -> ReplicaArticle | None:
        return next((a for a in self.articles() if a.article_id == article_id), None)

    def crawlable_articles(self) -> list[ReplicaArticle]:
        """What a correct, robots-obeying crawler should end up storing (not withdrawn, not private)."""
        return [a for a in self.articles() if not a.withdrawn and not a.private]

    def find_attachment(self, filename: str) -> ReplicaAttachment | None:
        for art in self.articles():
            for att in art.attachments:
                if att.filename == filename:
                    return att
        return None
