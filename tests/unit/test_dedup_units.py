"""Dedup units: normalisation, attribution lines, signatures, the copy verdict, the canonical
choice and headlines. Texts are invented (see the ``prose`` fixture). Links, stories and
article-ness have their own module (``test_dedup_stories.py``)."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from ingestd.dedup.attribution import credited_sources, source_key
from ingestd.dedup.canonical import Member, choose_canonical
from ingestd.dedup.compare import (
    VERBATIM_CONTAINMENT,
    Overlap,
    Thresholds,
    Verdict,
    overlap,
    verdict,
)
from ingestd.dedup.headlines import same_title
from ingestd.dedup.keys import describe, key_kind
from ingestd.dedup.normalize import (
    is_furniture,
    story_paragraphs,
    story_tokens,
    tokens,
    without_quotations,
)
from ingestd.dedup.signature import SignatureParams, make_signature, minhash_values
from ingestd.model import Signature
from ingestd.urls import normalize_url

Prose = Callable[..., list[str]]  # the ``prose`` fixture
PARAMS = SignatureParams()
LIMITS = Thresholds()
T0 = datetime(2024, 5, 6, 8, 0, tzinfo=UTC)

LONG_STORY_PARAGRAPH = (
    "The council spent three hours on Tuesday debating whether residents who subscribe to the "
    "municipal newsletter should also receive printed notices, and several members said the "
    "photo of the flooded underpass, which was originally published by a local blog, had "
    "changed their minds about the drainage budget, although the copyright on that image is "
    "still disputed by the owner of the blog and the lawyers of the city."
)


def sig(text: str, title: str = "") -> Signature:
    return make_signature(text, title, PARAMS)


def compare(
    a: str, b: str, compilation_a: bool = False, compilation_b: bool = False
) -> tuple[Overlap, Verdict]:
    """The exact overlap of two texts and the verdict on it."""
    left, right = sig(a), sig(b)
    found = overlap(left.shingles, right.shingles, left.narrative, right.narrative)
    return found, verdict(found, LIMITS, compilation_a, compilation_b)


# --- normalisation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "paragraph",
    [
        "By Maria Gonzalez Fernandez de la Vega",
        "Von Hans Peter Müller und Anna Schmidt",
        "Protesters gather outside the hall on Monday. (AP Photo/John Smith)",
        "Photo: Jane Doe for The Example Times",
        "Image courtesy of the city archive and museum",
        "Share this on Facebook, Twitter and LinkedIn",
        "Follow us on Twitter for the latest updates",
        "Sign up for our morning newsletter to get these stories",
        "© 2024 Example Media Group. All rights reserved.",
        "This material may not be published, broadcast, rewritten or redistributed.",
        "Associated Press writer Jane Doe in Paris contributed to this report.",
        "This article was originally published at www.example.com.",
        "Read the full article at https://example.com/a",
        "Republished with permission from Example News Network.",
        "Click here to read more stories like this one",
        "This story has been updated with new information.",
        "Advertisement",
        "Share",
        "Listen to this article",
    ],
)
def test_furniture_paragraphs_are_dropped(paragraph: str) -> None:
    assert is_furniture(paragraph)
    assert story_paragraphs(f"{LONG_STORY_PARAGRAPH}\n{paragraph}") == [LONG_STORY_PARAGRAPH]


def test_a_long_story_paragraph_is_kept_although_it_mentions_boilerplate_words() -> None:
    assert len(LONG_STORY_PARAGRAPH.split()) > 40
    assert not is_furniture(LONG_STORY_PARAGRAPH)
    assert story_paragraphs(LONG_STORY_PARAGRAPH) == [LONG_STORY_PARAGRAPH]


def test_a_short_ordinary_sentence_is_story_text() -> None:
    assert not is_furniture("The bridge will reopen on Friday after three weeks of repairs.")


@pytest.mark.parametrize(
    "dateline",
    [
        "WASHINGTON (AP) — ",
        "LOS ANGELES (Reuters) - ",
        "KYIV, Ukraine (AP) — ",
        "PARIS — ",
        "BERLIN -- ",
        "SÃO PAULO (AFP) — ",
    ],
)
def test_datelines_are_stripped(dateline: str) -> None:
    body = "The mayor said the bridge would reopen soon after the repairs."

    assert story_paragraphs(dateline + body) == [body]


def test_a_dash_inside_a_sentence_is_not_a_dateline() -> None:
    paragraph = "The mayor — who took office in May — said the bridge would reopen."

    assert story_paragraphs(paragraph) == [paragraph]


def test_only_the_story_paragraphs_give_tokens() -> None:
    text = "By Jane Doe\nWASHINGTON (AP) — The Senate passed the bill.\nShare this on Facebook now"

    assert story_tokens(text) == ["the", "senate", "passed", "the", "bill"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Die Straße in Köln", ["die", "strasse", "in", "köln"]),
        ("STRASSE", ["strasse"]),
        ("Zażółć gęślą jaźń, ŁÓDŹ", ["zażółć", "gęślą", "jaźń", "łódź"]),
        (
            "L’été à Montréal, c'est déjà fini",
            ["l", "été", "à", "montréal", "c", "est", "déjà", "fini"],
        ),
        ("ﬁnance ＡＢＣ ２０２４", ["finance", "abc", "2024"]),
        ("Cafe\u0301 café", ["café", "café"]),
        (
            "The minister's plan and the minister’s plan",
            ["the", "minister", "plan", "and", "the", "minister", "plan"],
        ),
        ("O'Neill's team", ["o", "neill", "team"]),
    ],
)
def test_tokens_are_nfkc_casefolded_unicode_words_with_possessives_folded(
    text: str, expected: list[str]
) -> None:
    assert tokens(text) == expected


def test_words_with_combining_marks_stay_one_token() -> None:
    assert len(tokens("हिन्दी")) == 1
    assert tokens("हिन्दी") != tokens("हन्द")
    assert len(tokens("İstanbul")) == 1


def test_quotations_are_removed_from_the_narrative() -> None:
    paragraph = (
        'The minister said “we will not raise taxes this year” and left; "no comment", he added.'
    )

    assert tokens(without_quotations(paragraph)) == [
        "the",
        "minister",
        "said",
        "and",
        "left",
        "he",
        "added",
    ]


# --- attribution --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "credited"),
    [
        ("This article was originally published at www.x.com.", "x.com"),
        ("Read the full article at https://x.com/a", "x.com"),
        ("It first appeared in The Example Times.", "example times"),
        ("Republished with permission from Example News.", "example news"),
        (
            "This article is republished from The Conversation under a Creative Commons license.",
            "conversation",
        ),
        ("Originally published on Medium on March 3.", "medium"),
        (
            "This story was first posted at https://www.Blog.Example.org/2024/05/story.html",
            "blog.example.org",
        ),
        ("Source: Example Wire", "example wire"),
    ],
)
def test_attribution_lines_credit_a_host_or_an_outlet(line: str, credited: str) -> None:
    assert credited_sources(line) == (credited,)


def test_a_year_before_the_credited_outlet_is_not_part_of_its_name() -> None:
    assert credited_sources("This essay was first published in 2019 by Example Press.") == (
        "example press",
    )


def test_attribution_at_the_end_of_a_long_text_is_found(prose: Prose) -> None:
    story = prose(1, 10)
    text = "\n".join([*story, "This article was originally published at www.origin.example."])

    assert credited_sources(text) == ("origin.example",)


def test_attribution_buried_in_the_middle_of_a_long_text_is_ignored(prose: Prose) -> None:
    story = prose(1, 10)
    story.insert(5, "This article was originally published at www.origin.example.")

    assert credited_sources("\n".join(story)) == ()


def test_ordinary_text_credits_nobody(prose: Prose) -> None:
    assert credited_sources("\n".join(prose(2, 5))) == ()


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("www.Example.com", "example.com"),
        ("https://www.example.com/a/b", "example.com"),
        ("The Example Times", "example times"),
        ("example times", "example times"),
        ("  Example-News  ", "example news"),
    ],
)
def test_source_keys_compare_hosts_and_outlet_names(name: str, key: str) -> None:
    assert source_key(name) == key


# --- signatures ---------------------------------------------------------------------------------


def test_identical_texts_have_identical_signatures(prose: Prose) -> None:
    text = "\n".join(prose(3, 5))  # short enough (< 320 shingles) to carry band keys

    first, second = sig(text), sig(text)

    assert first == second
    assert len(first.band_keys) == PARAMS.bands
    assert [describe(key).split(":")[0] for key in first.band_keys] == [
        f"b{band}" for band in range(PARAMS.bands)
    ]


def test_furniture_does_not_change_the_body_hash_or_the_shingles(prose: Prose) -> None:
    story = prose(4, 8)
    plain = "\n".join(story)
    dressed = "\n".join(
        [
            "By Maria Gonzalez Fernandez de la Vega",
            "WASHINGTON (AP) — " + story[0],
            "Photo: Jane Doe for The Example Times",
            *story[1:5],
            "Sign up for our morning newsletter to get these stories",
            "Advertisement",
            *story[5:],
            "© 2024 Example Media Group. All rights reserved.",
            "This article was originally published at www.example.com.",
        ]
    )

    a, b = sig(plain), sig(dressed)

    assert a.body_hash == b.body_hash
    assert a.shingles == b.shingles
    assert a.band_keys == b.band_keys
    assert b.attribution == ("example.com",)


def test_different_texts_have_different_signatures(prose: Prose) -> None:
    a, b = sig("\n".join(prose(5, 5))), sig("\n".join(prose(6, 5)))

    assert a.body_hash != b.body_hash
    assert a.band_keys
    assert not set(a.band_keys) & set(b.band_keys)


def test_a_one_word_edit_keeps_most_band_keys(prose: Prose) -> None:
    story = prose(7, 5)
    edited = [*story]
    edited[4] = "Meanwhile " + edited[4]

    a, b = sig("\n".join(story)), sig("\n".join(edited))

    assert a.body_hash != b.body_hash
    assert len(set(a.band_keys) & set(b.band_keys)) >= PARAMS.bands // 2


def test_long_texts_are_indexed_by_anchors_alone_and_a_near_copy_shares_most(
    prose: Prose,
) -> None:
    story = prose(9, 10)  # ~575 words
    edited = [*story]
    edited[4] = "Meanwhile " + edited[4]

    a, b = sig("\n".join(story)), sig("\n".join(edited))

    assert a.band_keys == () and b.band_keys == ()
    shared = set(a.anchor_keys) & set(b.anchor_keys)
    assert len(shared) >= 0.8 * len(a.anchor_keys) >= 16


def test_an_excerpt_shares_its_anchor_keys_with_the_full_text(prose: Prose) -> None:
    story = prose(8, 20)

    full, excerpt = sig("\n".join(story)), sig("\n".join(story[3:7]))

    assert excerpt.anchor_keys
    assert set(excerpt.anchor_keys) <= set(full.anchor_keys)
    sampled = [key for key in full.anchor_keys if key_kind(key) == "a"]
    assert sampled
    assert all(key % PARAMS.anchor_every == 0 for key in sampled)  # an anchor's key is its hash


@pytest.mark.parametrize(
    ("count", "num_perm"), [(0, 128), (1, 128), (7, 64), (400, 128), (3000, 256)]
)
def test_minhash_values_are_datasketchs_affine32_minhash(count: int, num_perm: int) -> None:
    """Our one-expression MinHash, with permutations drawn as datasketch draws them (it is not
    imported at run time), must equal datasketch's: stored signatures depend on it."""
    from datasketch import MinHash

    rng = random.Random(count)
    hashes = sorted({rng.getrandbits(32) for _ in range(count)})
    reference = MinHash(num_perm=num_perm, seed=1, hashfunc=lambda value: value, scheme="affine32")
    if hashes:
        reference.update_batch(hashes)
    assert minhash_values(hashes, num_perm).tolist() == reference.hashvalues.tolist()


