"""`gongkai extract URL|FILE [--json]`: one page through decode and extraction to stdout, no crawl and no
database: the quickest way to judge the extractor on a new portal (as trafilatura's command line is)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from urllib.parse import urlsplit

from gongkai.crawler.polite import PoliteFetcher, RobotsDisallowed
from gongkai.errors import PortalUnreadable, UserError
from gongkai.ingest.decode import decode_page
from gongkai.ingest.extract import extract_article
from gongkai.models import ArticleFields

MAX_FILE_BYTES = 16 * 1024 * 1024  # the crawl's response bound

FIELD_LABELS = (("title", "标题"), ("index_no", "索引号"), ("publisher", "发布机构"), ("doc_no", "文号"),
                ("written_date", "成文日期"), ("published_date", "发布日期"), ("category", "分类"),
                ("source", "来源"))


def add_extract_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "extract", help="extract one article page (URL or saved file) to stdout: no crawl, no database",
        description="Decode one article page and extract what gongkai would store: title, the metadata block "
                    "(索引号, 发布机构, 文号, dates, 分类, 来源), attachments and the body. A URL is fetched once, "
                    "politely (robots.txt obeyed); a FILE is read as saved. Nothing is written anywhere.")
    p.add_argument("target", metavar="URL|FILE", help="an article page's address, or a saved .html file")
    p.add_argument("--url", help="for a FILE: the address it was saved from (resolves its links and dates)")
    p.add_argument("--json", action="store_true", help="one JSON object with every field")


def extract_command(args: argparse.Namespace) -> int:
    raw, content_type, url = _read(args.target, args.url)
    page = decode_page(raw, content_type)
    fields = extract_article(page.text, url)
    if page.problem and page.problem not in fields.problems:
        fields.problems.append(page.problem)
    if args.json:
        print(json.dumps({**fields.to_dict(), "url": url, "encoding": page.encoding}, ensure_ascii=False, indent=1))
    else:
        sys.stdout.write(render_fields(fields, url, page.encoding))
    return 0


def render_fields(fields: ArticleFields, url: str, encoding: str) -> str:
    """The fields as a reader scans them: the metadata, the attachments, then the body."""
    lines = [f"{label}: {getattr(fields, name)}" for name, label in FIELD_LABELS if getattr(fields, name)]
    lines.append(f"地址: {url} ({encoding})")
    lines += [f"附件: {a.name} <{a.url}>" for a in fields.attachments]
    lines += [f"problem: {p}" for p in fields.problems]
    return "\n".join(lines) + "\n\n" + fields.body + ("\n" if fields.body else "")


def _read(target: str, url: str | None) -> tuple[bytes, str | None, str]:
    scheme = urlsplit(target).scheme
    if scheme in ("http", "https"):
        fetcher = PoliteFetcher(delay=0, max_pages=6)
        try:
            fetched = fetcher.get(target)
        except RobotsDisallowed:
            raise PortalUnreadable(f"{target}: robots.txt does not let gongkai fetch this page") from None
        if fetched.status != 200:
            raise PortalUnreadable(f"{target}: HTTP {fetched.status}")
        return fetched.body, fetched.content_type, fetched.url
    path = Path(target)
    if not path.is_file():
        raise UserError(f"{target}: neither an http(s) URL nor a file")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise UserError(f"{target}: larger than {MAX_FILE_BYTES // (1024 * 1024)} MB, the bound on a page")
    return path.read_bytes(), None, url or path.absolute().as_uri()
