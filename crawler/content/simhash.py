"""A 64-bit SimHash of a page's main text, and an index of the first page seen with each one.

Near-duplicates (mirrors, print views, pages that differ by a date line) share most of their word
3-shingles, so their SimHashes differ in a few bits; pages that really differ do not. Numbers are
words too: two timetables or two results tables differ only in them (a changed date line moves a
few bits, within NEAR on all but short pages: see BANDS).

The hash must be the same in every process and run (the first URL of a shared job is decided by
many workers), so features are hashed with blake2b, never ``hash()``. It must also be cheap (a few
per cent of a page's parse), so no Python loop runs per feature or per bit:

- tokens: ``bytes.translate`` turns ASCII non-word characters into spaces; only the text's
  non-ASCII non-word characters (a dash, a quote) are found by a regex, on the non-ASCII part;
- features: simple tabulation hashing of shingles. Each word has three 8-byte blake2b values
  (cached across pages), a shingle's feature is the XOR of its first word's first value, its second
  word's second and its third word's third: done for all shingles at once on big integers;
- counts: per bit, a population count of the features' bytes at that position (big integers too).
"""

from __future__ import annotations

import re
from hashlib import blake2b

NEAR = 5  # bits: hashes differing in at most this many are near-duplicates (see BANDS)
SHINGLE = 3  # words per feature; a text with fewer words has its words as features

_ASCII_WORDS = bytes(c if chr(c).isalnum() else 32 for c in range(128)) + bytes(range(128, 256))
_ASCII = bytes(range(128))
_NON_WORD = re.compile(r"\W")  # [^\W_]: the underscore is ASCII, turned into a space by _ASCII_WORDS
_VALUES = 3 * 8  # bytes of blake2b per word: one 8-byte value per place in a shingle
# NearIndex files a hash under 6 bands (shift, width) of 10-11 bits: hashes within NEAR = 5 bits
# share at least one (pigeonhole). Measured on 300 made-up articles (tests/test_content.py's): a
# print view (a date line and one sentence less) is within 3 bits of its article for 2/3 of
# ~350-word ones and 87% of ~900-word ones, within 5 bits for 90% and 99%; pages sharing half
# their text are 10 bits apart or more. (Manku et al.'s k = 3 is for billions of pages.)
BANDS = ((53, 11), (42, 11), (31, 11), (20, 11), (10, 10), (0, 10))


def simhash(text: str) -> int:
    """The text's 64-bit SimHash over its lower-cased ``[^\\W_]+`` words' 3-shingles (0 when it
    has no words). Bit i is set when most features have bit i set (features as big-endian ints)."""
    words = _words(text)
    values = _word_values(words)
    if len(words) >= SHINGLE:
        count = len(words) - 2
        columns = [
            int.from_bytes(values[p:-48:_VALUES])
            ^ int.from_bytes(values[32 + p : -24 : _VALUES])
            ^ int.from_bytes(values[64 + p :: _VALUES])
            for p in range(8)
        ]
    else:
        count = len(words)
        columns = [int.from_bytes(values[p::_VALUES]) for p in range(8)]
    masks = [int.from_bytes(bytes((1 << bit,)) * count) for bit in range(7, -1, -1)]
    h = 0
    for column in columns:  # column p: byte p of every feature
        for mask in masks:
            h = h << 1 | ((column & mask).bit_count() * 2 > count)
    return h


def distance(a: int, b: int) -> int:
    """How many bits differ (Hamming distance)."""
    return (a ^ b).bit_count()


def _words(text: str) -> list[bytes]:
    """The ``[^\\W_]+`` tokens of the lower-cased text, in UTF-8 (what the regex finds, 3-6x faster)."""
    low = text.lower()
    if not low.isascii():
        for c in set(_NON_WORD.findall(low.encode().translate(None, _ASCII).decode())):
            low = low.replace(c, " ")
    return low.encode().translate(_ASCII_WORDS).split()


def _word_values(words: list[bytes]) -> bytes:
    """Each word's three 8-byte values, concatenated in the words' order."""
    return b"".join(map(_cache.__getitem__, words))


class _Values(dict[bytes, bytes]):
    """Word → its three values: common words stay cached across pages (a hit costs a dict look-up,
    a miss a blake2b); at most ``size`` words (about 10 MB for 65,536), then it starts over."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def __missing__(self, word: bytes) -> bytes:
        if len(self) >= self.size:
            self.clear()
        value = self[word] = blake2b(word, digest_size=_VALUES).digest()
        return value


_cache = _Values(1 << 16)


class NearIndex:
    """The first URL seen with each SimHash, found again by any hash within ``NEAR`` bits.

    A hash is filed under each of its six bands (``BANDS``): two hashes differing in at most
    ``NEAR`` bits share at least one (pigeonhole), so a look-up compares only the hashes of 6 buckets.
    Compact for a million pages: one dict hash → URL, and per band a dict band value → hashes.
    """

    def __init__(self) -> None:
        self._urls: dict[int, str] = {}
        self._bands: list[dict[int, list[int]]] = [{} for _ in BANDS]

    def __len__(self) -> int:
        return len(self._urls)

    def first(self, url: str, h: int) -> str | None:
        """The URL first seen with a hash within ``NEAR`` bits of ``h`` (the first found when
        several are), never ``url`` itself: a page seen again, changed a little, is no duplicate of
        its own first visit. None when there is none; then ``url`` is recorded as the first with
        ``h``, unless its own earlier hash matched."""
        found = None
        for band, key in zip(self._bands, band_keys(h), strict=True):
            for other in band.get(key, ()):
                if (other ^ h).bit_count() <= NEAR:
                    seen = self._urls[other]
                    if seen == url:
                        return None
                    found = found or seen
        if found is None:
            self.add(url, h)
        return found

    def add(self, url: str, h: int) -> None:
        """Record ``url`` as the first with ``h``, unchecked (a first known from an earlier run)."""
        if h in self._urls:
            return
        self._urls[h] = url
        for band, key in zip(self._bands, band_keys(h), strict=True):
            band.setdefault(key, []).append(h)


def band_keys(h: int) -> tuple[int, ...]:
    """The values of ``h``'s bands, in ``BANDS`` order."""
    return tuple(h >> shift & ((1 << width) - 1) for shift, width in BANDS)
