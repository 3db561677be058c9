"""Configuration: defaults, durations, feed URLs, every error naming file and key, environment."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest

from ingestd.config import (
    DedupSettings,
    ExtractSettings,
    FeedConfig,
    HttpSettings,
    ScheduleSettings,
    default_state_dir,
    load_settings,
    parse_duration_s,
)
from ingestd.errors import ConfigError, UserError

pytestmark = pytest.mark.usefixtures("isolated_env")

FEED = 'url = "https://news.example/feed.xml"'


def write(folder: Path, text: str, name: str = "ingestd.toml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def config_error(path: Path) -> str:
    """The message of the ConfigError that loading ``path`` raises (checked to be one line)."""
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    message = str(caught.value)
    assert "\n" not in message
    return message


# --- defaults -----------------------------------------------------------------------------------


def test_without_any_file_the_built_in_defaults_apply(tmp_path: Path) -> None:
    settings = load_settings()

    assert settings.source is None
    assert settings.feeds == ()
    assert settings.http == HttpSettings()
    assert settings.dedup == DedupSettings()
    assert settings.schedule == ScheduleSettings()
    assert settings.extract == ExtractSettings()
    assert settings.database_url == f"sqlite:///{tmp_path / 'state' / 'ingestd.sqlite3'}"


def test_an_empty_file_gives_the_defaults_and_records_its_path(tmp_path: Path) -> None:
    path = write(tmp_path, "")

    settings = load_settings(path)

    assert settings.source == path
    assert settings.http == HttpSettings()
    assert settings.dedup == DedupSettings()
    assert settings.feeds == ()


def test_documented_default_values() -> None:
    """The defaults the README and the design promise (polite polling, sane dedup)."""
    assert ScheduleSettings().default_interval_s == 1800.0
    assert HttpSettings().allow_private_networks is False
    assert HttpSettings().proxy is None
    dedup = DedupSettings()
    assert dedup.num_perm % dedup.bands == 0
    assert (dedup.jaccard_threshold, dedup.containment_threshold) == (0.5, 0.5)
    assert ExtractSettings().fetch_pages is True


def test_every_section_is_read(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        [database]
        url = "postgresql://db.internal/ingestd"
        [http]
        timeout_s = 5
        max_bytes = 2048
        user_agent = "  probe/1.0  "
        proxy = "http://127.0.0.1:3128"
        allow_private_networks = true
        [dedup]
        num_perm = 64
        bands = 16
        window_days = 3
        [schedule]
        default_interval = "10m"
        min_interval = "5m"
        max_interval = "1d"
        [extract]
        fetch_pages = false
        favor = "precision"
        fast = true
        workers = 2
        [[feeds]]
        url = "https://news.example/feed.xml"
        name = "News"
        interval = "2h"
        allow_private_networks = false
        """,
    )

    settings = load_settings(path)

    assert settings.database_url == "postgresql://db.internal/ingestd"
    assert settings.http.timeout_s == 5.0
    assert settings.http.max_bytes == 2048
    assert settings.http.user_agent == "probe/1.0"
    assert settings.http.proxy == "http://127.0.0.1:3128"
    assert settings.http.allow_private_networks is True
    dedup = settings.dedup
    assert (dedup.num_perm, dedup.bands, dedup.window_days) == (64, 16, 3.0)
    assert settings.schedule == ScheduleSettings(600.0, 300.0, 86400.0)
    assert settings.extract == ExtractSettings(False, "precision", 2, fast=True)
    assert settings.feeds == (FeedConfig("https://news.example/feed.xml", "News", 7200.0, False),)


def test_an_empty_proxy_string_means_no_proxy(tmp_path: Path) -> None:
    assert load_settings(write(tmp_path, '[http]\nproxy = ""')).http.proxy is None


# --- durations ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("90s", 90.0),
        ("30m", 1800.0),
        ("2h", 7200.0),
        ("1d", 86400.0),
        ("1.5h", 5400.0),
        ("250ms", 0.25),
        (" 5 m ", 300.0),
        ("45", 45.0),
        (1800, 1800.0),
        (2.5, 2.5),
    ],
)
def test_durations_are_seconds_or_strings_with_a_unit(value: object, seconds: float) -> None:
    assert parse_duration_s(value) == seconds


