"""Article-ness: captions and credit lines, what a text is made of, and the verdict on it.

Every text is invented; the caption forms are the ones photo desks and agencies use.
"""

from __future__ import annotations

import pytest

from ingestd.dedup.captions import is_caption
from ingestd.dedup.normalize import read, tokens
from ingestd.dedup.quality import SiteEvidence, assess
from ingestd.dedup.signature import SignatureParams, make_signature
from ingestd.model import TextKind, TextProfile

SCENE = (
    "Residents carry sandbags past the flooded bakery on Mill Street in Harbourton on"
    " Tuesday, as the river rises for a third day"
)


@pytest.mark.parametrize(
    "paragraph",
    [
        f"{SCENE}. (AP Photo/Jane Doe)",
        f"FILE - In this March 9, 2026, file photo, {SCENE.lower()}. (AP Photo/Jane Doe)",
        "FILE- This March 9, 2026, file photo shows the bakery on Mill Street in Harbourton.",
        f"{SCENE}. (Photo by Jane Doe/Getty Images)",
        f"{SCENE}. REUTERS/Jane Doe",
        f"HARBOURTON, ENGLAND - MARCH 10: {SCENE}. (Photo by Jane Doe/Getty Images)",
        "Jane Doe / Getty Images",
        "Jane Doe | Getty Images",
        "Jane Doe/Getty Images for Harbourton Council",
        f"{SCENE}. Jane Doe/Getty Images for Harbourton hide caption",
        "Photo: Jane Doe, Jane Doe/Invision/AP",
        f"{SCENE}.CreditCreditJane Doe/Agence France-Presse — Getty Images",
        f"{SCENE} ... more",
        "Image 2 of 12",
        "Pictured: the old bridge before the flood came",
        f"10.03.2026, Harbourton: {SCENE}. Foto: Jane Doe/dpa",
        "Die Bürgermeisterin am Dienstag vor dem Rathaus. (Foto: dpa)",
        "La maire devant l'hôtel de ville mardi matin. Photo : AFP",
        "La alcaldesa ante el ayuntamiento el martes por la mañana. (Foto: EFE)",
        "Relaxed: Once in the cart, she walked around with her heels in her hands",
        f"{SCENE}. (Jane Doe/The Harbourton Courier via AP)",
        f"{SCENE}. (Jane Doe / Associated Press)",
        f"{SCENE}. (Jane Doe/The Example Post)",
        f"{SCENE}. [Jane Doe/AP]",
        f"{SCENE}. Jane Doe/CNN",
        f"{SCENE}. Jane Doe for The Harbourton Courier",
        "Jane Doe/CNN",
    ],
)
def test_captions_and_credit_lines_are_recognised(paragraph: str) -> None:
    assert is_caption(paragraph, tokens(paragraph))


@pytest.mark.parametrize(
    "paragraph",
    [
        "It paints a clear picture: the census misses the people who are hardest to reach.",
        "WASHINGTON (AP) — The director of the agency is leaving his job, officials said.",
        "Getty Images, the photo agency, said on Tuesday that it would license the pictures.",
        "The company filed the papers with the EPA and would wait for an answer on the pool.",
        "Reuters reported on Monday that the two companies were in talks about a merger.",
        "The file was found on his computer after he died, his daughter said in an interview.",
        "In this case, the judge said, the government had not shown that the rule would help.",
        "Ek responded: “That is obviously for other people to judge at the end of the day.”",
    ],
)
def test_story_sentences_are_not_captions(paragraph: str) -> None:
    assert not is_caption(paragraph, tokens(paragraph))


def test_captions_are_left_out_of_the_shingles_whatever_their_length() -> None:
    story = [
        f"The council met on Tuesday to discuss the {word} budget for the coming year and"
        " agreed to postpone the vote until the engineers report."
        for word in ("road", "school")
    ]
    caption = f"FILE - In this March 9, 2026, file photo, {SCENE.lower()}, " + "and " * 40 + "more."
    with_caption = make_signature(
        "\n".join([story[0], caption + " (AP Photo/Jane Doe)", story[1]]), "", SignatureParams()
    )
    without = make_signature("\n".join(story), "", SignatureParams())
    assert with_caption.shingles == without.shingles
    assert with_caption.profile is not None and with_caption.profile.caption_paragraphs == 1