def test_quotation_free_texts_share_their_narrative_with_their_shingles(prose: Prose) -> None:
    plain = "\n".join(prose(31, 8))
    quoted = plain + '\nShe said: "' + prose(32, 1)[0] + '" and left.'
    params = SignatureParams()
    assert make_signature(plain, "", params).narrative == make_signature(plain, "", params).shingles
    with_quote = make_signature(quoted, "", params)
    assert len(with_quote.narrative) < len(with_quote.shingles)


def test_an_empty_text_has_no_keys() -> None:
    empty = sig("Advertisement\nShare")

    assert empty.n_words == 0
    assert empty.band_keys == ()
    assert empty.anchor_keys == ()
    assert empty.shingles == b""


@pytest.mark.parametrize(
    ("title", "hint"),
    [
        ("Live updates: floods in the north", True),
        ("Morning briefing: what you need to know", True),
        ("The week in review", True),
        ("Council approves new drainage budget", False),
    ],
)
def test_digest_titles_hint_at_a_compilation(title: str, hint: bool) -> None:
    assert sig(LONG_STORY_PARAGRAPH, title).compilation_hint is hint


# --- verdict ------------------------------------------------------------------------------------


def test_a_near_identical_copy_is_a_copy_by_jaccard(prose: Prose) -> None:
    story = prose(10, 12)
    copy = [*story]
    copy[6] = prose(11, 1)[0]  # one paragraph rewritten

    found, decided = compare("\n".join(story), "\n".join(copy))

    assert decided.copy
    assert decided.measure == "jaccard"
    assert decided.score == pytest.approx(found.jaccard)
    assert decided.score >= LIMITS.jaccard


