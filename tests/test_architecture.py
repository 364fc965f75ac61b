"""The shape of the code stays what README's "Architecture" section draws.

The layer, cycle and independence contracts themselves are import-linter's (pyproject's
[tool.importlinter], run by scripts/test.sh and here); these tests check what it cannot: that every
document a comment cites is in the repository, and that every environment variable gongkai reads is
in README's table and read in one place.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gongkai.settings import VARIABLES

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted(p for d in ("gongkai", "gongkai_replica", "bench", "tests") for p in (ROOT / d).rglob("*.py"))
ANATOMY = ROOT / "docs" / "portal-anatomy.md"
# "anatomy 3.5", "portal-anatomy 1.6, 3.5", "portal-anatomy section 2", "anatomy 1.6, 2.3"
_ANATOMY_REF = re.compile(r"anatomy(?:\.md)?,?\s+(?:section\s+|§)?(\d+(?:\.\d+)?(?:(?:,\s*|\s+and\s+|-)\d+(?:\.\d+)?)*)")
_MD_REF = re.compile(r"(?<![\w/.-])((?:[\w-]+/)*[\w-]+\.md)\b")


def _anatomy_sections() -> set[str]:
    found = set()
    for line in ANATOMY.read_text(encoding="utf-8").splitlines():
        m = re.match(r"#+\s+(\d+(?:\.\d+)?)[.\s]", line)
        if m:
            found.add(m.group(1))
    return found


def test_every_portal_anatomy_section_a_comment_cites_exists() -> None:
    sections = _anatomy_sections()
    assert {"1.6", "3.5", "7.5"} <= sections
    missing = []
    for path in SOURCES:
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for m in _ANATOMY_REF.finditer(line):
                for ref in re.split(r",\s*|\s+and\s+|-", m.group(1)):
                    if ref not in sections:
                        missing.append(f"{path.relative_to(ROOT)}:{n}: anatomy {ref}")
    assert not missing, missing


def test_every_markdown_document_a_comment_names_is_in_the_repository() -> None:
    names = {p.name for p in ROOT.rglob("*.md") if ".venv" not in p.parts and ".git" not in p.parts}
    paths = {str(p.relative_to(ROOT)) for p in ROOT.rglob("*.md") if ".venv" not in p.parts}
    missing = []
    for path in SOURCES:
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for m in _MD_REF.finditer(line):
                ref = m.group(1)
                if (ref if "/" in ref else Path(ref).name) not in (paths if "/" in ref else names):
                    missing.append(f"{path.relative_to(ROOT)}:{n}: {ref}")
    assert not missing, missing


def test_no_source_reads_a_path_outside_the_repository() -> None:
    """Except the real-page corpus, which by its README lives beside the checkout (../shared/realpages) and
    stays out of the repository (pages saved by others)."""
    offenders = [f"{p.relative_to(ROOT)}:{n}" for p in SOURCES if p.name != "test_architecture.py"
                 for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
                 if ("/work/shared" in line or "../shared/" in line) and "shared/realpages" not in line]
    assert not offenders, offenders


def test_readme_lists_every_environment_variable() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [v.name for v in VARIABLES if not v.internal and f"`{v.name}`" not in readme]
    assert not missing, f"README's Environment table lacks {missing}"


def test_environment_is_read_in_the_settings_module_only() -> None:
    offenders = []
    for path in sorted((ROOT / "gongkai").rglob("*.py")):
        if path.name == "settings.py" and path.parent.name == "gongkai":
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if re.search(r"os\.environ(?:\.get)?\s*[\[(]\s*[\"'](?!PG)|os\.getenv\(", line):
                offenders.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not offenders, offenders


@pytest.mark.skipif(shutil.which("lint-imports", path=str(Path(sys.executable).parent)) is None,
                    reason="import-linter is installed by the test extras")
def test_import_contracts_hold() -> None:
    """Layers import downward only, no cycles, platforms independent, the replica never imported by the
    pipeline (pyproject's [tool.importlinter])."""
    exe = Path(sys.executable).parent / "lint-imports"
    done = subprocess.run([str(exe)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-4000:]