def test_captions_credited_on_a_line_of_their_own_are_captions_too() -> None:
    text = "\n".join(
        [
            "Pictures from Harbourton as the river came up, chosen by the photo desk.",
            f"{SCENE}.",
            "AP Photo/Jane Doe",
            "Volunteers fill sandbags outside the school gates on Wednesday morning.",
            "Photo: John Smith/Reuters",
        ]
    )
    reading = read(text)
    assert [p.text for p in reading.story] == [text.splitlines()[0]]
    assert reading.caption_paragraphs == 4


def test_three_paragraphs_closing_with_one_credit_are_captions_whatever_the_credit() -> None:
    captions = [f"{SCENE}, picture {n} (Jane Doe/The Ordinary Valley Weekly)" for n in range(3)]
    story = "The council said the bridge stays closed until engineers have inspected its arches."
    assert [p.text for p in read("\n".join([story, *captions])).story] == [story]


def test_consent_walls_and_paywall_pitches_are_furniture_at_any_length() -> None:
    consent = (
        "We value your privacy. We and our 842 partners store and access information on your"
        " device, such as unique identifiers in cookies, to process personal data. You may"
        " accept or manage your choices by clicking below, including your right to object where"
        " legitimate interest is used, or at any time in the privacy policy page."
    )
    pitch = (
        "Unlimited local journalism starts here. Your support keeps reporters in the council"
        " chamber and in the courtroom. Start your digital access today for less than a cup of"
        " coffee a week, cancel anytime, and get the e-edition and every story on any device."
    )
    story = (
        "The council said the subscription to the regional water scheme would be renewed for five"
        " more years, and that the partners in the scheme had agreed to share the new pumps."
    )
    assert read(f"{consent}\n{pitch}\n{story}").story[0].text == story


def test_paragraphs_in_an_unspaced_script_are_story_text() -> None:
    text = (
        "马洛谷地区周二遭遇强降雨，河水迅速上涨。\n据气象部门介绍，本次降雨持续了将近二十个小时。"
    )
    assert len(read(text).story) == 2


def test_a_statement_quoted_as_a_block_is_not_the_writers_narrative() -> None:
    lead = "The council said in a statement on Wednesday:"
    statement = (
        "Crews will work through the night to clear the drains on the east bank of the river."
    )
    story = read("\n".join([lead, statement, statement.replace("east", "west")])).story
    assert [len(p.narrative) for p in story][1:] == [0, 0]


def test_one_stray_credit_line_does_not_take_the_story_paragraph_above_it() -> None:
    text = f"{SCENE}.\nAP Photo/Jane Doe\nThe council said the bridge stays closed."
    assert len(read(text).story) == 2


def test_the_headline_repeated_as_the_first_paragraph_is_not_story_text() -> None:
    body = "The council voted on Tuesday to rebuild the old stone bridge over the river."
    reading = read(
        f"Council votes to rebuild the old bridge\n{body}",
        "Council votes to rebuild the old bridge | Courier",
    )
    assert [p.text for p in reading.story] == [body]


# --- compilations -------------------------------------------------------------------------------

ENTRY = (
    "The water board said the pumps at the northern reservoir were working again after the night."
)


@pytest.mark.parametrize(
    ("title", "lines"),
    [
        ("Live updates: floods in the north", [ENTRY] * 3),
        ("The Latest: floods in the north", [ENTRY] * 3),
        ("Morning briefing", [ENTRY] * 3),
        ("Floods in the north", ["9:05 a.m.", ENTRY, "10:15 a.m.", ENTRY, "11:40 a.m.", ENTRY]),
        ("Floods in the north", ["14:32 Uhr", ENTRY, "15:10 Uhr", ENTRY, "16:45 Uhr", ENTRY]),
        (
            "Floods in the north",
            [f"Mar. 11, {t} p.m. ET — {ENTRY}" for t in ("1:10", "2:05", "3:15")],
        ),
        ("Floods in the north", [f"Updated {n} min ago {ENTRY}" for n in (3, 12, 40)]),
        ("Floods in the north", [f"vor {n} Stunden {ENTRY}" for n in (1, 2, 3)]),
        ("Marlow Vale flood — latest updates", [ENTRY] * 3),
        ("Minute-by-minute: the flood", [ENTRY] * 3),
        ("Level 3 LIVE from the valley", [ENTRY] * 3),
        ("AP News Summary at 3:46 p.m. EDT", [ENTRY] * 3),
        (
            "Floods in the north",
            [
                "HARBOURTON (AP) — " + ENTRY,
                ENTRY,
                "NORTHGATE (Reuters) — " + ENTRY,
                ENTRY + " " + ENTRY + " " + ENTRY,
            ],
        ),
    ],
)
def test_compilations_are_recognised_by_title_or_structure(title: str, lines: list[str]) -> None:
    profile = make_signature("\n".join(lines), title, SignatureParams()).profile
    assert profile is not None and profile.compilation is not None


