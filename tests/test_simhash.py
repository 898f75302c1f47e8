"""SimHash near-duplicates: the same value in every process, close for pages that differ by a
date line, far for different pages of one site and topic; the index answers with the first URL."""

from __future__ import annotations

import os
import random
import subprocess
import sys

from crawler.content.simhash import BANDS, NEAR, NearIndex, distance, simhash

TEMPLATE_TOP = "Home Recipes Baking Bread About Contact Subscribe to our newsletter Search this site"
TEMPLATE_BOTTOM = "Copyright 2026 The Bakery Journal. All rights reserved. Privacy policy Terms of use Cookie settings"

STARTER = """How to keep a sourdough starter alive through the winter

A sourdough starter is a living culture of wild yeast and lactic acid bacteria. In a cold kitchen
it slows down, rises less and smells sharper, and many bakers give up on it in January. It does not
need much to stay healthy: a warmer spot, a little more flour at each feeding and some patience.

Start by finding the warmest place in the house. The top of the fridge, a shelf above the radiator
or an oven with only its light switched on will usually sit between 24 and 27 degrees. At that
temperature the culture doubles in four to six hours, which is what you want before you mix a dough.

Feed it with a stiffer mix than in summer. One part starter, two parts flour and one and a half
parts water gives the yeast more to eat and keeps the acidity in check. Whole rye flour helps too:
it carries more minerals and wild yeasts than white flour, and a spoonful of it wakes a sleepy jar.

If you bake only once a week, keep the jar in the fridge between bakes. Take it out the evening
before, give it two feedings twelve hours apart and it will be lively again by the next afternoon.
A layer of grey liquid on top is only alcohol made by hungry yeast; pour it off or stir it back in.

Finally, trust your senses more than the clock. A ready starter is domed, full of bubbles and
smells pleasantly sour, like yoghurt or green apples. When a spoonful floats in water, it is time
to bake. Winter bread takes longer, but the slow rise gives it a deeper flavour and a better crust.
"""

CRUST = """Why your loaf has a pale crust, and five ways to fix it

A pale, soft crust is the most common complaint we hear from home bakers. The dough rose well and
the crumb is open, yet the loaf comes out of the oven looking tired. The cause is almost always heat,
steam or sugar, and each of them is easy to change once you know what to look for.

First, check your oven. Many ovens run twenty degrees cooler than their dial claims. An oven
thermometer costs little and settles the question in a minute. Preheat for a full forty-five
minutes with the baking stone or the cast iron pot inside, so that the loaf meets a hot surface.

Second, give the loaf steam for the first twenty minutes only. Steam keeps the surface soft so the
bread can expand, but if it stays too long the crust never dries and never browns. Take the lid off
the pot, or open the oven door briefly to let the moist air out, and finish the bake in dry heat.

Third, look at the fermentation. An over-proofed dough has eaten most of its sugars, and without
sugar there is nothing left to caramelise. Shorten the final proof, or retard the shaped loaf in
the fridge overnight, which slows the yeast while enzymes keep releasing sugars from the flour.

Fourth, bake longer than feels comfortable. A dark crust tastes of toasted nuts and caramel, not of
burnt bread. Fifth, brush the loaf with a little milk or a thin egg wash if you like a glossy shine.
"""


def page(body: str, date: str) -> str:
    return f"{TEMPLATE_TOP}\nPublished {date} by Anna Keller\n{body}\n{TEMPLATE_BOTTOM}"