@pytest.mark.parametrize(
    "value", ["", "soon", "10x", "m", "-5m", "1e3", "5 minutes", 0, -30, "0s", True, None, [60]]
)
def test_bad_durations_are_rejected(value: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration_s(value)


@pytest.mark.parametrize("value", [math.nan, math.inf])
def test_non_finite_durations_are_rejected(value: float) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration_s(value)


def test_a_nan_interval_in_the_file_is_a_config_error(tmp_path: Path) -> None:
    config_error(write(tmp_path, "[schedule]\ndefault_interval = nan"))


def test_durations_in_the_file_become_seconds(tmp_path: Path) -> None:
    path = write(tmp_path, f'[schedule]\ndefault_interval = "2h"\n[[feeds]]\n{FEED}\ninterval = 90')

    settings = load_settings(path)

    assert settings.schedule.default_interval_s == 7200.0
    assert settings.feeds[0].interval_s == 90.0


def test_a_feed_without_an_interval_uses_the_schedule_default(tmp_path: Path) -> None:
    assert load_settings(write(tmp_path, f"[[feeds]]\n{FEED}")).feeds[0].interval_s is None


# --- feed URLs ----------------------------------------------------------------------------------


def test_relative_file_urls_resolve_against_the_config_folder_not_the_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(
        tmp_path / "conf",
        '[[feeds]]\nurl = "file:feeds/a.xml"\n[[feeds]]\nurl = "file:../shared/b.xml"',
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)

    urls = [feed.url for feed in load_settings(path).feeds]

    assert urls == [
        (tmp_path / "conf" / "feeds" / "a.xml").resolve().as_uri(),
        (tmp_path / "shared" / "b.xml").resolve().as_uri(),
    ]


def test_absolute_file_and_http_urls_are_kept_trimmed(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[[feeds]]\nurl = "file:///srv/feeds/a.xml"\n'
        '[[feeds]]\nurl = "  http://news.example/rss  "',
    )

    assert [feed.url for feed in load_settings(path).feeds] == [
        "file:///srv/feeds/a.xml",
        "http://news.example/rss",
    ]


# --- errors name the file and the key -----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "key"),
    [
        # unknown keys
        ('colour = "red"', "colour"),
        ("[http]\ntimeout = 5", "http.timeout"),
        ("[dedup]\nshingle = 4", "dedup.shingle"),
        ('[schedule]\ninterval = "1h"', "schedule.interval"),
        ('[extract]\nfavour = "recall"', "extract.favour"),
        ('[database]\npath = "x.db"', "database.path"),
        (f'[[feeds]]\n{FEED}\nfrequency = "1h"', "feeds[0].frequency"),
        (f'[[feeds]]\n{FEED}\n[[feeds]]\nurl = "https://b.example/"\ntags = []', "feeds[1].tags"),
        # wrong types
        ('[http]\ntimeout_s = "20"', "http.timeout_s"),
        ('[http]\nallow_private_networks = "yes"', "http.allow_private_networks"),
        ('[http]\nuser_agent = "  "', "http.user_agent"),
        ("[http]\nmax_bytes = 1e6", "http.max_bytes"),
        ("[dedup]\nnum_perm = 128.0", "dedup.num_perm"),
        ("[dedup]\nwindow_days = true", "dedup.window_days"),
        ("[extract]\nfetch_pages = 1", "extract.fetch_pages"),
        ("[[feeds]]\nurl = 5", "feeds[0].url"),
        (f"[[feeds]]\n{FEED}\nname = 3", "feeds[0].name"),
        (f"[[feeds]]\n{FEED}\nallow_private_networks = 1", "feeds[0].allow_private_networks"),
        ("http = 5", "http"),
        ('feeds = "https://news.example/feed.xml"', "feeds"),
        (f"[feeds]\n{FEED}", "feeds"),
        ("feeds = [1]", "feeds[0]"),
        # out of range or not one of the choices
        ("[http]\nmax_redirects = 50", "http.max_redirects"),
        ("[http]\ntimeout_s = 0", "http.timeout_s"),
        ("[http]\nper_host_concurrency = 0", "http.per_host_concurrency"),
        ("[dedup]\njaccard_threshold = 1.5", "dedup.jaccard_threshold"),
        ("[dedup]\nshingle_words = 0", "dedup.shingle_words"),
        ("[extract]\nworkers = -1", "extract.workers"),
        ('[extract]\nfavor = "speed"', "extract.favor"),
        ('[extract]\nfast = "yes"', "extract.fast"),
        ('[http]\nproxy = "ftp://proxy.example"', "http.proxy"),
        # values that would be used wrongly, or would lose data
        ('[http]\nproxy = "socks5://127.0.0.1:1080"', "http.proxy"),  # not spoken as HTTP
        ('[http]\nproxy = "socks5h://127.0.0.1:1080"', "http.proxy"),
        ('[http]\nuser_agent = "ingestd\\r\\nX-Injected: 1"', "http.user_agent"),
        ('[http]\nuser_agent = "ingestd\\nX: 1"', "http.user_agent"),
        ('[http]\ncontact_url = "https://a.example/\\r\\nX: 1"', "http.contact_url"),
        ('[database]\nurl = "sqlite:///"', "database.url"),
        ('[database]\nurl = "sqlite://"', "database.url"),
        ('[database]\nurl = "sqlite:///:memory:"', "database.url"),
        ('[database]\nurl = "sqlite:///file:x?mode=memory&uri=true"', "database.url"),
        ('[metrics]\npublic_url = "ftp://news.example/"', "metrics.public_url"),
        ('[metrics]\npublic_url = "https://news.example/?a=1"', "metrics.public_url"),
        ('[schedule]\ndefault_interval = "soon"', "schedule.default_interval"),
        ('[schedule]\nmin_interval = "2d"\nmax_interval = "1d"', "schedule.min_interval"),
        (f'[[feeds]]\n{FEED}\ninterval = "-1h"', "feeds[0].interval"),
        # feeds
        ('[[feeds]]\nname = "no url"', "feeds[0].url"),
        ('[[feeds]]\nurl = "ftp://news.example/feed"', "feeds[0].url"),
        ('[[feeds]]\nurl = "https:///feed.xml"', "feeds[0].url"),
        ('[[feeds]]\nurl = "news.example/feed.xml"', "feeds[0].url"),
        (f'[[feeds]]\n{FEED}\n[[feeds]]\nname = "again"\n{FEED}', "feeds[1].url"),
        # database and dedup consistency
        ('[database]\nurl = "mysql://localhost/ingestd"', "database.url"),
        ('[database]\nurl = "ingestd.sqlite3"', "database.url"),
        ("[dedup]\nnum_perm = 128\nbands = 30", "dedup.bands"),
        ("[dedup]\nbands = 3", "dedup.bands"),
        ("[dedup]\nnum_perm = 256\nbands = 128", "dedup.bands"),  # 126 at most: key tags
    ],
)
def test_every_invalid_value_is_a_config_error_naming_file_and_key(
    tmp_path: Path, text: str, key: str
) -> None:
    path = write(tmp_path, text)

    message = config_error(path)

    assert message.startswith(f"{path}: {key}: "), message