def test_an_excerpt_of_four_paragraphs_is_a_copy_by_containment(prose: Prose) -> None:
    story = prose(12, 20)

    found, decided = compare("\n".join(story), "\n".join(story[8:12]))

    assert found.jaccard < LIMITS.jaccard
    assert decided.copy
    assert decided.measure == "containment"
    assert decided.score == pytest.approx(1.0)


def test_independent_stories_are_not_copies(prose: Prose) -> None:
    found, decided = compare("\n".join(prose(13, 8)), "\n".join(prose(14, 8)))

    assert found.shared == 0
    assert not decided.copy


def _quote(seed: int, words: int = 90) -> str:
    rng = random.Random(seed)
    quoted = [f"w{rng.randrange(10**6)}" for _ in range(words)]
    return "“" + " ".join(quoted) + "”"


def test_independent_reports_sharing_one_long_quotation_are_not_copies(prose: Prose) -> None:
    """The narrative guard: what the two texts share lies inside quotation marks."""
    quote_a, quote_b = _quote(1), _quote(2)
    short = "\n".join(
        [
            prose(20, 1)[0],
            f"The minister told parliament {quote_a} before the vote.",
            prose(21, 1)[0],
            f"She added {quote_b}",
        ]
    )
    longer = "\n".join(
        [
            *prose(22, 8),
            f"Speaking in parliament, the minister said {quote_a} and then sat down.",
            *prose(23, 2),
            f"Later {quote_b}",
        ]
    )

    found, decided = compare(short, longer)

    assert found.containment_of_shorter >= LIMITS.containment  # would be a copy without the guard
    assert found.jaccard < LIMITS.jaccard
    assert found.narrative_containment < LIMITS.narrative_containment
    assert not decided.copy
    assert "quotations" in decided.why


