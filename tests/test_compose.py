"""docker-compose.yml and Dockerfile stay valid without a Docker engine: parse them and check the shape."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent


def compose() -> dict:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text(encoding="utf-8"))


def test_postgres_with_volume_and_healthcheck():
    doc = compose()
    pg = doc["services"]["postgres"]
    assert pg["image"].startswith("postgres:16")
    volume, _, target = pg["volumes"][0].partition(":")
    assert volume in doc["volumes"] and target == "/var/lib/postgresql/data"
    assert "pg_isready" in " ".join(pg["healthcheck"]["test"])
    assert {"POSTGRES_DB", "POSTGRES_USER", "POSTGRES_PASSWORD"} <= set(pg["environment"])


def test_daemon_serves_with_config_mounted_and_healthcheck():
    svc = compose()["services"]["gongkai"]
    assert svc["build"] == "." and (REPO / "Dockerfile").is_file()
    assert svc["command"][:1] == ["serve"]
    config = svc["command"][svc["command"].index("--config") + 1]
    mounts = {m.split(":")[1]: m.split(":") for m in svc["volumes"]}
    source, target, mode = mounts[str(Path(config).parent)]
    assert (REPO / source / Path(config).name).is_file() and mode == "ro"
    url = svc["environment"]["DATABASE_URL"]
    assert re.match(r"postgresql://\w+:\$\{POSTGRES_PASSWORD:-\w+\}@postgres:5432/\w+$", url), url
    assert svc["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "/healthz" in " ".join(svc["healthcheck"]["test"])
    port = svc["environment"]["GONGKAI_HTTP_ADDR"].rsplit(":", 1)[1]
    assert any(p.endswith(f":{port}") for p in svc["ports"]) and port in " ".join(svc["healthcheck"]["test"])


def test_dockerfile_installs_the_pinned_lock_and_runs_serve():
    text = (REPO / "Dockerfile").read_text(encoding="utf-8")
    # The runtime dependencies only, at the lock's versions (no test extras in the image: test_packaging.py).
    assert "pip install -c requirements.lock ." in text and "[test]" not in text
    assert 'ENTRYPOINT ["gongkai"]' in text and '"serve"' in text
    for copied in re.findall(r"^COPY (\S+)", text, re.MULTILINE):
        assert (REPO / copied).exists(), copied


def test_scaled_profile_runs_redis_crawler_and_ingest_workers():
    services = compose()["services"]
    scaled = {name for name, svc in services.items() if "scaled" in svc.get("profiles", [])}
    assert scaled == {"redis", "crawler", "ingest"}
    assert not services["gongkai"].get("profiles") and not services["postgres"].get("profiles")
    assert services["crawler"]["command"] == ["serve", "--role", "crawler"]
    assert services["ingest"]["command"][:3] == ["serve", "--role", "ingest"]
    assert services["crawler"]["environment"]["REDIS_URL"].startswith("redis://redis:6379")
    assert services["crawler"]["depends_on"]["redis"]["condition"] == "service_healthy"
    for name in ("crawler", "ingest"):
        assert services[name]["environment"]["DATABASE_URL"] == services["gongkai"]["environment"]["DATABASE_URL"]
        assert services[name]["image"] == services["gongkai"]["image"]
    # the scheduler turns distributed only when REDIS_URL is given: the default stays single-process
    assert services["gongkai"]["environment"]["REDIS_URL"] == "${REDIS_URL:-}"


def test_every_service_of_the_image_can_build_it():
    services = compose()["services"]
    users = [name for name, svc in services.items() if str(svc.get("image", "")).startswith("gongkai")]
    assert set(users) >= {"gongkai", "crawler", "ingest"}
    assert all(services[name].get("build") == "." for name in users), users


def test_postgres_reaches_the_host_only_through_the_override_and_only_on_loopback():
    assert "ports" not in compose()["services"]["postgres"]  # off by default
    override = yaml.safe_load((REPO / "docker-compose.db-port.yml").read_text(encoding="utf-8"))
    (mapping,) = override["services"]["postgres"]["ports"]
    assert mapping.startswith("127.0.0.1:") and mapping.endswith(":5432")
    assert "docker-compose.db-port.yml" in (REPO / "docker-compose.yml").read_text(encoding="utf-8")
