"""Two replica portals whose reports are in their attachments (anatomy 3.5), in the formats and with the
faults real county portals have: old binary Office files, scans, upper-case extensions, GBK file names,
stubs and error pages in a file's place.

- 松阳 songyang (jcms, layout L002): files through the download gateway
  (`/module/download/downfile.jsp?classid=0&filename=<32hex>.DOC&showname=…` → 302 → `/attach/0/<32hex>.DOC`):
  - 柳溪镇2023年工作总结: attachment-only, a Word 97 `.DOC` (upper case) sent as application/octet-stream
    with its name in raw GBK bytes in the Content-Disposition;
  - 云岭乡2024年工作计划: the page says 详见附件 over a `.wps` that is a 2-byte stub on the first GET (the
    real file after: the next crawl must fetch it again);
  - 柳溪镇2023年度重点项目推进情况: attachment-only, an Excel 97 `.XLS` table;
  - 柳溪镇2022年工作总结: its `.doc` is a Word file cut short on the first GET, an HTML error page (系统提示,
    文件不存在) ever after: a failed fetch every crawl, never the report's text;
  - two reports with their text on the page.
  The bundled demo serves it without the stub and the error page (`broken=False`): no OCR, no failure.
- 遂昌 suichang (TRS WCM, GBK): files beside their article (`./P020240118….PDF`), no Content-Disposition:
  - 石门乡2023年河道保洁工作总结: attachment-only, a one-page scanned `.PDF` (no text layer: OCR), cut
    short (no %%EOF) on the first GET;
  - 关于2023年度河长制工作情况的报告: attachment-only, a `.jpg` scan;
  - 桥头镇2024年一季度财政收支情况: a one-line cover note (详见附件) over an `.xlsx` table;
  - two reports with their text on the page.

The files are data/attachments/ (gongkai_replica/files.py); `ReplicaArticle.expected` is the stored
report: an attachment-only page's body is its file's text.
"""

from __future__ import annotations

import random
from datetime import datetime

from gongkai_replica.files import attachment, data_file
from gongkai_replica.sites import L002, ReplicaArticle, ReplicaColumn, ReplicaSite

JCMS = "songyang"
TRS = "suichang"
DOC = "LXZ2023GZZJ.DOC"
WPS = "云岭乡2024年工作计划.wps"
XLS = "2023年度重点项目推进情况表.xls"
XLSX = "2024年一季度财政收支情况.xlsx"
SCAN_PDF = "石门乡2023年河道保洁工作总结.pdf"
SCAN_JPG = "河长制工作情况.jpg"
STUB = "stub.doc"
ERROR_PAGE = "error_page.doc"
TRUNCATED = "truncated.doc"  # the first 3/5 of the .DOC's bytes


def _article(article_id: int, when: datetime, title: str, town: str, index_no: str,
             paragraphs: list[str] | None = None) -> ReplicaArticle:
    return ReplicaArticle(article_id=article_id, pub_date=when, title=title, paragraphs=paragraphs or [],
                          town=town, index_no=index_no)


def _on_page(rng: random.Random, town: str, year: int, kind: str, prefix: str) -> ReplicaArticle:
    """A report with its text on the page (as the demo's), so the sites are not all attachments."""
    from gongkai_replica.demo import _report

    return _report(rng, seed_key="002", town=town, year=year, kind=kind, prefix=prefix)


