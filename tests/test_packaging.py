"""What the package needs at run time is declared as a runtime dependency, and the image installs only that.

A module gongkai imports that reaches the venv only through the test extras works in every test and
fails in production (`pip install -c requirements.lock .`, then `gongkai ingest`: no module named numpy).
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _project() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def _imported_top_levels(*packages: str) -> set[str]:
    found: set[str] = set()
    for package in packages:
        for path in (REPO / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    found.update(alias.name.split(".")[0] for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    found.add(node.module.split(".")[0])
    return found - set(sys.stdlib_module_names) - {"gongkai", "gongkai_replica", "__future__"}


def _declared(requirements: list[str]) -> set[str]:
    return {_norm(re.split(r"[\s\[<>=!~;]", req, maxsplit=1)[0]) for req in requirements}


def test_every_module_the_package_imports_is_a_runtime_dependency() -> None:
    distributions = packages_distributions()
    runtime = _declared(_project()["dependencies"])
    missing = {}
    for module in sorted(_imported_top_levels("gongkai", "gongkai_replica")):
        dists = {_norm(d) for d in distributions.get(module, [module])}
        if not dists & runtime:
            missing[module] = sorted(dists)
    assert not missing, f"imported by gongkai but not in [project].dependencies: {missing}"


def test_every_dependency_is_pinned_and_locked() -> None:
    lock = {_norm(line.split("==")[0]): line.split("==")[1]
            for line in (REPO / "requirements.lock").read_text(encoding="utf-8").split() if "==" in line}
    project = _project()
    for req in project["dependencies"] + [r for extra in project["optional-dependencies"].values() for r in extra]:
        name, _, version = re.sub(r"\[[^]]*\]", "", req).partition("==")
        assert version, f"{req}: not pinned"
        assert lock.get(_norm(name)) == version, f"{req}: requirements.lock has {lock.get(_norm(name))}"


def test_the_image_installs_the_runtime_dependencies_only() -> None:
    dockerfile = (REPO / "Dockerfile").read_text(encoding="utf-8")
    installs = [line for line in dockerfile.splitlines() if "pip install" in line]
    assert installs and not any("[test]" in line or "-r requirements.lock" in line for line in installs), installs
    assert any("-c requirements.lock" in line for line in installs)


def test_the_image_has_the_libraries_ocr_needs() -> None:
    """rapidocr-onnxruntime pulls opencv-python (not headless), whose cv2 needs libGL and glib: without them
    in the slim image, every scanned report file gives a note instead of its text."""
    lock = (REPO / "requirements.lock").read_text(encoding="utf-8")
    dockerfile = (REPO / "Dockerfile").read_text(encoding="utf-8")
    if "opencv-python==" in lock:
        assert "libgl1" in dockerfile and "libglib2.0-0" in dockerfile


# The packages only the test extras install: a crawl and ingest must run with none of them importable.
_TEST_ONLY = ["pytest", "_pytest", "xdist", "pytest_timeout", "datasketch", "scipy", "hypothesis", "importlinter",
              "grimp", "ruff"]
_BLOCK = """
import sys, runpy
class _Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in {blocked!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}} (a test-only package)")
sys.meta_path.insert(0, _Block())
sys.argv = ['gongkai'] + sys.argv[1:]
runpy.run_module('gongkai', run_name='__main__')
"""


def test_a_crawl_and_ingest_run_without_the_test_extras(database_url: str) -> None:
    import os
    import subprocess

    from gongkai_replica.demo import build_demo_sites
    from gongkai_replica.server import ReplicaServer

    sites = build_demo_sites()[:1]
    with ReplicaServer(sites) as server:
        urls = server.listing_urls(sites[0].name)
        env = {**os.environ, "DATABASE_URL": database_url, "GONGKAI_BACKOFF_BASE": "0.05", "RETRY_TIMES": "1"}
        done = subprocess.run([sys.executable, "-c", _BLOCK.format(blocked=set(_TEST_ONLY)), "crawl", *urls,
                               "--delay", "0"], capture_output=True, text=True, env=env, timeout=300,
                              stdin=subprocess.DEVNULL)
    assert "test-only package" not in done.stderr, done.stderr[-2000:]
    assert done.returncode == 0, done.stderr[-2000:]
    assert re.search(r"ingest: .*\d+ new", done.stderr), done.stderr[-2000:]


@pytest.mark.timeout(900)
def test_a_clean_install_without_extras_crawls_and_ingests(database_url, tmp_path):
    """What a production install gets (`pip install -c requirements.lock .`, no test extras: what the image
    does) is enough to crawl and ingest: a fresh venv, nothing from this one."""
    import os
    import subprocess

    from gongkai_replica.demo import build_demo_sites
    from gongkai_replica.server import ReplicaServer

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True, timeout=300, capture_output=True)
    installed = subprocess.run([*pip, "-c", str(REPO / "requirements.lock"), str(REPO)], timeout=600,
                               capture_output=True, text=True)
    assert installed.returncode == 0, installed.stderr[-2000:]
    freeze = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "freeze"], capture_output=True, text=True)
    assert not re.search(r"^(pytest|ruff|scipy|hypothesis|datasketch)==", freeze.stdout, re.M | re.I), freeze.stdout
    sites = build_demo_sites()[:1]
    with ReplicaServer(sites) as server:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        env.update(DATABASE_URL=database_url, GONGKAI_BACKOFF_BASE="0.05", RETRY_TIMES="1")
        done = subprocess.run([str(venv / "bin" / "gongkai"), "crawl", *server.listing_urls(sites[0].name),
                               "--delay", "0"], capture_output=True, text=True, env=env, timeout=300,
                              cwd=tmp_path, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr[-2000:]
    assert re.search(r"ingest: .*\d+ new", done.stderr), done.stderr[-2000:]
