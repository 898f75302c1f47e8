"""Content-Encoding decoding for raw bodies (used when WARC output keeps the bytes as received).

aiohttp normally decodes bodies itself; with ``--warc`` the crawler asks for them raw, archives
them, and decodes here with the same rule as everywhere: the *decoded* size may not pass the cap,
so a gzip bomb is stopped after ``cap`` bytes of output whatever its compressed size.
"""

from __future__ import annotations

import zlib
from typing import Any

from crawler.core.errors import FetchError, Kind


class BodyDecoder:
    """Incremental decoder for one body's Content-Encoding (identity, gzip, deflate, br)."""

    def __init__(self, encoding: str | None) -> None:
        self.encoding = (encoding or "identity").strip().lower()
        self._raw_deflate_tried = False
        self._d: Any  # a zlib decompressobj, a brotli.Decompressor (untyped) or None
        if self.encoding in ("", "identity"):
            self._d = None
        elif self.encoding in ("gzip", "x-gzip"):
            self._d = zlib.decompressobj(wbits=47)
        elif self.encoding == "deflate":
            self._d = zlib.decompressobj(wbits=15)
        elif self.encoding == "br":
            try:
                import brotli
            except ImportError:
                raise FetchError(Kind.DECODE, "cannot decode br: the Brotli package is not installed") from None
            self._d = brotli.Decompressor()
        else:
            raise FetchError(Kind.DECODE, f"unsupported Content-Encoding {self.encoding!r}")

    def feed(self, chunk: bytes, room: int) -> bytes:
        """Decoded bytes of ``chunk``; raises TOO_LARGE past ``room`` more bytes, DECODE on bad data."""
        if self._d is None:
            return chunk
        try:
            if self.encoding == "br":
                out: bytes = self._d.process(chunk)
            else:
                out = self._d.decompress(chunk, room + 1)
                if self._d.unconsumed_tail:
                    raise FetchError(Kind.TOO_LARGE, f"body exceeds {room} more decoded bytes")
        except zlib.error as e:
            if self.encoding == "deflate" and not self._raw_deflate_tried:
                self._raw_deflate_tried = True  # some servers send raw deflate without the zlib header
                self._d = zlib.decompressobj(wbits=-15)
                return self.feed(chunk, room)
            raise FetchError(Kind.DECODE, f"cannot decode {self.encoding} body: {e}") from None
        except FetchError:
            raise
        except Exception as e:  # brotli.error and friends
            raise FetchError(Kind.DECODE, f"cannot decode {self.encoding} body: {e}") from None
        if len(out) > room:
            raise FetchError(Kind.TOO_LARGE, f"body exceeds {room} more decoded bytes")
        return out

    def finish(self) -> bytes:
        """The decoder's remaining output; a truncated stream is a DECODE error."""
        if self._d is None or self.encoding == "br":
            return b""
        try:
            tail: bytes = self._d.flush()
        except zlib.error as e:
            raise FetchError(Kind.DECODE, f"cannot decode {self.encoding} body: {e}") from None
        if not self._d.eof:
            raise FetchError(Kind.DECODE, f"{self.encoding} body ends before its stream does")
        return tail


def decoded(raw: bytes, encoding: str | None, cap: int) -> bytes:
    """A small whole body as received, decoded (at most ``cap`` bytes), or b"" if it does not decode:
    for reading an error page that was only drained, never for a page that is kept."""
    try:
        decoder = BodyDecoder(encoding)
        return decoder.feed(raw, cap) + decoder.finish()
    except FetchError:
        return b""