def test_a_copy_that_also_shares_the_narrative_is_still_a_copy(prose: Prose) -> None:
    story = [*prose(24, 10), f"The minister said {_quote(3)} and left."]

    _found, decided = compare("\n".join(story), "\n".join(story[6:]))

    assert decided.copy


def test_very_short_texts_must_be_near_verbatim(prose: Prose) -> None:
    words = prose(30, 1, 24, 24)[0].split()
    near = " ".join([*words[:18], "different", "ending", "of", "the", "brief", "note"])

    found, decided = compare(" ".join(words), near)

    assert min(found.size_a, found.size_b) < LIMITS.min_shingles
    assert found.jaccard >= LIMITS.jaccard  # a longer text this similar would be a copy
    assert not decided.copy
    assert "very short" in decided.why


def test_a_very_short_text_crediting_the_other_needs_only_the_containment(prose: Prose) -> None:
    words = prose(32, 1, 24, 24)[0].split()
    half = " ".join([*words[:16], *prose(33, 1, 8, 8)[0].split()])  # two thirds of it copied
    left, right = sig(half), sig(" ".join(words))
    found = overlap(left.shingles, right.shingles, left.narrative, right.narrative)

    plain = verdict(found, LIMITS)
    credited = verdict(found, LIMITS, shorter_credits_longer=True)

    assert min(found.size_a, found.size_b) < LIMITS.min_shingles
    assert LIMITS.containment <= found.containment_of_shorter < VERBATIM_CONTAINMENT
    assert not plain.copy
    assert credited.copy
    assert "credits the other's site" in credited.why


