"""Edits of the sites file that keep what a person wrote in it (comments, order, layout): text edits, found
through the YAML node tree, then validated by loading the file; a file that would not load is put back.
`gongkai sites add` and `gongkai discover --add` both write through here."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from gongkai.config import ConfigError, SiteConfig, load_config


def write_validated(config_file: Path, original: str, text: str) -> None:
    """Write `text` as the sites file; if it does not load, restore `original` (or remove a new file) and raise."""
    config_file.parent.mkdir(parents=True, exist_ok=True)
    config_file.write_text(text, encoding="utf-8")
    try:
        load_config(config_file)
    except ConfigError:
        if original:
            config_file.write_text(original, encoding="utf-8")
        else:
            config_file.unlink()
        raise


@dataclass(frozen=True)
class SiteText:
    """Where one site's entry is in the file's text (0-based line indices), for text edits."""

    name: str
    indent: int  # column of the entry's keys
    name_line: int
    last_line: int  # the entry's last line with content
    listings_line: int | None  # the `listings:` key's line; None without the key
    listings_block: bool  # a block list with items (new items go after last_item_line, at item_indent)
    listings_one_line: bool  # a flow list (or a single URL) on its key's line: rewritten as a block
    last_item_line: int | None
    item_indent: int
    platform_line: int | None


def _last_line(node: yaml.Node) -> int:
    if isinstance(node, yaml.SequenceNode) and node.value and not node.flow_style:
        return _last_line(node.value[-1])
    if isinstance(node, yaml.MappingNode) and node.value and not node.flow_style:
        return _last_line(node.value[-1][1])
    return node.end_mark.line


def site_texts(text: str, path: Path) -> dict[str, SiteText]:
    """site name -> where its entry is, for every block-style site entry of the sites file."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    out: dict[str, SiteText] = {}
    if not isinstance(root, yaml.MappingNode):
        return out
    sites = next((v for k, v in root.value if k.value == "sites"), None)
    if not isinstance(sites, yaml.SequenceNode):
        return out
    for node in sites.value:
        if not isinstance(node, yaml.MappingNode) or node.flow_style:
            continue
        keys = {k.value: k for k, _ in node.value}
        fields = {k.value: v for k, v in node.value}
        if "name" not in fields:
            continue
        listings = fields.get("listings")
        block = isinstance(listings, yaml.SequenceNode) and bool(listings.value) and not listings.flow_style
        one_line = listings is not None and not block and listings.start_mark.line == listings.end_mark.line
        last_item = listings.value[-1] if block else None
        out[str(fields["name"].value)] = SiteText(
            name=str(fields["name"].value), indent=keys["name"].start_mark.column,
            name_line=keys["name"].start_mark.line, last_line=_last_line(node.value[-1][1]),
            listings_line=keys["listings"].start_mark.line if "listings" in keys else None,
            listings_block=block, listings_one_line=one_line,
            last_item_line=_last_line(last_item) if last_item is not None else None,
            item_indent=max(0, last_item.start_mark.column - 2) if last_item is not None
            else keys["name"].start_mark.column + 2,
            platform_line=keys["platform"].start_mark.line if "platform" in keys else None)
    return out


def with_listings(original: str, config_file: Path, site: SiteConfig, items: list[str],
                  set_lines: dict[str, str] | None = None) -> str:
    """The file's text with `items` ("URL   # note") appended to `site`'s listings, whatever form they had: a
    block list grows; `listings: []` (its stale note dropped), a one-line flow list or no `listings` key at all
    becomes a block list. `set_lines` ({"platform": "platform: jcms", "home": "home: URL"}) replaces that key's
    line of the entry, or adds it after the name."""
    where = site_texts(original, config_file).get(site.name)
    if where is None:
        raise ConfigError(f"{config_file}:{site.line}: site {site.name!r} is written as a flow mapping: add "
                          f"its listings by hand")
    lines = original.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    pad = " " * where.indent
    edits: list[tuple[int, int, list[str]]] = []  # (first line, lines replaced, new lines), applied bottom up
    if where.listings_block:
        assert where.last_item_line is not None
        edits.append((where.last_item_line + 1, 0, [f"{' ' * where.item_indent}- {item}\n" for item in items]))
    else:
        block = [f"{pad}  - {u}\n" for u in site.listings] + [f"{pad}  - {item}\n" for item in items]
        if where.listings_line is None:
            edits.append((where.last_line + 1, 0, [f"{pad}listings:\n", *block]))
        elif where.listings_one_line:
            comment = re.search(r"\s#\s*(.*)$", lines[where.listings_line].rstrip("\n"))
            keep = f"   # {comment.group(1)}" if comment and site.listings else ""
            prefix = lines[where.listings_line][:where.indent]  # "  - " when listings is the entry's first key
            edits.append((where.listings_line, 1, [f"{prefix}listings:{keep}\n", *block]))
        else:
            raise ConfigError(f"{config_file}:{site.line}: site {site.name!r}: its listings span several lines as a "
                              "flow list: write them as a block list (one '- URL' a line)")
    for key, text in (set_lines or {}).items():
        line = getattr(where, f"{key}_line", None)
        if line is not None:
            edits.append((line, 1, [f"{lines[line][:where.indent]}{text}\n"]))
        else:
            edits.append((where.name_line + 1, 0, [f"{pad}{text}\n"]))
    for first, count, new_lines in sorted(edits, key=lambda e: (e[0], e[1]), reverse=True):
        lines[first:first + count] = new_lines
    return "".join(lines)