def test_the_hash_is_the_same_in_every_process() -> None:
    """Workers of a shared job compare hashes made in other processes: no hash() randomisation."""
    code = "import sys; from crawler.content.simhash import simhash; print(simhash(sys.stdin.read()))"
    values = {
        subprocess.run(
            [sys.executable, "-c", code],
            input=STARTER,
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout.strip()
        for seed in ("1", "2")
    }
    assert values == {str(simhash(STARTER))}
    assert 0 < simhash(STARTER) < 1 << 64


def articles(count: int, words: int) -> list[str]:
    """Articles of the bakery site: its own words in a random order (a given seed, same run to run)."""
    rng = random.Random(27)
    vocabulary = (STARTER + CRUST).split()
    return [" ".join(rng.choice(vocabulary) for _ in range(words)) for _ in range(count)]


def test_pages_that_differ_by_a_date_line_are_near_duplicates() -> None:
    """Almost always for articles of 1,500 words: a changed word flips about 3/sqrt(words) of
    each bit's votes, so a few hundred words would flip more bits and be missed more often."""
    caught = sum(
        distance(simhash(page(body, "3 January 2026")), simhash(page(body, "17 February 2026, updated 2 March")))
        <= NEAR
        for body in articles(40, 1500)
    )
    assert caught >= 36


def test_different_pages_of_one_site_and_topic_are_not() -> None:
    assert distance(simhash(page(STARTER, "3 January 2026")), simhash(page(CRUST, "3 January 2026"))) > 3 * NEAR
    hashes = [simhash(page(body, "3 January 2026")) for body in articles(40, 1500)]
    assert min(distance(a, b) for i, a in enumerate(hashes) for b in hashes[:i]) > 3 * NEAR


def test_case_and_punctuation_do_not_matter_but_words_do() -> None:
    assert simhash("Hello, World! It's 2026_12…") == simhash("hello world it s 2026 12")
    assert simhash("Schöne Grüße — bis bald") == simhash("schöne grüße bis bald")
    assert simhash("hello world") != simhash("hello there")
    assert simhash("") == simhash("  ¡!  ") == 0


def test_the_index_answers_with_the_first_url_never_the_page_itself() -> None:
    index = NearIndex()
    h = simhash(page(STARTER, "3 January 2026"))
    near = h ^ (1 << 5 | 1 << 40)  # e.g. its print view
    other = simhash(page(CRUST, "3 January 2026"))
    assert index.first("https://bakery.test/starter", h) is None
    assert index.first("https://bakery.test/print/starter", near) == "https://bakery.test/starter"
    assert index.first("https://bakery.test/starter?session=42", h) == "https://bakery.test/starter"
    assert index.first("https://bakery.test/crust", other) is None
    assert index.first("https://bakery.test/starter", near) is None  # re-crawled, changed a little
    assert len(index) == 2  # the duplicates and the re-crawl are not recorded


def test_a_first_loaded_with_add_is_found() -> None:
    """A resumed crawl loads the firsts of its earlier run, then goes on."""
    index = NearIndex()
    index.add("https://a.test/", 0x0123_4567_89AB_CDEF)
    index.add("https://b.test/", 0x0123_4567_89AB_CDEF)  # the same hash: the first stays
    assert len(index) == 1
    assert index.first("https://c.test/", 0x0123_4567_89AB_CDEE) == "https://a.test/"
    assert index.first("https://a.test/", 0x0123_4567_89AB_CDEF) is None


def flip(h: int, bits: list[int]) -> int:
    for bit in bits:
        h ^= 1 << bit
    return h


def test_hashes_up_to_near_bits_away_are_found_and_one_more_is_not() -> None:
    """Also when every band differs but one (or all six do): the band index misses nothing."""
    assert len(BANDS) - 1 == NEAR  # the pigeonhole the index relies on
    rng = random.Random(27)
    for _ in range(200):
        h = rng.getrandbits(64)
        index = NearIndex()
        index.add("first", h)
        spread = [shift + rng.randrange(width) for shift, width in rng.sample(BANDS, len(BANDS))]  # a bit per band
        assert index.first("NEAR apart", flip(h, spread[:NEAR])) == "first"
        assert index.first("NEAR in one band", flip(h, rng.sample(range(20, 31), NEAR))) == "first"
        assert index.first("NEAR + 1 apart", flip(h, spread)) is None
        assert index.first("NEAR + 1 in one band", flip(h, rng.sample(range(53, 64), NEAR + 1))) is None
        assert len(index) == 3


def test_pages_that_differ_only_in_numbers_are_not_near_duplicates() -> None:
    """Two timetables (or results tables) share every word but their numbers: no false merge."""
    rng = random.Random(7)
    stops = ["Harbour", "Station", "Market", "Bridge", "Library", "Museum", "Orchard", "Quarry", "Canal", "Tower"]

    def timetable() -> str:
        rows = [f"{stop} {rng.randrange(5, 23):02d}:{rng.randrange(60):02d}" for stop in stops for _ in range(12)]
        return "Timetable of line 4, weekdays. " + " ".join(rows)

    assert distance(simhash(timetable()), simhash(timetable())) > 3 * NEAR
