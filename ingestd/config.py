"""Configuration: a TOML file validated into frozen settings.

Every key is checked: an unknown key, a value of the wrong type or range, a missing file or
malformed TOML raises :class:`~ingestd.errors.ConfigError` with one line naming the file and the
key. Durations are seconds (int or float) or strings such as ``"90s"``, ``"30m"``, ``"2h"``,
``"1d"``. ``file:`` feed URLs may be relative to the configuration file's folder.
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

from ingestd import __version__
from ingestd.dedup.keys import MAX_BANDS
from ingestd.errors import ConfigError
from ingestd.model import FeedOptions

CONFIG_ENV = "INGESTD_CONFIG"
DATABASE_ENV = "INGESTD_DATABASE_URL"
STATE_DIR_ENV = "INGESTD_STATE_DIR"
DATABASE_FILE_NAME = "ingestd.sqlite3"
MAX_CONFIG_BYTES = 1 << 20  # a configuration file is a few KiB; anything past 1 MiB is not one


@dataclass(frozen=True)
class HttpSettings:
    """How pages and feeds are fetched."""

    timeout_s: float = 20.0  # connect and read timeout, each
    total_timeout_s: float = 60.0  # a whole request, redirects and body included
    max_bytes: int = 5_000_000  # limit on the decoded body
    user_agent: str = f"ingestd/{__version__}"  # with contact_url: "ingestd/0.1 (+URL)"
    proxy: str | None = None  # every request goes through it when set
    allow_private_networks: bool = False  # fetch loopback/private/link-local addresses
    max_redirects: int = 5
    max_concurrency: int = 16  # requests in flight, all hosts together
    per_host_concurrency: int = 2  # requests in flight to one host
    min_host_gap_s: float = 1.0  # least time between the starts of two requests to one host
    contact_url: str | None = None  # named in the default User-Agent, for publishers


@dataclass(frozen=True)
class DedupSettings:
    """Parameters of duplicate detection (see README, "How dedup decides")."""

    window_days: float = 30.0  # new items are compared with items stored in the last N days
    shingle_words: int = 5  # words per shingle
    num_perm: int = 128  # MinHash permutations
    bands: int = 32  # LSH bands (num_perm / bands rows each)
    anchor_every: int = 16  # keep one shingle hash in this many as an excerpt anchor
    jaccard_threshold: float = 0.5  # estimated Jaccard at or above which texts are copies
    containment_threshold: float = 0.5  # share of the shorter text found in the longer
    min_shingles: int = 30  # shorter texts must be near-verbatim copies to match
    narrative_containment: float = 0.25  # containment needed outside quotations too


@dataclass(frozen=True)
class ScheduleSettings:
    """When feeds are polled."""

    default_interval_s: float = 1800.0
    min_interval_s: float = 300.0
    max_interval_s: float = 86400.0
    lease_s: float = 600.0  # a worker's claim on a feed it polls; a dead worker's lapses then


@dataclass(frozen=True)
class ExtractSettings:
    """How article pages are turned into text."""

    fetch_pages: bool = True  # False: use the feed's own content only
    favor: str = "balanced"  # "precision", "recall" or "balanced" (trafilatura's modes)
    workers: int = 0  # processes for parsing and extraction; 0 = one per core
    max_entries: int = 200  # entries taken from one feed document per poll (the first ones)
    fast: bool = False  # True: skip trafilatura's fallback extractors (readability, jusText)


@dataclass(frozen=True)
class ServiceSettings:
    """How the daemon behaves as a service."""

    shutdown_timeout_s: float = 10.0  # SIGTERM/SIGINT: polls in flight get this long to finish


@dataclass(frozen=True)
class MetricsSettings:
    """The optional HTTP listener (Prometheus ``/metrics``, ``/healthz``)."""

    listen: str | None = None  # "host:port", e.g. "127.0.0.1:9464"; None: no listener
    # Where readers reach the listener, ending with "/": the served feeds' id, self link and
    # home page. None: http://<listen>/ (with the bound port when listen's port is 0).
    public_url: str | None = None


@dataclass(frozen=True)
class WebSettings:
    """The read-only web pages (clusters side by side, items, explain)."""

    # "host:port" of a listener of their own; None: they are served on [metrics] listen (if
    # set) and by `ingest serve` on 127.0.0.1:8464.
    listen: str | None = None
    user: str = "ingestd"  # the basic-auth user, when password_hash is set
    # scrypt$N$r$p$SALT$KEY from `ingest web hash-password`; None: no authentication
    password_hash: str | None = None


@dataclass(frozen=True)
class RetentionSettings:
    """How long items are kept."""

    days: float = 0.0  # items stored longer ago than this are pruned; 0 keeps them forever


@dataclass(frozen=True)
class FeedConfig:
    """One configured feed."""

    url: str
    name: str | None = None
    interval_s: float | None = None  # None: the schedule's default
    allow_private_networks: bool | None = None  # None: the [http] setting
    user_agent: str | None = None  # None: the [http] setting
    fetch_pages: bool | None = None  # None: the [extract] setting
    favor: str | None = None  # None: the [extract] setting
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)  # never shown

    @property
    def options(self) -> FeedOptions:
        """The feed's own settings, as the store keeps them."""
        return FeedOptions(
            user_agent=self.user_agent,
            fetch_pages=self.fetch_pages,
            favor=self.favor,
            allow_private_networks=self.allow_private_networks,
            headers=self.headers,
        )