def test_a_credit_does_not_make_a_short_text_with_little_in_common_a_copy(prose: Prose) -> None:
    words = prose(34, 1, 24, 24)[0].split()
    other = " ".join([*words[:6], *prose(35, 1, 20, 20)[0].split()])
    left, right = sig(other), sig(" ".join(words))
    found = overlap(left.shingles, right.shingles, left.narrative, right.narrative)

    assert found.containment_of_shorter < LIMITS.containment
    assert not verdict(found, LIMITS, shorter_credits_longer=True).copy


def test_a_very_short_verbatim_copy_is_a_copy(prose: Prose) -> None:
    text = prose(31, 1, 24, 24)[0]

    _found, decided = compare(text, "By Jane Doe\n" + text)

    assert decided.copy


def test_a_compilation_does_not_absorb_a_small_story_it_contains(prose: Prose) -> None:
    story = prose(40, 4)
    digest = "\n".join([*prose(41, 8), *story, *prose(42, 8)])
    alone = "\n".join(story)

    found, plain = compare(alone, digest)
    _found, flagged = compare(alone, digest, compilation_b=True)

    assert plain.copy  # without the flag the story is found whole inside the digest
    assert found.coverage_of_longer < 0.3
    assert not flagged.copy
    assert "compilation" in flagged.why


def test_the_compilation_flag_on_the_shorter_text_does_not_block(prose: Prose) -> None:
    story = prose(43, 4)

    _found, decided = compare(
        "\n".join(story), "\n".join([*prose(44, 16), *story]), compilation_a=True
    )

    assert decided.copy


def test_no_story_words_is_never_a_copy() -> None:
    decided = verdict(Overlap(0, 0, 120), LIMITS)

    assert not decided.copy


# --- canonical choice ---------------------------------------------------------------------------


def member(
    item_id: int,
    host: str,
    hours: float,
    *,
    n_words: int = 600,
    canonical: str | None = None,
    attribution: tuple[str, ...] = (),
    site_name: str | None = None,
) -> Member:
    url = f"https://{host}/story-{item_id}"
    return Member(
        id=item_id,
        url=url,
        url_norm=normalize_url(url),
        canonical_url=canonical,
        canonical_norm=normalize_url(canonical) if canonical else None,
        site_host=host,
        site_name=site_name,
        attribution=attribution,
        when=T0 + timedelta(hours=hours),
        n_words=n_words,
    )