def jcms_site(seed: int = 8805, *, broken: bool = True) -> ReplicaSite:
    """The jcms site; `broken=False` (the bundled demo): no stub first, no error-page report."""
    rng = random.Random(seed)
    prefix = "11331124002590116P"
    doc = _article(4301101, datetime(2024, 1, 22, 9, 30), "柳溪镇2023年工作总结", "柳溪镇", f"{prefix}/2024-00311")
    doc.attachments = [attachment("柳溪镇2023年工作总结.DOC", "20240122093012485.DOC", DOC, doc.title,
                                  disposition="gbk", content_type="application/octet-stream")]
    wps = _article(4301526, datetime(2024, 2, 21, 15, 2), "云岭乡2024年工作计划", "云岭乡", f"{prefix}/2024-00457",
                   ["详见附件"])
    wps.attachments = [attachment("云岭乡2024年工作计划.wps", "5d41402abc4b2a76b9719d911017c592.wps", WPS, wps.title,
                                  serve_first=(data_file(STUB),) if broken else ())]
    xls = _article(4300472, datetime(2024, 1, 5, 10, 11), "柳溪镇2023年度重点项目推进情况", "柳溪镇",
                   f"{prefix}/2024-00028")
    xls.attachments = [attachment("2023年度重点项目推进情况表.XLS", "7d793037a0760186574b0282f2f435e7.XLS", XLS,
                                  xls.title)]
    gone = _article(4213388, datetime(2023, 1, 16, 8, 47), "柳溪镇2022年工作总结", "柳溪镇", f"{prefix}/2023-00096")
    gone.attachments = [attachment("柳溪镇2022年工作总结.doc", "e4d909c290d0fb1ca068ffaddf22cbd0.doc", ERROR_PAGE,
                                   gone.title, serve_first=(data_file(TRUNCATED),))]
    others = [_on_page(rng, "柳溪镇", 2023, "half", prefix), _on_page(rng, "云岭乡", 2023, "annual", prefix)]
    others[0].article_id, others[1].article_id = 4253760, 4302210
    column = ReplicaColumn(1229488301, "计划总结", [doc, wps, xls, *([gone] if broken else []), *others])
    return ReplicaSite(
        name=JCMS, webid=3571, unitid=6297410, webname="松阳县人民政府", columns=[column], article_layout=L002,
        region="松阳县", domain="www.songyang.gov.cn", site_code="3311240001",
        robots_txt="User-agent: *\nDisallow: /module/visitcount/\n",
    )


def trs_site(seed: int = 8806) -> ReplicaSite:
    rng = random.Random(seed)
    prefix = "002592411/2024"
    scan = _article(5421987, datetime(2024, 1, 18, 16, 5), "石门乡2023年河道保洁工作总结", "石门乡",
                    f"{prefix}-01187")
    whole = data_file(SCAN_PDF)
    scan.attachments = [attachment("石门乡2023年河道保洁工作总结.PDF", "P020240118552301766842.PDF", SCAN_PDF,
                                   scan.title, link="./P020240118552301766842.PDF", disposition="",
                                   serve_first=(whole[: len(whole) // 2],))]
    jpg = _article(5423304, datetime(2024, 1, 26, 11, 40), "关于2023年度河长制工作情况的报告", "桥头镇",
                   f"{prefix}-01342")
    jpg.attachments = [attachment("河长制工作情况.jpg", "P020240126387410295513.jpg", SCAN_JPG, jpg.title,
                                  link="./P020240126387410295513.jpg", disposition="")]
    cover = _article(5467120, datetime(2024, 4, 19, 9, 12), "桥头镇2024年一季度财政收支情况", "桥头镇",
                     f"{prefix}-04410", ["现将我镇2024年一季度财政收支情况予以公开，具体数据详见附件。"])
    cover.attachments = [attachment("2024年一季度财政收支情况.xlsx", "P020240419322817460093.xlsx", XLSX,
                                    cover.title, link="./P020240419322817460093.xlsx", disposition="")]
    others = [_on_page(rng, "石门乡", 2023, "annual2", "002592411"), _on_page(rng, "桥头镇", 2023, "half2", "002592411")]
    others[0].article_id, others[1].article_id = 5436011, 5299874
    column = ReplicaColumn(1229000301, "计划总结", [scan, jpg, cover, *others])
    return ReplicaSite(
        name=TRS, webid=0, unitid=0, webname="遂昌县人民政府", columns=[column], per_page=8, article_layout=L002,
        charset="gbk", region="遂昌县", domain="www.suichang.gov.cn", site_code="3311230001", robots_txt=None,
        platform="trs", options={"paths": {1229000301: "/zwgk/ghjh/jhzj/"}},
    )


def build_sites() -> list[ReplicaSite]:
    """Fresh sites (new objects each call, so tests can mutate them, and counters start at 0)."""
    return [jcms_site(), trs_site()]