@dataclass(frozen=True)
class Settings:
    """The whole configuration."""

    database_url: str
    http: HttpSettings = field(default_factory=HttpSettings)
    dedup: DedupSettings = field(default_factory=DedupSettings)
    schedule: ScheduleSettings = field(default_factory=ScheduleSettings)
    extract: ExtractSettings = field(default_factory=ExtractSettings)
    service: ServiceSettings = field(default_factory=ServiceSettings)
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    web: WebSettings = field(default_factory=WebSettings)
    retention: RetentionSettings = field(default_factory=RetentionSettings)
    feeds: tuple[FeedConfig, ...] = ()
    source: Path | None = None  # the file read, if any
    # True: ``feeds`` is the list of configured feeds, synced into the database (a file was
    # read, or the settings were built in code). False: no configuration file was found, and
    # the configured feeds stored (a daemon's, from its file) must be left as they are.
    owns_feeds: bool = True


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}
_T = TypeVar("_T")


def parse_duration_s(value: object) -> float:
    """Seconds from an int/float of seconds or a string like ``"30m"``; ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError('expected a duration such as 1800 or "30m"')
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (match := _DURATION.match(value)):
        seconds = float(match.group(1)) * _UNIT_S[match.group(2)]
    else:
        raise ValueError(f'expected a duration such as 1800 or "30m", got {value!r}')
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"a duration must be positive and finite, got {value!r}")
    return seconds


def default_state_dir() -> Path:
    """``$INGESTD_STATE_DIR``, else systemd's ``$STATE_DIRECTORY``, else XDG data home."""
    for name in (STATE_DIR_ENV, "STATE_DIRECTORY"):
        value = os.environ.get(name, "").split(":")[0]
        if value:
            return Path(value)
    return _xdg_home("XDG_DATA_HOME", Path(".local") / "share") / "ingestd"


def _xdg_home(variable: str, default: Path) -> Path:
    """An XDG base directory: the variable's value when it is an absolute path, else
    ``~/default`` (the XDG specification says relative paths are invalid and must be
    ignored)."""
    value = os.environ.get(variable, "")
    return Path(value) if value and Path(value).is_absolute() else Path.home() / default


def sqlite_file(database_url: str) -> Path | None:
    """The file a ``sqlite:///`` database URL names, as SQLAlchemy reads the URL (the path
    percent-decoded, a ``?query`` dropped), with ``~`` expanded and made absolute. None for
    other databases, in-memory SQLite and ``file:`` URIs. Standard library only: it also
    serves before SQLAlchemy is imported."""
    scheme, separator, rest = database_url.partition("://")
    if not separator or scheme.split("+")[0] != "sqlite":
        return None
    database = unquote(rest.split("?", 1)[0].removeprefix("/"))
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database).expanduser().absolute()


