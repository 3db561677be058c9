"""URL normalisation and hosts, for recognising the same page under different URLs."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

_TRACKING_PREFIXES = ("utm_", "mc_", "pk_", "hsa_", "_hs", "vero_", "oly_", "__s")
_TRACKING_NAMES = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "msclkid",
        "yclid",
        "igshid",
        "mkt_tok",
        "ref",
        "ref_src",
        "referrer",
        "cmpid",
        "cmp",
        "campaign",
        "ocid",
        "ito",
        "wt.mc_id",
        "ns_mchannel",
        "ns_source",
        "ns_campaign",
        "ns_linkname",
        "ns_fee",
        "smid",
        "smtyp",
        "s_cid",
        "outputtype",
        "amp",
        "_ga",
        "guccounter",
    }
)
_DEFAULT_PORTS = {"http": 80, "https": 443}


def normalize_url(url: str) -> str:
    """A comparable form of an http(s) URL.

    Lower-cases scheme and host, folds https to http, drops ``www.``, default ports, the
    fragment, tracking parameters (``utm_*``, ``fbclid``, ...) and a trailing slash, and sorts the
    remaining query parameters. Other URLs (``file:``) are returned without their fragment.
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        return urlunsplit((scheme, parts.netloc, parts.path, parts.query, ""))
    host = (parts.hostname or "").lower().rstrip(".")
    host = host.removeprefix("www.")
    try:
        port = parts.port
    except ValueError:
        port = None
    if ":" in host:
        host = f"[{host}]"  # an IPv6 literal keeps its brackets
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    query = [
        (key, value)
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
        if not _is_tracking(key)
    ]
    path = parts.path.rstrip("/") or ""
    return urlunsplit(("http", netloc, path, urlencode(sorted(query)), ""))


def _is_tracking(key: str) -> bool:
    lowered = key.lower()
    return lowered in _TRACKING_NAMES or lowered.startswith(_TRACKING_PREFIXES)


def web_url(url: str | None) -> str | None:
    """``url`` when it is an absolute ``http``/``https`` URL with a host, else None: the only
    links ingestd stores for entries or serves (never ``javascript:``, ``data:`` or the
    like)."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
    except ValueError:
        return None
    return url if parts.scheme.lower() in _DEFAULT_PORTS and host else None


def site_host(url: str | None) -> str | None:
    """The host of an http(s) URL without ``www.``, lower-cased; None for other URLs."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme.lower() not in _DEFAULT_PORTS or not parts.hostname:
        return None
    return parts.hostname.lower().rstrip(".").removeprefix("www.")


def same_site(host_a: str | None, host_b: str | None) -> bool:
    """True when two hosts belong to one site (equal, or one a subdomain of the other)."""
    if not host_a or not host_b:
        return False
    return host_a == host_b or host_a.endswith("." + host_b) or host_b.endswith("." + host_a)


def is_home_page(url_norm: str) -> bool:
    """True for a site's front page (some sites declare it as every page's canonical URL)."""
    path = url_norm.split("://", 1)[-1].partition("/")[2]
    return path.split("?", 1)[0] in ("", "index.html", "index.php", "index.htm", "home")


def feed_url_key(url: str) -> str:
    """The identity of a feed URL: two subscriptions whose URLs differ only by scheme
    (``http``/``https``), a leading ``www.``, the host's case, a default port or a trailing
    slash are one feed. The query is kept (it often selects the feed); the fragment is not.
    Other URLs (``file:``) are their own key."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        return url.strip()
    host = (parts.hostname or "").removeprefix("www.")
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is not None and port not in _DEFAULT_PORTS.values():
        host = f"{host}:{port}"
    path = parts.path.rstrip("/")
    query = f"?{parts.query}" if parts.query else ""
    return f"//{host}{path}{query}"


def authority(url: str) -> str:
    """The host and port a URL's request goes to (``host:port``, the port explicit), for
    sending a feed's private headers only where its own feed is served."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    scheme = parts.scheme.lower()
    return f"{(parts.hostname or '').lower()}:{port or _DEFAULT_PORTS.get(scheme, 0)}"