def test_an_unknown_key_lists_the_known_keys(tmp_path: Path) -> None:
    message = config_error(write(tmp_path, "[http]\ntimeout = 5"))

    assert "unknown key" in message
    assert "timeout_s" in message


def test_a_duplicate_feed_says_so(tmp_path: Path) -> None:
    message = config_error(write(tmp_path, f"[[feeds]]\n{FEED}\n[[feeds]]\n{FEED}"))

    assert "duplicate feed https://news.example/feed.xml" in message


def test_bands_not_dividing_num_perm_names_both_numbers(tmp_path: Path) -> None:
    message = config_error(write(tmp_path, "[dedup]\nnum_perm = 100\nbands = 30"))

    assert "num_perm (100)" in message
    assert "30" in message


def test_malformed_toml_is_a_config_error_naming_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[http\ntimeout_s = = 5")

    assert config_error(path).startswith(f"{path}: malformed TOML")


def test_a_missing_file_is_a_config_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "ingestd.toml"

    assert config_error(path) == f"{path}: configuration file not found"


def test_a_directory_is_not_a_configuration_file(tmp_path: Path) -> None:
    assert config_error(tmp_path) == f"{tmp_path}: is a directory, not a configuration file"


def test_a_file_that_is_not_utf8_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes('[[feeds]]\nname = "Café"\n'.encode("latin-1"))

    assert config_error(path).startswith(f"{path}: ")


def test_config_errors_are_user_errors() -> None:
    """The CLI turns UserError into one line and exit 2."""
    assert issubclass(ConfigError, UserError)


# --- environment --------------------------------------------------------------------------------


def test_database_url_variable_overrides_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, '[database]\nurl = "sqlite:////srv/ingestd.sqlite3"')
    monkeypatch.setenv("INGESTD_DATABASE_URL", "postgresql://db.internal/ingestd")

    assert load_settings(path).database_url == "postgresql://db.internal/ingestd"


def test_database_url_variable_overrides_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INGESTD_DATABASE_URL", "sqlite:////var/lib/ingestd/x.sqlite3")

    assert load_settings().database_url == "sqlite:////var/lib/ingestd/x.sqlite3"


def test_a_bad_database_url_variable_names_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INGESTD_DATABASE_URL", "mysql://localhost/ingestd")

    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, ""))

    assert str(caught.value).startswith("INGESTD_DATABASE_URL: ")
    assert "mysql://localhost/ingestd" in str(caught.value)


def test_an_empty_database_url_variable_is_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INGESTD_DATABASE_URL", "")
    path = write(tmp_path, '[database]\nurl = "postgresql://db.internal/ingestd"')

    assert load_settings(path).database_url == "postgresql://db.internal/ingestd"