def config_candidates() -> list[Path]:
    """The places searched for a configuration file when none is named, in order."""
    candidates = []
    if conf_dir := os.environ.get("CONFIGURATION_DIRECTORY"):
        candidates.append(Path(conf_dir.split(":")[0]) / "ingestd.toml")
    xdg = _xdg_home("XDG_CONFIG_HOME", Path(".config"))
    candidates += [xdg / "ingestd" / "ingestd.toml", Path("/etc/ingestd/ingestd.toml")]
    return candidates


def default_config_path() -> Path | None:
    """The configuration file used when none is named, if one exists."""
    return next((path for path in config_candidates() if path.is_file()), None)


def no_config_message() -> str:
    """What a daemon started without any configuration file says: where it looked, and how
    to start."""
    searched = ", ".join(str(path) for path in config_candidates())
    return (
        f"no configuration file: none named by --config or ${CONFIG_ENV}, none at {searched}. "
        "To start, copy config/ingestd.toml to one of them (or pass --config PATH), or add "
        "feeds with `ingest feeds add URL` and poll them with `ingest --once`"
    )


def load_settings(path: str | Path | None = None) -> Settings:
    """Read and validate the configuration.

    ``path`` (else ``$INGESTD_CONFIG``) names the file and must exist; without either, the first
    existing default file is read, and with none the built-in defaults are used (no feeds).
    ``$INGESTD_DATABASE_URL`` overrides ``[database] url``.
    """
    named = path if path is not None else os.environ.get(CONFIG_ENV) or None
    source = Path(named) if named is not None else default_config_path()
    data: dict[str, Any] = {}
    if source is not None:
        data = _read_toml(source)
    settings = _build(data, source)
    if source is None:
        settings = replace(settings, owns_feeds=False)
    override = os.environ.get(DATABASE_ENV)
    if override:
        settings = _replace_database(settings, override)
    return settings


