"""config/sites.yaml: a good file loads; every mistake is one line naming the file and the line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gongkai.config import ConfigError, load_config, load_sites, parse_duration
from tests.test_cli import gongkai, one_line_error

REPO = Path(__file__).resolve().parent.parent

GOOD = """\
ingest_interval: 2m
http: {host: 0.0.0.0, port: 9100}
timezone: Asia/Shanghai
defaults:
  delay: 2
sites:
  - name: xianju
    region: {province: 浙江省, city: 台州市, county: 仙居县, town: 朱溪镇}
    platform: jcms
    listings:
      - http://www.zjxj.gov.cn/col/col1229311252/index.html
    schedule: {cron: "0 3 * * *", jitter: 10m}
  - name: wuyi
    listings: http://www.zjwy.gov.cn/col/col1229423772/index.html
    schedule: {interval: 6h}
    delay: 0.5
    concurrency: 1
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sites.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_good_file_loads(tmp_path):
    config = load_config(write(tmp_path, GOOD))
    assert config.ingest_interval == 120 and (config.http_host, config.http_port) == ("0.0.0.0", 9100)
    xianju, wuyi = config.sites
    assert xianju.region.town == "朱溪镇" and xianju.platform == "jcms" and xianju.line == 7
    assert xianju.schedule.cron == "0 3 * * *" and xianju.schedule.jitter == 600
    assert xianju.delay == 2 and xianju.concurrency is None  # from defaults
    assert wuyi.listings == ("http://www.zjwy.gov.cn/col/col1229423772/index.html",)
    assert wuyi.schedule.interval == 6 * 3600 and wuyi.schedule.jitter == 2160  # a tenth of the period
    assert (wuyi.delay, wuyi.concurrency) == (0.5, 1)
    assert xianju.schedule.trigger() is not None and wuyi.schedule.trigger() is not None


def test_default_schedule_is_daily_with_jitter(tmp_path):
    (site,) = load_sites(write(tmp_path, "sites:\n  - name: a\n    listings: [http://h/col/col1/index.html]\n"))
    assert site.schedule.interval == 86400 and site.schedule.jitter == 3600


def test_refresh_defaults_to_weekly_and_can_be_set_or_switched_off(tmp_path):
    text = ("defaults: {refresh: 2d}\nsites:\n  - name: a\n    listings: [http://h/col/col1/index.html]\n"
            "  - name: b\n    listings: [http://h/col/col2/index.html]\n    refresh: never\n"
            "  - name: c\n    listings: [http://h/col/col3/index.html]\n    refresh: off\n")
    a, b, c = load_sites(write(tmp_path, text))
    assert (a.refresh, b.refresh, c.refresh) == (2 * 86400, None, None)
    (d,) = load_sites(write(tmp_path, "sites:\n  - name: d\n    listings: [http://h/col/col1/index.html]\n"))
    assert d.refresh == 7 * 86400


def test_shipped_config_lists_every_zhejiang_county_with_its_home():
    config = load_config(REPO / "config" / "sites.yaml")
    counties = [s for s in config.sites if s.region.county]
    assert len(counties) == 90 and len({s.region.county for s in counties}) == 90
    assert {s.region.province for s in config.sites} == {"浙江省"} and len({s.region.city for s in config.sites}) == 11
    assert all(s.home for s in config.sites)
    homes = [s.home.split("://", 1)[1].removeprefix("www.").rstrip("/") for s in config.sites]
    assert len(set(homes)) == len(homes)  # one site per portal: discover --add knows where columns go
    # every listing is on its site's own portal, and the 36 known columns are all still there
    assert all(u.split("/")[2].removeprefix("www.") == h for s, h in zip(config.sites, homes, strict=True)
               for u in s.listings)
    assert sum(len(s.listings) for s in config.sites) == 36
    # names reports and history are filed under never change (平阳's portal keeps its old name 'pujiang')
    earlier = ("xianju wuyi taishun linhai xiangshan wenling songyang tongxiang shengzhou anji xihu shangcheng "
               "qiantang cixi jinyun chunan beilun kaihua yongjia yueqing tiantai sanmen longyou wuxing pujiang "
               "shaoxing hangzhou yuhuan pinghu").split()
    assert set(earlier) <= {s.name for s in config.sites}
    pujiang = config.site("pujiang")
    assert (pujiang.region.county, pujiang.home) == ("平阳县", "https://www.zjpy.gov.cn/")
    assert config.site("pujiangxian").region.county == "浦江县"
    text = (REPO / "config" / "sites.yaml").read_text(encoding="utf-8")
    for line in text.splitlines():  # every host and column says where it was confirmed
        if re.match(r"\s*(home: |- )http", line):
            assert re.search(r"#\s*\S", line), line


def test_empty_file_means_no_sites(tmp_path):
    assert load_config(write(tmp_path, "# nothing yet\n")).sites == ()