def test_five_headlines_over_short_stories_make_a_text_sectioned_not_a_compilation() -> None:
    lines = [line for n in range(5) for line in (f"Council story number {n} has a headline", ENTRY)]
    profile = make_signature(
        "\n".join(lines), "Five stories this morning", SignatureParams()
    ).profile
    assert profile is not None and profile.sectioned and profile.compilation is None


def test_an_article_with_a_few_subheads_is_not_a_digest() -> None:
    lines = [
        ENTRY * 2,
        "What the council decided last night",
        ENTRY * 3,
        "Why the bridge matters to the town",
        ENTRY * 3,
    ]
    profile = make_signature("\n".join(lines), "Council votes", SignatureParams()).profile
    assert profile is not None and profile.compilation is None


def test_a_related_story_teaser_with_its_own_dateline_is_not_a_second_story() -> None:
    lines = [
        "HARBOURTON (AP) — " + ENTRY,
        ENTRY,
        ENTRY,
        "NORTHGATE (AP) — A short teaser of another story.",
    ]
    profile = make_signature("\n".join(lines), "Floods", SignatureParams()).profile
    assert profile is not None and profile.compilation is None


# --- the verdict --------------------------------------------------------------------------------


def profile(**values: object) -> TextProfile:
    return TextProfile(**values)  # type: ignore[arg-type]


def test_enough_article_words_make_an_article() -> None:
    found = assess(profile(story_words=300), "Council votes", "http://a.example/x", SiteEvidence())
    assert found.kind == TextKind.ARTICLE and found.article_words == 300


def test_fewer_than_80_article_words_is_short() -> None:
    found = assess(profile(story_words=79), "Council votes", None, SiteEvidence())
    assert found.kind == TextKind.SHORT and "79 words" in found.note


def test_captions_with_little_else_make_a_gallery() -> None:
    found = assess(
        profile(story_words=40, caption_paragraphs=9, caption_words=300),
        "Floods",
        None,
        SiteEvidence(),
    )
    assert found.kind == TextKind.GALLERY


@pytest.mark.parametrize(
    ("title", "url"),
    [("Photos: the flood", "http://a.example/x"), ("The flood", "http://a.example/gallery/flood")],
)
def test_a_page_named_a_gallery_with_little_text_is_a_gallery(title: str, url: str) -> None:
    found = assess(
        profile(story_words=120, caption_words=200, caption_paragraphs=1),
        title,
        url,
        SiteEvidence(),
    )
    assert found.kind == TextKind.GALLERY


def test_the_sites_template_does_not_count_as_article_words() -> None:
    keyed = profile(story_words=130, paragraph_words=((1, 60), (2, 70)))
    alone = assess(keyed, "Council votes", None, SiteEvidence())
    with_template = assess(keyed, "Council votes", None, SiteEvidence(frozenset({2})))
    assert alone.kind == TextKind.ARTICLE
    assert with_template.kind == TextKind.SHORT and "template" in with_template.note


def test_headline_and_link_lines_make_a_listing() -> None:
    found = assess(
        profile(story_words=90, headline_lines=6, headline_words=70),
        "Latest news",
        None,
        SiteEvidence(),
    )
    assert found.kind == TextKind.LISTING


def test_a_list_of_points_in_an_article_is_article_text() -> None:
    points = profile(story_words=192, headline_lines=14, headline_words=119)
    assert assess(points, "How to sell more", None, SiteEvidence()).kind == TextKind.ARTICLE


def test_unspaced_scripts_count_words_by_characters() -> None:
    from ingestd.dedup.normalize import word_count

    assert word_count(tokens("数字经济的发展正不断拓展新的空间")) == 8
    assert word_count(tokens("the river rose")) == 3


def test_one_body_under_other_titles_on_the_site_is_a_stub() -> None:
    found = assess(profile(story_words=120), "Council votes", None, SiteEvidence(stub_pages=2))
    assert found.kind == TextKind.STUB


def test_a_digest_is_a_compilation() -> None:
    found = assess(
        profile(story_words=600, compilation="its title reads as a digest"),
        "Briefing",
        None,
        SiteEvidence(),
    )
    assert found.kind == TextKind.COMPILATION and found.kind.is_article