def _read_toml(source: Path) -> dict[str, Any]:
    """The file's TOML; only a regular file of at most ``MAX_CONFIG_BYTES`` is read (a device
    such as ``/dev/zero`` or a FIFO would never end)."""
    try:
        if source.exists() and not source.is_dir() and not source.is_file():
            raise ConfigError(f"{source}: not a regular file, so not a configuration file")
        with source.open("rb") as handle:
            data = handle.read(MAX_CONFIG_BYTES + 1)
        if len(data) > MAX_CONFIG_BYTES:
            raise ConfigError(
                f"{source}: larger than {MAX_CONFIG_BYTES} bytes, so not a configuration file"
            )
        return tomllib.loads(data.decode("utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{source}: configuration file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{source}: is a directory, not a configuration file") from None
    except PermissionError:
        raise ConfigError(f"{source}: permission denied") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: malformed TOML: {exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{source}: not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(f"{source}: cannot read it: {exc.strerror or exc}") from None


class _Section:
    """Reads typed keys out of one TOML table and reports the first problem with its key."""

    def __init__(self, data: object, where: str, source: Path | None) -> None:
        self.where = where
        self.source = source
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            raise self.error(where, "must be a table")
        self.data: Mapping[str, Any] = data

    def error(self, key: str, problem: str) -> ConfigError:
        origin = str(self.source) if self.source else "configuration"
        return ConfigError(f"{origin}: {key}: {problem}")

    def check_keys(self, allowed: set[str]) -> None:
        for key in self.data:
            if key not in allowed:
                known = ", ".join(sorted(allowed))
                raise self.error(self._key(key), f"unknown key (known keys: {known})")

    def _key(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def get(self, key: str, default: _T, convert: Callable[[Any], _T]) -> _T:
        if key not in self.data:
            return default
        try:
            return convert(self.data[key])
        except (TypeError, ValueError) as exc:
            raise self.error(self._key(key), str(exc)) from None


def _number(low: float, high: float) -> Callable[[Any], float]:
    def convert(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"expected a number, got {value!r}")
        if not math.isfinite(value):
            raise ValueError(f"expected a finite number, got {value!r}")
        if not low <= value <= high:
            raise ValueError(f"must be between {low:g} and {high:g}, got {value!r}")
        return float(value)

    return convert


def _integer(low: int, high: int) -> Callable[[Any], int]:
    def convert(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"expected a whole number, got {value!r}")
        if not low <= value <= high:
            raise ValueError(f"must be between {low} and {high}, got {value!r}")
        return value

    return convert


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"expected true or false, got {value!r}")
    return value


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise TypeError(f"expected a non-empty string, got {value!r}")
    return value.strip()


def _choice(*options: str) -> Callable[[Any], str]:
    def convert(value: Any) -> str:
        if value not in options:
            raise ValueError(f"expected one of {', '.join(options)}, got {value!r}")
        return str(value)

    return convert


def _header_text(value: Any) -> str:
    """A non-empty string that can go into an HTTP header: no CR, LF or other control
    character (which would end the header and start another)."""
    text = _text(value)
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in text):
        raise ValueError(f"must not contain control characters (CR, LF, ...), got {value!r}")
    return text


def _contact_url(value: Any) -> str:
    text = _header_text(value)
    if urlsplit(text).scheme not in ("http", "https", "mailto"):
        raise ValueError(f"expected an http(s) or mailto: URL, got {value!r}")
    return text


def _proxy(value: Any) -> str | None:
    """An ``http://`` (or ``https://``) proxy URL; aiohttp speaks no other proxy protocol, so
    ``socks5://`` and the like are refused rather than spoken to as HTTP."""
    text = _header_text(value) if value != "" else ""
    if not text:
        return None
    try:
        parts = urlsplit(text)
        host, _port = parts.hostname, parts.port
    except ValueError as exc:
        raise ValueError(f"expected a proxy URL such as http://127.0.0.1:3128: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise ValueError(
            f"expected an http:// proxy URL such as http://127.0.0.1:3128 "
            f"({parts.scheme or 'no'} scheme is not supported), got {value!r}"
        )
    if not host:
        raise ValueError(f"expected a proxy URL such as http://127.0.0.1:3128, got {value!r}")
    return text


def _build(data: Mapping[str, Any], source: Path | None) -> Settings:
    top = _Section(data, "", source)
    top.check_keys(
        {"database", "http", "dedup", "schedule", "extract", "feeds"}
        | {"service", "metrics", "web", "retention"}
    )
    schedule = _schedule(_Section(data.get("schedule"), "schedule", source))
    return Settings(
        database_url=_database_url(_Section(data.get("database"), "database", source)),
        http=_http(_Section(data.get("http"), "http", source)),
        dedup=_dedup(_Section(data.get("dedup"), "dedup", source)),
        schedule=schedule,
        extract=_extract(_Section(data.get("extract"), "extract", source)),
        service=_service(_Section(data.get("service"), "service", source)),
        metrics=_metrics(_Section(data.get("metrics"), "metrics", source)),
        web=_web(_Section(data.get("web"), "web", source)),
        retention=_retention(_Section(data.get("retention"), "retention", source)),
        feeds=_feeds(data.get("feeds", []), source),
        source=source,
    )


def _database_url(section: _Section) -> str:
    section.check_keys({"url"})
    default = f"sqlite:///{default_state_dir() / DATABASE_FILE_NAME}"
    url = section.get("url", default, _text)
    return _check_database_url(url, section)


def _check_database_url(url: str, section: _Section) -> str:
    problem = _database_problem(url)
    if problem is not None:
        raise section.error("database.url", problem)
    return url


def _database_problem(url: str) -> str | None:
    """Why ``url`` cannot be ingestd's database, or None."""
    scheme = urlsplit(url).scheme.split("+")[0]
    if scheme not in ("sqlite", "postgresql", "postgres"):
        return f"expected a sqlite:/// or postgresql:// URL, got {url!r}"
    if scheme == "sqlite" and _in_memory(url):
        return (
            f"{url!r} names no database file, so everything stored would be thrown away at "
            "exit; give a file such as sqlite:////var/lib/ingestd/ingestd.sqlite3"
        )
    return None


def _in_memory(url: str) -> bool:
    """True for a SQLite URL that names no file (``sqlite://``, ``sqlite:///``,
    ``sqlite:///:memory:``, a ``mode=memory`` URI)."""
    rest = url.partition("://")[2]
    database, _, query = rest.removeprefix("/").partition("?")
    name = unquote(database)
    return name in ("", ":memory:") or "mode=memory" in query or "mode=memory" in name


def _replace_database(settings: Settings, url: str) -> Settings:
    problem = _database_problem(url)
    if problem is not None:
        raise ConfigError(f"{DATABASE_ENV}: {problem}")
    return Settings(**{**_as_dict(settings), "database_url": url})


def _as_dict(settings: Settings) -> dict[str, Any]:
    return {item.name: getattr(settings, item.name) for item in fields(settings)}


def _http(section: _Section) -> HttpSettings:
    d = HttpSettings()
    section.check_keys({f.name for f in fields(HttpSettings)})
    contact = section.get("contact_url", None, _contact_url)
    default_agent = f"{d.user_agent} (+{contact})" if contact else d.user_agent
    return HttpSettings(
        timeout_s=section.get("timeout_s", d.timeout_s, _number(0.1, 600)),
        total_timeout_s=section.get("total_timeout_s", d.total_timeout_s, _number(0.1, 3600)),
        max_bytes=section.get("max_bytes", d.max_bytes, _integer(1024, 1 << 31)),
        user_agent=section.get("user_agent", default_agent, _header_text),
        proxy=section.get("proxy", d.proxy, _proxy),
        allow_private_networks=section.get(
            "allow_private_networks", d.allow_private_networks, _boolean
        ),
        max_redirects=section.get("max_redirects", d.max_redirects, _integer(0, 20)),
        max_concurrency=section.get("max_concurrency", d.max_concurrency, _integer(1, 1024)),
        per_host_concurrency=section.get(
            "per_host_concurrency", d.per_host_concurrency, _integer(1, 64)
        ),
        min_host_gap_s=section.get("min_host_gap_s", d.min_host_gap_s, _number(0, 3600)),
        contact_url=contact,
    )


def _dedup(section: _Section) -> DedupSettings:
    d = DedupSettings()
    section.check_keys({f.name for f in fields(DedupSettings)})
    num_perm = section.get("num_perm", d.num_perm, _integer(16, 1024))
    bands = section.get("bands", d.bands, _integer(1, MAX_BANDS))  # each band has a key tag
    if num_perm % bands:
        raise section.error("dedup.bands", f"must divide num_perm ({num_perm}), got {bands}")
    return DedupSettings(
        window_days=section.get("window_days", d.window_days, _number(0.01, 36500)),
        shingle_words=section.get("shingle_words", d.shingle_words, _integer(1, 20)),
        num_perm=num_perm,
        bands=bands,
        anchor_every=section.get("anchor_every", d.anchor_every, _integer(1, 1024)),
        jaccard_threshold=section.get("jaccard_threshold", d.jaccard_threshold, _number(0.05, 1)),
        containment_threshold=section.get(
            "containment_threshold", d.containment_threshold, _number(0.05, 1)
        ),
        min_shingles=section.get("min_shingles", d.min_shingles, _integer(1, 100_000)),
        narrative_containment=section.get(
            "narrative_containment", d.narrative_containment, _number(0, 1)
        ),
    )


def _schedule(section: _Section) -> ScheduleSettings:
    d = ScheduleSettings()
    section.check_keys({"default_interval", "min_interval", "max_interval", "lease"})
    result = ScheduleSettings(
        default_interval_s=section.get("default_interval", d.default_interval_s, parse_duration_s),
        min_interval_s=section.get("min_interval", d.min_interval_s, parse_duration_s),
        max_interval_s=section.get("max_interval", d.max_interval_s, parse_duration_s),
        lease_s=section.get("lease", d.lease_s, parse_duration_s),
    )
    if result.min_interval_s > result.max_interval_s:
        raise section.error("schedule.min_interval", "is longer than schedule.max_interval")
    return result


def _extract(section: _Section) -> ExtractSettings:
    d = ExtractSettings()
    section.check_keys({f.name for f in fields(ExtractSettings)})
    return ExtractSettings(
        fetch_pages=section.get("fetch_pages", d.fetch_pages, _boolean),
        favor=section.get("favor", d.favor, _choice("precision", "balanced", "recall")),
        fast=section.get("fast", d.fast, _boolean),
        workers=section.get("workers", d.workers, _integer(0, 256)),
        max_entries=section.get("max_entries", d.max_entries, _integer(1, 100_000)),
    )


def _service(section: _Section) -> ServiceSettings:
    d = ServiceSettings()
    section.check_keys({f.name for f in fields(ServiceSettings)})
    timeout = section.get("shutdown_timeout_s", d.shutdown_timeout_s, _number(1, 3600))
    return ServiceSettings(shutdown_timeout_s=timeout)


def _metrics(section: _Section) -> MetricsSettings:
    section.check_keys({f.name for f in fields(MetricsSettings)})
    return MetricsSettings(
        listen=section.get("listen", None, listen_address),
        public_url=section.get("public_url", None, _public_url),
    )


def _web(section: _Section) -> WebSettings:
    d = WebSettings()
    section.check_keys({f.name for f in fields(WebSettings)})
    return WebSettings(
        listen=section.get("listen", None, listen_address),
        user=section.get("user", d.user, _web_user),
        password_hash=section.get("password_hash", None, _password_hash),
    )


def _web_user(value: Any) -> str:
    text = _header_text(value)
    if ":" in text:
        raise ValueError(f"a basic-auth user name cannot contain ':', got {value!r}")
    return text


def _password_hash(value: Any) -> str | None:
    """A hash as ``ingest web hash-password`` prints it, or "" for none."""
    if isinstance(value, str) and not value.strip():
        return None
    from ingestd.service.web.auth import parse_hash

    text = _header_text(value)
    parse_hash(text)  # ValueError naming the expected form
    return text


def _public_url(value: Any) -> str:
    """An absolute http(s) URL without query or fragment, returned ending with ``/``."""
    text = _header_text(value)
    try:
        parts = urlsplit(text)
        host, _port = parts.hostname, parts.port
    except ValueError as exc:
        raise ValueError(
            f"expected a URL such as https://news.example.org/ingestd/: {exc}"
        ) from None
    if parts.scheme not in ("http", "https") or not host or parts.query or parts.fragment:
        raise ValueError(
            f"expected an http(s) URL without query, such as https://news.example.org/ingestd/, "
            f"got {value!r}"
        )
    return text if text.endswith("/") else text + "/"


def listen_address(value: Any) -> str | None:
    """``"host:port"`` (``"[::1]:9464"`` for IPv6; port 0 picks a free one), or "" for none."""
    if not isinstance(value, str):
        raise TypeError(f'expected "host:port" such as "127.0.0.1:9464", got {value!r}')
    if not value.strip():
        return None
    host, _, port = value.strip().rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not host or not port.isdigit() or int(port) > 65535:
        raise ValueError(f'expected "host:port" such as "127.0.0.1:9464", got {value!r}')
    return value.strip()


def _retention(section: _Section) -> RetentionSettings:
    section.check_keys({f.name for f in fields(RetentionSettings)})
    return RetentionSettings(days=section.get("days", 0.0, _number(0, 36500)))


def _feeds(raw: object, source: Path | None) -> tuple[FeedConfig, ...]:
    if not isinstance(raw, list):
        raise _Section({}, "", source).error("feeds", "must be an array of tables ([[feeds]])")
    feeds: list[FeedConfig] = []
    seen: set[str] = set()
    for index, entry in enumerate(raw):
        section = _Section(entry, f"feeds[{index}]", source)
        section.check_keys(
            {
                "url",
                "name",
                "interval",
                "allow_private_networks",
                "user_agent",
                "fetch_pages",
                "favor",
                "headers",
            }
        )
        if "url" not in section.data:
            raise section.error(f"feeds[{index}].url", "missing (every feed needs a url)")
        url = section.get("url", "", lambda value: _feed_url(value, source))
        if url in seen:
            raise section.error(f"feeds[{index}].url", f"duplicate feed {url}")
        seen.add(url)
        feeds.append(
            FeedConfig(
                url=url,
                name=section.get("name", None, _text),
                interval_s=section.get("interval", None, parse_duration_s),
                allow_private_networks=section.get("allow_private_networks", None, _boolean),
                user_agent=section.get("user_agent", None, _header_text),
                fetch_pages=section.get("fetch_pages", None, _boolean),
                favor=section.get("favor", None, _choice("precision", "balanced", "recall")),
                headers=section.get("headers", (), _headers),
            )
        )
    return tuple(feeds)


_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_RESERVED_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection"})


def _header_value(value: Any) -> str:
    """A header value: text without control characters (CR/LF would split the request)."""
    text = _text(value)
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise ValueError("control characters (CR, LF, ...) are not allowed in a header value")
    return text


def header_pair(name: str, value: str) -> tuple[str, str]:
    """A validated request header; ValueError saying what is wrong (the value never shown)."""
    if not _HEADER_NAME.match(name):
        raise ValueError(f"{name!r} is not a valid header name")
    if name.lower() in _RESERVED_HEADERS:
        raise ValueError(f"the {name} header is set by ingestd itself")
    return name, _header_value(value)


def _headers(value: Any) -> tuple[tuple[str, str], ...]:
    """``headers = { Cookie = "...", Authorization = "..." }``: a table of strings."""
    if not isinstance(value, dict):
        raise ValueError('expected a table such as { Cookie = "session=..." }')
    return tuple(header_pair(str(name), item) for name, item in value.items())


def _feed_url(value: Any, source: Path | None) -> str:
    """An absolute http(s) or file URL; ``file:relative/path`` is relative to the config file."""
    text = _text(value)
    parts = urlsplit(text)
    if parts.scheme in ("http", "https"):
        if not parts.hostname:
            raise ValueError(f"no host in {text!r}")
        return text
    if parts.scheme == "file":
        if text.startswith("file://"):
            return text
        base = source.resolve().parent if source else Path.cwd()
        return (base / text[len("file:") :]).resolve().as_uri()
    raise ValueError(f"expected an http://, https:// or file: URL, got {text!r}")


# --- documentation -----------------------------------------------------------------------------

# TOML keys that differ from the settings' field names (durations are written with units).
_TOML_NAMES = {
    "schedule": {
        "default_interval_s": "default_interval",
        "min_interval_s": "min_interval",
        "max_interval_s": "max_interval",
        "lease_s": "lease",
    },
    "feeds": {"interval_s": "interval"},
}


def documented_keys() -> dict[str, object]:
    """Every configuration key as ``"section.key"`` (``"feeds.url"`` for ``[[feeds]]``) with its
    default in the settings' units; None where there is none (unset, required, or computed, as
    ``database.url``).

    Sections are found by walking :class:`Settings`, so a new section or field appears here by
    itself; ``tests/unit/test_docs.py`` checks that the loader accepts each key, that README.md
    documents it and that ``config/ingestd.toml`` lists it with its default.
    """
    keys: dict[str, object] = {"database.url": None}
    for section in fields(Settings):
        factory = section.default_factory
        defaults = factory() if factory is not MISSING and callable(factory) else None
        if defaults is None or not is_dataclass(defaults):
            continue
        names = _TOML_NAMES.get(section.name, {})
        for item in fields(defaults):
            key = names.get(item.name, item.name)
            keys[f"{section.name}.{key}"] = getattr(defaults, item.name)
    for item in fields(FeedConfig):
        key = _TOML_NAMES["feeds"].get(item.name, item.name)
        keys[f"feeds.{key}"] = None if item.default is MISSING else item.default
    return keys
