"""Edits of the sites file that keep what a person wrote in it (comments, order, layout): text edits, found
through the YAML node tree, then validated by loading the file; a file that would not load is put back.
`gongkai sites add` and `gongkai discover --add` both write through here."""

from __future__ import annotations

from pathlib import Path

import yaml

from gongkai.config import ConfigError, load_config


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


def listing_nodes(text: str, path: Path) -> dict[str, tuple[int, int]]:
    """site name -> (line index of its last listing, indentation of its '- ' items), for sites whose
    listings are a block list (a flow list or a single URL gets a new site rather than an edit)."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    out: dict[str, tuple[int, int]] = {}
    if not isinstance(root, yaml.MappingNode):
        return out
    sites = next((v for k, v in root.value if k.value == "sites"), None)
    if not isinstance(sites, yaml.SequenceNode):
        return out
    for node in sites.value:
        if not isinstance(node, yaml.MappingNode):
            continue
        fields = {k.value: v for k, v in node.value}
        listings, name = fields.get("listings"), fields.get("name")
        if isinstance(listings, yaml.SequenceNode) and listings.value and not listings.flow_style and name is not None:
            last = listings.value[-1]
            out[str(name.value)] = (last.end_mark.line, max(0, last.start_mark.column - 2))
    return out