def test_state_dir_variable_holds_the_default_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INGESTD_STATE_DIR", str(tmp_path / "mine"))
    monkeypatch.setenv("STATE_DIRECTORY", str(tmp_path / "systemd"))

    assert default_state_dir() == tmp_path / "mine"
    assert load_settings().database_url == f"sqlite:///{tmp_path / 'mine' / 'ingestd.sqlite3'}"


def test_systemd_state_directory_is_used_without_the_ingestd_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("INGESTD_STATE_DIR")
    monkeypatch.setenv("STATE_DIRECTORY", f"{tmp_path / 'first'}:{tmp_path / 'second'}")

    assert default_state_dir() == tmp_path / "first"


def test_xdg_data_home_is_the_fallback_state_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("INGESTD_STATE_DIR")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))

    assert default_state_dir() == tmp_path / "data" / "ingestd"
    assert load_settings().database_url == (
        f"sqlite:///{tmp_path / 'data' / 'ingestd' / 'ingestd.sqlite3'}"
    )


def test_a_relative_xdg_data_home_is_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The XDG specification: a relative path in $XDG_DATA_HOME is invalid and ignored (it
    would put the database wherever the command happens to run)."""
    monkeypatch.delenv("INGESTD_STATE_DIR")
    monkeypatch.setenv("XDG_DATA_HOME", "relative/data")

    assert default_state_dir() == tmp_path / "home" / ".local" / "share" / "ingestd"


def test_a_relative_xdg_config_home_is_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    planted = tmp_path / "relative" / "ingestd" / "ingestd.toml"
    planted.parent.mkdir(parents=True)
    planted.write_text("[http]\ntimeout_s = 3\n", encoding="utf-8")
    monkeypatch.setenv("XDG_CONFIG_HOME", "relative")

    assert load_settings().source is None


def test_a_sqlite_memory_database_from_the_variable_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("INGESTD_DATABASE_URL", "sqlite:///:memory:")

    with pytest.raises(ConfigError, match=r"^INGESTD_DATABASE_URL: .*thrown away"):
        load_settings()


def test_the_public_url_ends_with_a_slash(tmp_path: Path) -> None:
    path = write(tmp_path, '[metrics]\npublic_url = "https://news.example/ingestd"')
    assert load_settings(path).metrics.public_url == "https://news.example/ingestd/"


def test_an_http_proxy_is_accepted(tmp_path: Path) -> None:
    path = write(tmp_path, '[http]\nproxy = "http://127.0.0.1:3128"')
    assert load_settings(path).http.proxy == "http://127.0.0.1:3128"


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom", "/dev/null"])
def test_a_device_is_not_a_configuration_file(device: str) -> None:
    """Reading /dev/zero as TOML would never end."""
    with pytest.raises(ConfigError, match=rf"^{device}: not a regular file"):
        load_settings(device)


def test_a_fifo_is_not_read(tmp_path: Path) -> None:
    """Opening a FIFO without a writer would block for ever: it is refused before."""
    fifo = tmp_path / "config.fifo"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError, match="not a regular file"):
        load_settings(fifo)


def test_a_huge_file_is_not_a_configuration_file(tmp_path: Path) -> None:
    path = tmp_path / "huge.toml"
    path.write_bytes(b"# " + b"x" * (2 << 20) + b"\n")
    with pytest.raises(ConfigError, match="larger than 1048576 bytes"):
        load_settings(path)


def test_without_xdg_data_home_the_state_directory_is_under_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("INGESTD_STATE_DIR")

    assert default_state_dir() == tmp_path / "home" / ".local" / "share" / "ingestd"


def test_ingestd_config_variable_names_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, f"[[feeds]]\n{FEED}")
    monkeypatch.setenv("INGESTD_CONFIG", str(path))

    settings = load_settings()

    assert settings.source == path
    assert [feed.url for feed in settings.feeds] == ["https://news.example/feed.xml"]


def test_an_explicit_path_beats_the_ingestd_config_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INGESTD_CONFIG", str(write(tmp_path / "env", "")))
    path = write(tmp_path / "arg", f"[[feeds]]\n{FEED}")

    assert load_settings(path).source == path


def test_ingestd_config_naming_a_missing_file_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "absent.toml"
    monkeypatch.setenv("INGESTD_CONFIG", str(missing))

    with pytest.raises(ConfigError, match=r"absent\.toml: configuration file not found"):
        load_settings()


def test_the_xdg_config_file_is_read_when_none_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    path = write(tmp_path / "cfg" / "ingestd", f"[[feeds]]\n{FEED}")

    assert load_settings().source == path


def test_systemd_configuration_directory_comes_before_xdg(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    write(tmp_path / "cfg" / "ingestd", "")
    path = write(tmp_path / "etc", f"[[feeds]]\n{FEED}")
    monkeypatch.setenv("CONFIGURATION_DIRECTORY", str(tmp_path / "etc"))

    assert load_settings().source == path
