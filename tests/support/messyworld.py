"""A messy news world: one invented event covered by many outlets, with the pages that are not
articles and the compilations that break naive dedup.

Every text here is generated from invented names and a seeded random source; no publisher's text
is used. The event (a flood in the invented town of Marlow Vale) is covered by:

* **a wire story** (``w1``) carried in full by six papers, truncated to its first four
  paragraphs by two, cut to a run of middle paragraphs by one, and excerpted with "Read the full
  article at ..." by an aggregator; each carrier adds its own byline, furniture and one or two
  agency photo captions ("... (AP Photo/...)") inside the article;
* **a later version** (``w2``) that keeps 70% of the first (the same article: a 70% step) and a
  **rewrite** (``w3``) that keeps 40% of the later version (a story of its own: a 40% step);
* **independent reports** that share the event's quotations with the wire story (not copies);
* **a brief** carried by two sites, which also appears inside a running "The Latest" file
  carried by two sites (the running file's copies are one story, the brief another);
* **compilations**: a live page carrying five stories' opening paragraphs under time stamps,
  and two digests (one named a briefing, one named nothing of the kind) with five headlines
  each over two paragraphs of a story;
* **galleries**: twenty pages of one picture desk, each its template and eight to ten agency
  captions of the event's photos (the captions the wire carriers also carry);
* **share stubs**: six pages of an aggregator with one 60-word body under different titles,
  three with one 110-word body;
* **headline-only pages** with a one-sentence dek;
* **same-site pairs**: two different stories of one paper that both carry the paper's leaked
  "about us" paragraph and the same two long quotations, among other pages of that paper.

:func:`build` returns the pages with their gold story (the definition of "same article" in
``../shared/corpus/real-dev/README.md``) and class; :mod:`tests.support.messysite` renders them as
HTML pages and one RSS feed per site.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

T0 = datetime(2026, 3, 10, 6, 0, tzinfo=UTC)
PLACE = "Marlow Vale"

_NOUNS = """
river bank bridge street road school hospital council mayor resident family shelter
volunteer crew engineer truck boat pump levee dam reservoir sandbag road village farm field
warehouse church market station tunnel culvert drain basement kitchen garage neighbour
farmer driver teacher nurse officer spokesman firefighter forecaster insurer landlord
tenant shopkeeper generator bulldozer helicopter ferry railway platform parking lot
playground library museum
""".split()  # noqa: SIM905 - a word list reads better as words
_ADJS = """
swollen muddy flooded damaged narrow broken quiet busy northern southern eastern western
temporary emergency local regional heavy steady sudden slow cold exhausted worried angry
relieved cautious stranded elderly young wooden concrete historic modern empty crowded
""".split()  # noqa: SIM905 - a word list reads better as words
_VERBS = """
reopened closed inspected repaired evacuated rebuilt cleared measured warned reported
flooded blocked lifted reached crossed delivered collected rescued checked counted pumped
surveyed promised delayed approved doubled halved extended recovered carried
""".split()  # noqa: SIM905 - a word list reads better as words
_TIMES = """
on Tuesday|late on Monday|early on Wednesday|before dawn|by midday|after nightfall|overnight|
since the weekend|for the third day|within hours|by the end of the week|on Sunday evening
""".replace("\n", "").split("|")
_PEOPLE = [
    "Elena Marsh",
    "Tobias Fenwick",
    "Priya Calloway",
    "Owen Hartley",
    "Greta Lindqvist",
    "Samuel Okafor",
    "Hannah Whitcombe",
    "Ruben Castellano",
]
_PHOTOGRAPHERS = ["Lena Hollis", "Marco Dietz", "June Abara", "Felix Crane", "Ida Moreau"]


class Prose:
    """Invented news sentences about the event, from one seed."""

    def __init__(self, seed: str) -> None:
        self.rng = random.Random(seed)

    def _thing(self) -> str:
        rng = self.rng
        return (
            f"{rng.choice(('the', 'a', 'one', 'every'))} {rng.choice(_ADJS)} {rng.choice(_NOUNS)}"
        )

    def sentence(self) -> str:
        rng = self.rng
        subject = rng.choice(
            (self._thing(), f"{rng.choice(_PEOPLE)}", f"the {PLACE} council", "crews")
        )
        parts = [subject, rng.choice(_VERBS), self._thing()]
        if rng.random() < 0.6:
            parts += [rng.choice(("near", "beside", "behind", "across", "along")), self._thing()]
        if rng.random() < 0.5:
            parts.append(rng.choice(_TIMES))
        text = " ".join(parts)
        return text[0].upper() + text[1:] + "."

    def paragraph(self, words: int = 42) -> str:
        sentences: list[str] = []
        while sum(len(s.split()) for s in sentences) < words:
            sentences.append(self.sentence())
        return " ".join(sentences)

    def paragraphs(self, count: int, words: int = 42) -> list[str]:
        return [self.paragraph(words) for _ in range(count)]

    def quote(self) -> str:
        speaker = self.rng.choice(_PEOPLE)
        return f"“{self.sentence()} {self.sentence()} {self.sentence()}” said {speaker}."

    def headline(self) -> str:
        rng = self.rng
        text = (
            f"{PLACE} {rng.choice(_NOUNS)} {rng.choice(_VERBS)} as {rng.choice(_ADJS)} waters rise"
        )
        return text[0].upper() + text[1:]

    def scene(self) -> str:
        """What a photo shows, as its caption says it (no credit)."""
        rng = self.rng
        return (
            f"Residents {rng.choice(_VERBS)} {self._thing()} on {rng.choice(_NOUNS)} street"
            f" in {PLACE} {rng.choice(_TIMES)}, as {self._thing()} {rng.choice(_VERBS)}"
            f" {self._thing()}"
        )

    @staticmethod
    def credit(index: int) -> str:
        """A credit line on its own, as some galleries print it under the caption."""
        return f"AP Photo/{_PHOTOGRAPHERS[index % len(_PHOTOGRAPHERS)]}"

    @staticmethod
    def caption(scene: str, index: int) -> str:
        """An agency photo caption in one of the forms photo desks use."""
        who = _PHOTOGRAPHERS[index % len(_PHOTOGRAPHERS)]
        forms = (
            f"FILE - In this March 9, 2026, file photo, {scene[0].lower()}{scene[1:]}."
            f" (AP Photo/{who})",
            f"{scene}. (AP Photo/{who})",
            f"{scene}. (Photo by {who}/Getty Images)",
            f"{scene}. REUTERS/{who}",
            f"MARLOW VALE, ENGLAND - MARCH 10: {scene}. (Photo by {who}/Getty Images)",
        )
        return forms[index % len(forms)]


@dataclass(frozen=True)
class Page:
    """One page of the world with its gold story and the class it tests."""

    url: str
    title: str
    body: tuple[str, ...]  # article paragraphs, in order (captions among them where they stand)
    published: datetime
    story: str  # pages with one story id are one article
    kind: str  # what the page is (wire, truncation, gallery, stub, ...)
    layout: str = "article"  # "article" or "gallery"
    byline: str = ""

    @property
    def host(self) -> str:
        return self.url.split("/")[2]


@dataclass
class World:
    pages: list[Page] = field(default_factory=list)

    def add(self, page: Page) -> Page:
        self.pages.append(page)
        return page

    def stories(self) -> dict[str, set[str]]:
        found: dict[str, set[str]] = defaultdict(set)
        for page in self.pages:
            found[page.story].add(page.url)
        return dict(found)


def _with_captions(body: list[str], captions: list[str], rng: random.Random) -> tuple[str, ...]:
    """The body with each caption inserted after a random paragraph (as extraction finds
    figure captions inside an article)."""
    result = list(body)
    for caption in captions:
        result.insert(rng.randint(1, len(result)), caption)
    return tuple(result)


def _edited(paragraphs: list[str], rng: random.Random) -> list[str]:
    """A house-style edit: one word changed in every third sentence, one paragraph dropped."""
    edited = []
    for paragraph in paragraphs:
        sentences = paragraph.split(". ")
        for index in range(0, len(sentences), 3):
            words = sentences[index].split()
            if len(words) > 3:
                words[rng.randrange(1, len(words))] = rng.choice(_ADJS)
                sentences[index] = " ".join(words)
        edited.append(". ".join(sentences))
    del edited[rng.randrange(len(edited))]
    return edited


class _Event:
    """The event's shared material, and one method per class of page."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.prose = Prose(f"event-{seed}")
        self.world = World()
        self.scenes = [self.prose.scene() for _ in range(30)]  # the agency's photos
        self.pool = [Prose.caption(scene, index) for index, scene in enumerate(self.scenes)]
        self.quotes = [self.prose.quote() for _ in range(6)]  # what officials said
        self.w1: list[str] = []
        self.w1_title = f"Floodwaters force hundreds from homes in {PLACE}"
        self.w2: list[str] = []
        self.w3: list[str] = []
        self.brief: list[str] = []
        self.reports: list[Page] = []
        self.sections: list[tuple[str, list[str]]] = []

    def wire(self) -> None:
        """The wire story carried in full by six papers, and with house-style edits by two."""
        self.w1 = self.prose.paragraphs(12)
        self.w1.insert(2, self.quotes[0])
        self.w1.insert(6, self.quotes[1])
        self.w1_title = f"Floodwaters force hundreds from homes in {PLACE}"
        full = (
            "harbourtimes",
            "valleyherald",
            "northstar",
            "coastgazette",
            "riverpost",
            "mountainecho",
        )
        for n, site in enumerate(full):
            captions = self.rng.sample(self.pool, self.rng.randint(1, 2))
            self.world.add(
                Page(
                    f"http://{site}.example/news/2026/03/10/marlow-vale-flood",
                    self.w1_title
                    if n % 2 == 0
                    else f"Hundreds leave their homes as {PLACE} floods",
                    _with_captions(self.w1, captions, self.rng),
                    T0 + timedelta(hours=1 + n),
                    "w1",
                    "wire",
                    byline="By Elena Marsh, Associated Press",
                )
            )
        for n, site in enumerate(("bayobserver", "hillsidepost")):  # house-style edits
            self.world.add(
                Page(
                    f"http://{site}.example/local/{n}/floodwaters-homes",
                    f"{PLACE} floodwaters drive hundreds out",
                    _with_captions(
                        _edited(self.w1, self.rng), self.rng.sample(self.pool, 1), self.rng
                    ),
                    T0 + timedelta(hours=3, minutes=20 + n),
                    "w1",
                    "edited",
                )
            )

    def wire_parts(self) -> None:
        """The wire story truncated by two papers, cut to a middle run, excerpted."""
        for n, site in enumerate(("dailyvale", "townlantern")):
            self.world.add(
                Page(
                    f"http://{site}.example/story/flood-{n}",
                    self.w1_title,
                    tuple(self.w1[:4]),
                    T0 + timedelta(hours=2, minutes=30 + n),
                    "w1",
                    "truncation",
                )
            )
        self.world.add(
            Page(
                "http://lakesidenews.example/a/flood-middle",
                f"{PLACE}: what the flood has done so far",
                tuple(self.w1[5:11]),
                T0 + timedelta(hours=3),
                "w1",
                "truncation",
            )
        )
        self.world.add(
            Page(
                "http://readwire.example/excerpt/marlow-vale-flood",
                self.w1_title,
                (
                    *self.w1[:3],
                    "Read the full article at http://harbourtimes.example/news/2026/03/10/marlow-vale-flood",
                ),
                T0 + timedelta(minutes=30),  # listed before its original
                "w1",
                "excerpt",
            )
        )

    def versions(self) -> None:
        """A later version keeping 70% of the first (one article), a rewrite keeping 40%."""
        later = Prose(f"later-{self.seed}")
        kept = [p for index, p in enumerate(self.w1) if index not in (3, 7, 9, 11)]  # 10 of 14
        self.w2 = kept[:6] + later.paragraphs(2) + kept[6:] + later.paragraphs(2)
        for n, site in enumerate(("eastbank", "westfield", "harbourtimes", "metroline")):
            self.world.add(
                Page(
                    f"http://{site}.example/news/2026/03/10/flood-update",
                    f"{PLACE} flood: river peaks as rescues go on",
                    _with_captions(self.w2, self.rng.sample(self.pool, 1), self.rng),
                    T0 + timedelta(hours=6 + n),
                    "w1",
                    "version",
                )
            )
        rewrite = Prose(f"rewrite-{self.seed}")
        self.w3 = [
            self.w2[0],
            *rewrite.paragraphs(3),
            self.w2[6],
            self.w2[7],
            *rewrite.paragraphs(4),
            self.w2[-1],
            self.w2[-2],
        ]
        self.w3 += rewrite.paragraphs(3)
        for n, site in enumerate(("southgate", "valleyherald", "pinecrest")):
            self.world.add(
                Page(
                    f"http://{site}.example/news/2026/03/11/marlow-vale-recovery",
                    f"After the flood, {PLACE} counts the cost",
                    _with_captions(self.w3, self.rng.sample(self.pool, 1), self.rng),
                    T0 + timedelta(hours=20 + n),
                    "w3",
                    "rewrite",
                )
            )

    def independent(self) -> None:
        """Independent reports: their own words, the event's quotes."""
        for n, site in enumerate(("globeline", "courierpost", "eveningstar")):
            own = Prose(f"report-{self.seed}-{n}").paragraphs(9 if n < 2 else 5)
            shared = self.quotes[: 2 + 2 * (n == 2)]
            self.world.add(
                Page(
                    f"http://{site}.example/{n}/marlow-vale-report",
                    f"{site.capitalize()}: {PLACE} residents describe the night the river rose",
                    tuple(own[:2] + shared + own[2:]),
                    T0 + timedelta(hours=4 + n),
                    f"report-{n}",
                    "independent",
                )
            )

    def running(self) -> None:
        """A brief carried twice, and a running file carried twice that carries the brief."""
        self.brief = Prose(f"brief-{self.seed}").paragraphs(3, 48)
        for n, site in enumerate(("northstar", "eastbank")):
            self.world.add(
                Page(
                    f"http://{site}.example/brief/rail-line-closed",
                    f"Rail line through {PLACE} closed until further notice",
                    tuple(self.brief),
                    T0 + timedelta(hours=5, minutes=n),
                    "brief",
                    "brief",
                )
            )
        running = Prose(f"running-{self.seed}")
        entries = [
            ("9:05 a.m.", [self.w1[0]]),
            ("9:40 a.m.", running.paragraphs(1)),
            ("10:15 a.m.", self.brief),
            ("11:30 a.m.", running.paragraphs(2)),
            ("12:10 p.m.", [self.w3[1]]),
            ("1:45 p.m.", running.paragraphs(1)),
        ]
        later_entries = [("2:20 p.m.", running.paragraphs(1)), ("3:05 p.m.", running.paragraphs(1))]
        for n, (site, stamped) in enumerate(
            (("coastgazette", entries), ("metroline", entries + later_entries))
        ):
            body = [f"The Latest on the flood in {PLACE} (all times local):"]
            for stamp, paragraphs in stamped:
                body += [stamp, *paragraphs]
            self.world.add(
                Page(
                    f"http://{site}.example/latest/marlow-vale-flood",
                    f"The Latest: {PLACE} flood closes rail line",
                    tuple(body),
                    T0 + timedelta(hours=8 + n),
                    "latest",
                    "compilation",
                )
            )

    def compilations(self) -> None:
        """A live page of five stories' openings, and two digests (one not named one)."""
        self.reports = [p for p in self.world.pages if p.kind == "independent"]
        openings = [
            self.w1[0],
            self.w3[1],
            self.reports[0].body[0],
            self.reports[1].body[0],
            self.brief[0],
        ]
        live = []
        for n, opening in enumerate(openings):
            live += [f"{10 + n}:{15 * (n % 4):02d} a.m.", opening]
        self.world.add(
            Page(
                "http://valleyherald.example/live/marlow-vale-flood",
                f"Live updates: flooding in {PLACE}",
                tuple(live),
                T0 + timedelta(hours=12),
                "live",
                "compilation",
            )
        )
        self.sections = [
            (self.w1_title, self.w1),
            (f"After the flood, {PLACE} counts the cost", self.w3[1:]),
            (self.reports[0].title, list(self.reports[0].body)),
            (self.reports[1].title, list(self.reports[1].body)),
            (f"Rail line through {PLACE} closed until further notice", self.brief),
        ]
        for n, (site, title) in enumerate(
            (
                ("dailyvale", "Morning briefing: the flood, the rail line and the cost"),
                ("townlantern", "Five stories from the Vale this Tuesday"),
            )
        ):
            body = []  # two different digests: each story's first or second pair of paragraphs
            for headline, paragraphs in self.sections[:4]:
                body += [headline, *paragraphs[2 * n : 2 * n + 2]]
            body += [self.sections[4][0], *self.brief]  # and the whole brief
            self.world.add(
                Page(
                    f"http://{site}.example/newsletter/{n}",
                    title,
                    tuple(body),
                    T0 + timedelta(hours=14 + n),
                    f"digest-{n}",
                    "compilation",
                )
            )

    def galleries(self) -> None:
        """Two picture desks: captions credited inline, or on lines of their own."""
        desk = (
            "Browse the latest galleries from the Vale Picture Desk, where our photographers follow"
            " the stories that matter across the region every day of the year.",
            "Click any picture to see it larger, and use the arrows at the side of each picture to"
            " move through the whole gallery at your own pace.",
        )
        for n in range(20):
            captions = self.rng.sample(self.pool, self.rng.randint(8, 10))
            titles = (
                f"Photos: {PLACE} under water, day {n + 1}",
                f"The flood in pictures: {n + 1}",
                f"Scenes from the river, set {n + 1}",
            )
            path = "gallery" if n % 3 != 2 else "2026/03/10"
            self.world.add(
                Page(
                    f"http://picturedesk.example/{path}/flood-{n}",
                    titles[n % 3],
                    (*desk, *captions),
                    T0 + timedelta(hours=2, minutes=7 * n),
                    f"gallery-{n}",
                    "gallery",
                    layout="gallery",
                )
            )

        # A second desk prints each credit on a line of its own, under a caption with none.
        for n in range(8):
            chosen = self.rng.sample(range(len(self.scenes)), self.rng.randint(8, 10))
            body = [f"Pictures from {PLACE} as the river came up, chosen by the Vale Photo team."]
            for index in chosen:
                body += [self.scenes[index] + ".", Prose.credit(index)]
            self.world.add(
                Page(
                    f"http://valephotos.example/2026/03/{10 + n}/river-day-{n}",
                    f"The river in {PLACE}, day {n + 1}"
                    if n % 2
                    else f"Gallery: river day {n + 1}",
                    tuple(body),
                    T0 + timedelta(hours=4, minutes=9 * n),
                    f"photos-{n}",
                    "gallery",
                )
            )

    def stubs(self) -> None:
        """Share stubs: one body on many pages of an aggregator, under the stories' titles."""
        stub = (
            "SharedHub collects the stories that people in the region are passing around today,"
            " chosen by our readers and sorted by how often they were opened this morning.",
            "Tap the headline above to open the whole story on the website of the paper that"
            " published it first.",
        )
        long_stub = (
            *stub,
            "Every story we list comes from a paper we have checked, and we never change a"
            " headline or a word of what the paper wrote before we send you there to read it.",
            "Our editors look at the list twice a day, take out anything that turns out to be"
            " wrong, and add the stories our readers in the valley ask us about the most.",
        )
        stub_titles = [
            self.w1_title,
            self.reports[0].title,
            self.reports[1].title,
            self.sections[1][0],
            self.sections[4][0],
        ]
        stub_titles += [f"{PLACE} school closed for the week", "Rescue boats reach the farms"]
        stub_titles += ["Insurers count claims in the Vale", "Volunteers fill sandbags at dawn"]
        for n, title in enumerate(stub_titles):
            self.world.add(
                Page(
                    f"http://sharedhub.example/s/{n}",
                    title,
                    stub if n < 6 else long_stub,
                    T0 + timedelta(hours=3, minutes=11 * n),
                    f"stub-{n}",
                    "stub",
                )
            )

    def headlines(self) -> None:
        """Headline-only pages: a headline and a one-line dek."""
        for n in range(4):
            dek = Prose(f"dek-{self.seed}-{n}").sentence()
            self.world.add(
                Page(
                    f"http://newsbrief.example/h/{n}",
                    f"{self.w1_title} ({n})",
                    (dek,),
                    T0 + timedelta(hours=1, minutes=13 * n),
                    f"headline-{n}",
                    "headline",
                )
            )

    def courier(self) -> None:
        """One paper's pages: its leaked 'about us' paragraph, quotes shared by two stories."""
        about = (
            "The Vale Courier is an independent newsroom owned by its readers since 1921, and every"
            " story it publishes is paid for by the members who keep it free for everyone else to"
            " read."
        )
        for n in range(5):
            own = Prose(f"courier-{self.seed}-{n}").paragraphs(8)
            body = own[:3] + ([self.quotes[2], self.quotes[3]] if n < 2 else []) + own[3:] + [about]
            self.world.add(
                Page(
                    f"http://valecourier.example/news/{n}",
                    f"{PLACE}: {Prose(f'courier-title-{n}').headline()}",
                    tuple(body),
                    T0 + timedelta(hours=9, minutes=20 * n),
                    f"courier-{n}",
                    "same_site",
                )
            )


def build(seed: int = 1) -> World:
    """The world for ``seed`` (the same seed gives the same pages)."""
    event = _Event(seed)
    event.wire()
    event.wire_parts()
    event.versions()
    event.independent()
    event.running()
    event.compilations()
    event.galleries()
    event.stubs()
    event.headlines()
    event.courier()
    return event.world