def test_a_county_with_no_known_column_is_a_home_page_to_discover_from(tmp_path):
    text = ("discovery: {interval: 3d, jitter: 1h}\nsites:\n"
            "  - name: a\n    home: https://www.a.gov.cn/\n    platform: unknown\n    listings: []\n"
            "  - name: b\n    home: https://www.b.gov.cn/\n    platform: jcms\n"
            "    listings: [https://www.b.gov.cn/col/col1/index.html]\n")
    config = load_config(write(tmp_path, text))
    a, b = config.sites
    assert (a.home, a.listings, a.platform) == ("https://www.a.gov.cn/", (), None)
    assert (b.home, b.listings, b.platform) == ("https://www.b.gov.cn/", ("https://www.b.gov.cn/col/col1/index.html",),
                                                "jcms")
    assert (config.discovery.interval, config.discovery.jitter) == (3 * 86400, 3600)
    assert load_config(write(tmp_path, "discovery: never\n")).discovery is None
    assert load_config(write(tmp_path, "sites: []\n")).discovery.interval == 7 * 86400


@pytest.mark.parametrize(("text", "line", "expected"), [
    ("sites:\n  - name: a\n    listings: [http://h/c]\n    schedule: {every: 6h}\n", 4,
     "site 'a': schedule: unknown key 'every'"),
    ("sites:\n  - name: a\n    listings: [http://h/c]\n    schedule:\n      interval: soon\n", 5,
     "site 'a': schedule: interval: 'soon' is not a duration"),
    ("sites:\n  - name: a\n    listings: [http://h/c]\n    schedule: {cron: \"61 * * * *\"}\n", 4,
     "site 'a': schedule: cron: '61 * * * *'"),
    ("sites:\n  - name: a\n    listings: [http://h/c]\n    schedule: {interval: 1h, cron: \"0 3 * * *\"}\n", 4,
     "give exactly one of 'interval'"),
    ("sites:\n  - name: a\n    listings: [http://h/c]\n  - name: a\n    listings: [http://h/d]\n", 4,
     "site 'a': name already used on line 2"),
    ("sites:\n  - name: a\n    listings: [ftp://h/c]\n", 3, "site 'a': listings: 'ftp://h/c' is not an http(s) URL"),
    ("sites:\n  - name: a\n", 2, "site 'a': missing 'listings'"),
    ("sites:\n  - listings: [http://h/c]\n", 2, "site: missing 'name'"),
    ("sites:\n  - name: a b\n    listings: [http://h/c]\n", 2, "site 'a b': name must be"),
    ("sites:\n  - name: a\n    listings: [http://h/c]\n    platform: wordpress\n", 4,
     "site 'a': platform: 'wordpress' is not one of"),
    ("sites:\n  - name: a\n    listings: [http://h/c]\n    concurrency: 0\n", 4, "site 'a': concurrency: must be"),
    ("sites:\n  - name: a\n    listings: [http://h/c]\n  - name: b\n    listings: [http://h/c]\n", 4,
     "listing http://h/c already belongs to site 'a'"),
    ("ingest_interval: 0\n", 1, "ingest_interval: must be more than 0"),
    ("http: {port: 99999}\n", 1, "http: port: must be a whole number from 1 to 65535"),
    ("timezone: Mars/Olympus\n", 1, "unknown time zone"),
    ("site:\n  - name: a\n", 1, "unknown key 'site'"),
    ("sites:\n  - name: a\n    listings: [http://h/c\n", 4, "not valid YAML"),
    ("sites: {name: a}\n", 1, "sites: must be a list"),
    ("sites:\n  - name: a\n    listings: [http://h/c]\n    refresh: 10m\n", 4, "site 'a': refresh: at least 1h"),
    ("defaults: {refresh: weekly}\n", 1, "defaults: refresh: 'weekly' is not a duration"),
    ("sites:\n  - name: a\n    home: ftp://h/\n", 3, "site 'a': home: 'ftp://h/' is not an http(s) URL"),
    ("sites:\n  - name: a\n    listings: []\n", 3, "site 'a': listings: must be a non-empty list"),
    ("discovery: {every: 7d}\n", 1, "discovery: schedule: unknown key 'every'"),
])
def test_bad_file_is_one_line_with_file_and_line(tmp_path, text, line, expected):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}:{line}: "), message
    assert expected in message, message


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "nope.yaml")


def test_durations():
    assert parse_duration("90s") == 90 and parse_duration("1h30m") == 5400 and parse_duration(15) == 15
    assert parse_duration("1d") == 86400 and parse_duration("250ms") == 0.25
    for bad in ("", "6 hours", "-1", True, None):
        with pytest.raises(ValueError):
            parse_duration(bad)


def test_cli_reports_config_errors_in_one_line(tmp_path, database_url):
    path = write(tmp_path, "sites:\n  - name: a\n    listings: [http://h/c]\n    schedule: {every: 6h}\n")
    for args in (("serve", "--config", str(path)), ("crawl", "--site", "a", "--config", str(path))):
        result = gongkai(*args, database_url=database_url, timeout=60)
        assert result.returncode == 2, result.stderr
        assert f"{path}:4: site 'a': schedule: unknown key 'every'" in one_line_error(result)


def test_crawl_needs_urls_or_sites(tmp_path, database_url):
    result = gongkai("crawl", database_url=database_url, timeout=60)
    assert result.returncode == 2 and "--site NAME / --all" in one_line_error(result)
    path = write(tmp_path, GOOD)
    unknown = gongkai("crawl", "--site", "nowhere", "--config", str(path), database_url=database_url, timeout=60)
    assert unknown.returncode == 2 and "no site 'nowhere' (configured: xianju, wuyi)" in one_line_error(unknown)