def test_the_earliest_publication_is_canonical_without_explicit_signals() -> None:
    choice = choose_canonical(
        [member(1, "b.example", 2), member(2, "a.example", 0), member(3, "c.example", 5)]
    )

    assert (choice.item_id, choice.reason) == (2, "earliest")
    assert choice.votes == ()


def test_a_cross_site_canonical_link_beats_an_earlier_publication() -> None:
    original = member(1, "origin.example", 3)
    copy = member(2, "copies.example", 0, canonical="https://www.origin.example/story-1")

    choice = choose_canonical([original, copy])

    assert (choice.item_id, choice.reason) == (1, "canonical_link")
    assert "copies.example/story-2" in choice.evidence


def test_a_canonical_link_to_the_own_site_is_no_signal() -> None:
    first = member(1, "a.example", 0)
    second = member(2, "b.example", 3, canonical="https://b.example/amp/story-2")

    choice = choose_canonical([first, second])

    assert (choice.item_id, choice.reason) == (1, "earliest")


def test_an_attribution_line_beats_an_earlier_publication() -> None:
    original = member(1, "origin.example", 6)
    copy = member(2, "copies.example", 0, attribution=("origin.example",))

    choice = choose_canonical([copy, original])

    assert (choice.item_id, choice.reason) == (1, "attribution")


def test_an_attribution_to_an_outlet_name_matches_the_site_name() -> None:
    original = member(1, "times.example", 6, site_name="The Example Times")
    copy = member(2, "copies.example", 0, attribution=("example times",))

    assert choose_canonical([copy, original]).item_id == 1


def test_an_attribution_matches_a_site_under_a_two_level_suffix() -> None:
    original = member(1, "bbc.co.uk", 6)
    copy = member(2, "copies.example", 0, attribution=("bbc",))

    assert choose_canonical([copy, original]).item_id == 1


def test_equal_publication_times_choose_the_longest_text() -> None:
    choice = choose_canonical(
        [
            member(1, "a.example", 0, n_words=300),
            member(2, "b.example", 0, n_words=900),
            member(3, "c.example", 1, n_words=2000),
        ]
    )

    assert (choice.item_id, choice.reason) == (2, "longest")


def test_a_pin_beats_every_signal() -> None:
    members = [
        member(1, "origin.example", 6),
        member(2, "copies.example", 0, attribution=("origin.example",)),
        member(3, "third.example", 1),
    ]

    choice = choose_canonical(members, pinned=3)

    assert (choice.item_id, choice.reason) == (3, "pinned")


def test_a_pin_on_a_non_member_is_ignored() -> None:
    members = [member(1, "a.example", 0), member(2, "b.example", 1)]

    assert choose_canonical(members, pinned=99).item_id == 1


def test_a_chain_of_credits_leads_to_its_root() -> None:
    """C credits B, B credits A: A is the original, although it was published last."""
    a = member(1, "a.example", 9)
    b = member(2, "b.example", 3, attribution=("a.example",))
    c = member(3, "c.example", 0, attribution=("b.example",))

    choice = choose_canonical([c, b, a])

    assert (choice.item_id, choice.reason) == (1, "attribution")
    assert {(vote.voter, vote.target) for vote in choice.votes} == {(3, 2), (2, 1)}


def test_a_member_crediting_its_own_site_casts_no_vote() -> None:
    a = member(1, "a.example", 0)
    b = member(2, "news.b.example", 3, attribution=("b.example",))

    assert choose_canonical([a, b]).votes == ()


# --- headlines ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("Council approves new drainage budget", "Council Approves New Drainage Budget", True),
        ("Council approves new drainage budget", "Council approves the new drainage budget", True),
        ("Council approves new drainage budget", "Floods in the north", False),
        ("Live", "Live", True),
        ("Live", "Updates", False),
        ("", "", False),
    ],
)
def test_same_title_compares_headline_words(a: str, b: str, same: bool) -> None:
    assert same_title(a, b) is same
