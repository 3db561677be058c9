"""URL normalisation: the same page under different URLs compares equal, different pages do not."""

from __future__ import annotations

import pytest

from ingestd.urls import normalize_url, same_site, site_host


@pytest.mark.parametrize(
    "variant",
    [
        "https://example.com/news/story",
        "http://example.com/news/story",
        "HTTPS://EXAMPLE.COM/news/story",
        "https://www.example.com/news/story",
        "https://example.com./news/story",
        "https://example.com:443/news/story",
        "http://example.com:80/news/story",
        "https://example.com/news/story/",
        "https://example.com/news/story#comments",
        "https://example.com/news/story?utm_source=rss&utm_medium=feed&utm_campaign=x",
        "https://example.com/news/story?fbclid=IwAR0abc&gclid=xyz&msclkid=1",
        "https://example.com/news/story?mc_cid=1&mc_eid=2&_hsenc=3&__s=4&pk_campaign=5",
        "https://example.com/news/story?UTM_SOURCE=Twitter&Ref=home",
        "  https://www.example.com:443/news/story/?utm_source=rss#top  ",
    ],
)
def test_variants_of_one_page_normalise_to_one_url(variant: str) -> None:
    assert normalize_url(variant) == "http://example.com/news/story"


def test_tracking_parameters_go_and_other_parameters_stay() -> None:
    assert normalize_url("https://example.com/a?id=42&utm_source=rss&page=2&fbclid=x") == (
        "http://example.com/a?id=42&page=2"
    )


def test_query_parameters_are_sorted() -> None:
    assert normalize_url("https://example.com/a?b=2&a=1&c=3") == normalize_url(
        "https://example.com/a?c=3&a=1&b=2"
    )
    assert normalize_url("https://example.com/a?b=2&a=1") == "http://example.com/a?a=1&b=2"


def test_blank_query_values_are_kept() -> None:
    assert normalize_url("https://example.com/a?x=&utm_medium=1") == "http://example.com/a?x="


def test_a_non_default_port_is_kept() -> None:
    assert normalize_url("http://example.com:8080/a/") == "http://example.com:8080/a"
    assert normalize_url("https://example.com:80/a") == "http://example.com:80/a"


def test_the_site_root_loses_its_slash() -> None:
    assert normalize_url("https://www.example.com/") == "http://example.com"
    assert normalize_url("https://example.com") == "http://example.com"


def test_path_case_and_parameters_distinguish_pages() -> None:
    assert normalize_url("https://example.com/News") != normalize_url("https://example.com/news")
    assert normalize_url("https://example.com/a?id=1") != normalize_url(
        "https://example.com/a?id=2"
    )
    assert normalize_url("https://example.com/a") != normalize_url("https://example.org/a")


def test_a_subdomain_other_than_www_is_kept() -> None:
    assert normalize_url("https://news.example.com/a") == "http://news.example.com/a"


def test_credentials_are_not_part_of_the_identity() -> None:
    assert normalize_url("http://user:secret@Example.com/x") == "http://example.com/x"


def test_an_invalid_port_does_not_raise() -> None:
    assert normalize_url("http://example.com:99999/a").startswith("http://example.com")


def test_file_urls_only_lose_their_fragment() -> None:
    assert normalize_url("file:///srv/feeds/a.xml#entry-3") == "file:///srv/feeds/a.xml"
    assert normalize_url("file:///srv/Feeds/a.xml?utm_source=x") == (
        "file:///srv/Feeds/a.xml?utm_source=x"
    )


def test_ipv6_hosts_keep_their_brackets() -> None:
    assert normalize_url("http://[2001:DB8::1]:8080/x/") == "http://[2001:db8::1]:8080/x"
    assert normalize_url("https://[2001:db8::1]:443/x") == "http://[2001:db8::1]/x"


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://www.Example.com/a", "example.com"),
        ("http://News.Example.com:8080/a", "news.example.com"),
        ("https://example.com./a", "example.com"),
        ("file:///srv/a.xml", None),
        ("ftp://example.com/a", None),
        ("not a url", None),
        ("", None),
        (None, None),
    ],
)
def test_site_host_is_the_lower_cased_host_without_www(url: str | None, host: str | None) -> None:
    assert site_host(url) == host


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("example.com", "example.com", True),
        ("news.example.com", "example.com", True),
        ("example.com", "edition.news.example.com", True),
        ("example.com", "example.org", False),
        ("notexample.com", "example.com", False),
        ("example.com.evil.net", "example.com", False),
        ("a.example.com", "b.example.com", False),
        ("example.com", None, False),
        (None, None, False),
        ("", "", False),
    ],
)
def test_same_site_means_equal_or_a_subdomain(a: str | None, b: str | None, same: bool) -> None:
    assert same_site(a, b) is same
    assert same_site(b, a) is same
