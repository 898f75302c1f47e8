"""Content-Encoding decoding for raw bodies (used when WARC output keeps the bytes as received).

aiohttp normally decodes bodies itself; with ``--warc`` the crawler asks for them raw, archives
them, and decodes here with the same rule as everywhere: the *decoded* size may not pass the cap,
so a gzip bomb is stopped after ``cap`` bytes of output whatever its compressed size. The curl
transport always takes bodies raw and decodes them here, so ``max_bytes``, WARC bytes and decode
errors are the same for both transports (hence zstd: Chrome's ``Accept-Encoding`` offers it).
"""

from __future__ import annotations

import zlib
from typing import Any

from crawler.core.errors import FetchError, Kind

ZSTD_WINDOW = 8 << 20  # RFC 9659: zstd content coding uses windows of at most 8 MB; browsers refuse more
ZSTD_BLOCK = 128 << 10  # RFC 8878: a block decodes to at most 128 KiB and takes at least 4 bytes (RLE)


class BodyDecoder:
    """Incremental decoder for one body's Content-Encoding (identity, gzip, deflate, br, zstd)."""

    def __init__(self, encoding: str | None) -> None:
        self.encoding = (encoding or "identity").strip().lower()
        self._raw_deflate_tried = False
        self._d: Any  # a zlib decompressobj, a brotli.Decompressor (untyped), a ZstdStream or None
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
        elif self.encoding == "zstd":
            try:
                self._d = ZstdStream()
            except ImportError:
                raise FetchError(Kind.DECODE, "cannot decode zstd: the zstandard package is not installed") from None
        else:
            raise FetchError(Kind.DECODE, f"unsupported Content-Encoding {self.encoding!r}")

    def feed(self, chunk: bytes, room: int) -> bytes:
        """Decoded bytes of ``chunk``; raises TOO_LARGE past ``room`` more bytes, DECODE on bad data."""
        if self._d is None:
            return chunk
        try:
            if self.encoding == "br":
                out: bytes = self._d.process(chunk)
            elif self.encoding == "zstd":
                out = self._d.feed(chunk, room)
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
        except Exception as e:  # brotli.error, zstandard.ZstdError and friends
            raise FetchError(Kind.DECODE, f"cannot decode {self.encoding} body: {e}") from None
        if len(out) > room:
            raise FetchError(Kind.TOO_LARGE, f"body exceeds {room} more decoded bytes")
        return out

    def finish(self) -> bytes:
        """The decoder's remaining output; a truncated stream is a DECODE error."""
        if self._d is None or self.encoding == "br":
            return b""
        if self.encoding == "zstd":
            if not self._d.eof:
                raise FetchError(Kind.DECODE, "zstd body ends before its frame does")
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


class ZstdStream:
    """zstd frames decoded as they arrive, never inflating far past ``room``.

    zstandard's ``decompressobj`` has no ``max_length`` (zlib's guard against bombs) and its
    streaming reader pulls its input, where bodies are pushed. So the input goes in slices small
    enough that one call cannot pass ``room`` by more than one block: a block takes at least 4
    bytes and decodes to at most ``ZSTD_BLOCK``. A body may hold several frames (as aiohttp reads
    them); each starts a new ``decompressobj``, whose ``eof`` tells a whole last frame from a cut one.
    """

    def __init__(self) -> None:
        import zstandard  # optional (the curl extra): ImportError tells BodyDecoder it is missing

        self._zstd = zstandard.ZstdDecompressor(max_window_size=ZSTD_WINDOW)
        self._frame = self._zstd.decompressobj()

    @property
    def eof(self) -> bool:
        """Whether the input so far ends where a frame does."""
        return self._frame.eof

    def feed(self, chunk: bytes, room: int) -> bytes:
        """Decoded bytes of ``chunk``; raises TOO_LARGE past ``room`` more bytes (zstandard.ZstdError
        on bad data)."""
        step = 4 * max(1, room // ZSTD_BLOCK)
        out: list[bytes] = []
        size = 0
        view = memoryview(chunk)
        for start in range(0, len(view), step):
            data: bytes | memoryview = view[start : start + step]
            while data:
                if self._frame.eof:  # the next frame
                    self._frame = self._zstd.decompressobj()
                piece = self._frame.decompress(data)
                data = self._frame.unused_data if self._frame.eof else b""
                size += len(piece)
                if size > room:
                    raise FetchError(Kind.TOO_LARGE, f"body exceeds {room} more decoded bytes")
                out.append(piece)
        return b"".join(out)
