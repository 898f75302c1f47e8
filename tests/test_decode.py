"""BodyDecoder: raw bodies (WARC crawls, the curl transport) decoded with the cap on decoded bytes."""

from __future__ import annotations

import gzip
import sys
import tracemalloc
import zlib

import pytest
import zstandard
from aiohttp import web

from crawler.core.errors import FetchError, Kind
from crawler.net.decode import ZSTD_WINDOW, BodyDecoder

TEXT = b"".join(b"<p>line %d of a page, with <a href='/p/%d'>a link</a></p>\n" % (i, i * 7) for i in range(20_000))
MIB = 1 << 20


def zstd(data: bytes, window_log: int = 0) -> bytes:
    """One zstd frame; with ``window_log``, streamed (size unknown) so the window stays that large."""
    if not window_log:
        return zstandard.ZstdCompressor(level=3, write_checksum=True).compress(data)
    params = zstandard.ZstdCompressionParameters.from_level(3, window_log=window_log, write_checksum=True)
    stream = zstandard.ZstdCompressor(compression_params=params).compressobj()
    return stream.compress(data) + stream.flush()


ENCODED = {
    "gzip": gzip.compress(TEXT),
    "deflate": zlib.compress(TEXT),
    "zstd": zstd(TEXT),
}


def decode(encoding: str, body: bytes, room: int = 10 * MIB, chunk: int = 1000) -> bytes:
    """``body`` fed in chunks as a transport hands them over, each with the room left."""
    d = BodyDecoder(encoding)
    out: list[bytes] = []
    size = 0
    for i in range(0, len(body), chunk):
        out.append(d.feed(body[i : i + chunk], room - size))
        size += len(out[-1])
    out.append(d.finish())
    return b"".join(out)


@pytest.mark.parametrize("encoding", sorted(ENCODED))
@pytest.mark.parametrize("chunk", [7, 16384, 1 << 30])
def test_bodies_decode_whatever_the_chunking(encoding, chunk):
    assert decode(encoding, ENCODED[encoding], chunk=chunk) == TEXT


@pytest.mark.parametrize("encoding", sorted(ENCODED))
def test_a_body_cut_short_is_a_decode_error(encoding):
    with pytest.raises(FetchError) as e:
        decode(encoding, ENCODED[encoding][:-10])
    assert e.value.kind is Kind.DECODE and "ends before" in e.value.message


@pytest.mark.parametrize("encoding", sorted(ENCODED))
def test_garbage_is_a_decode_error(encoding):
    with pytest.raises(FetchError) as e:
        decode(encoding, b"this is not compressed at all" * 10)
    assert e.value.kind is Kind.DECODE and e.value.message.startswith(f"cannot decode {encoding} body")


@pytest.mark.parametrize("encoding", sorted(ENCODED))
def test_the_decoded_size_is_capped(encoding):
    with pytest.raises(FetchError) as e:
        decode(encoding, ENCODED[encoding], room=len(TEXT) - 1)
    assert e.value.kind is Kind.TOO_LARGE
    assert decode(encoding, ENCODED[encoding], room=len(TEXT)) == TEXT  # exactly the cap is allowed


@pytest.mark.parametrize("chunk", [16384, 1 << 30])
def test_a_zstd_bomb_stops_near_the_cap_in_memory_too(chunk):
    bomb = zstd(bytes(64 * MIB))
    assert len(bomb) < 10_000  # small on the wire, 64 MiB decoded
    tracemalloc.start()
    try:
        with pytest.raises(FetchError) as e:
            decode("zstd", bomb, room=MIB, chunk=chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert e.value.kind is Kind.TOO_LARGE
    assert peak < 3 * MIB  # the cap (1 MiB) and a block or two, never the 64 MiB


def test_zstd_rle_blocks_cannot_outrun_the_cap():
    """The densest zstd there is: RLE blocks, 4 bytes each for 128 KiB of output."""
    window = bytes([(17 - 10) << 3])  # Window_Descriptor: 2**17 = 128 KiB
    header = (0xFD2FB528).to_bytes(4, "little") + b"\x00" + window
    block = ((128 << 10) << 3 | 1 << 1).to_bytes(3, "little") + b"\x00"  # Block_Type 1 (RLE), not last
    last = ((128 << 10) << 3 | 1 << 1 | 1).to_bytes(3, "little") + b"\x00"
    frame = header + block * 511 + last  # 2 KiB → 64 MiB
    assert decode("zstd", frame, room=64 * MIB, chunk=1 << 30) == bytes(64 * MIB)
    for room in (0, 1, MIB):
        tracemalloc.start()
        try:
            with pytest.raises(FetchError) as e:
                decode("zstd", frame, room=room, chunk=1 << 30)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert e.value.kind is Kind.TOO_LARGE and peak < room + MIB


def test_zstd_bodies_of_several_frames_decode_whole():
    body = zstd(TEXT[:5000]) + zstd(TEXT[5000:])
    assert decode("zstd", body, chunk=333) == TEXT
    with pytest.raises(FetchError, match="ends before its frame does"):  # a second frame cut short
        decode("zstd", body[:-3])


def test_zstd_windows_past_8_mb_are_refused_as_browsers_do():
    big = zstd(TEXT, window_log=24)  # 16 MiB window
    assert zstandard.get_frame_parameters(big).window_size == 16 * MIB
    with pytest.raises(FetchError) as e:
        decode("zstd", big)
    assert e.value.kind is Kind.DECODE and "too much memory" in e.value.message
    assert decode("zstd", zstd(TEXT, window_log=ZSTD_WINDOW.bit_length() - 1)) == TEXT


def test_an_empty_zstd_body_is_cut_short():
    with pytest.raises(FetchError, match="ends before its frame does"):
        decode("zstd", b"")


def test_zstd_without_the_package_is_one_decode_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "zstandard", None)
    with pytest.raises(FetchError) as e:
        BodyDecoder("zstd")
    assert e.value.kind is Kind.DECODE
    assert e.value.message == "cannot decode zstd: the zstandard package is not installed"


def test_identity_passes_through_and_unknown_codings_are_refused():
    assert decode("identity", TEXT) == decode(None, TEXT) == TEXT  # type: ignore[arg-type]
    with pytest.raises(FetchError, match="unsupported Content-Encoding 'compress'"):
        BodyDecoder("compress")


@pytest.mark.parametrize("fields", [{"warc": True}, {"transport": "curl"}, {"transport": "curl", "warc": True}])
async def test_crawls_decode_zstd_pages_and_stop_zstd_bombs(site, crawl, fields):
    """Bodies as received reach BodyDecoder from aiohttp in WARC crawls and from curl always (its
    browser Accept-Encoding offers zstd): zstd pages parse, a zstd bomb is too_large."""
    page = b"<html><title>zstd page</title><a href='/bomb'>b</a></html>"

    def zstd_handler(body: bytes):
        async def handler(_: web.Request) -> web.Response:
            return web.Response(body=body, headers={"Content-Encoding": "zstd", "Content-Type": "text/html"})

        return handler

    site.route("z.test", "/", zstd_handler(zstd(page)))
    site.route("z.test", "/bomb", zstd_handler(zstd(bytes(64 * MIB))))
    r = await crawl(
        start_urls=[site.url("z.test")], resolve=site.pin("z.test"), max_bytes=MIB, ignore_robots=True, **fields
    )
    home, bomb = r.by_url[site.url("z.test")], r.by_url[site.url("z.test", "/bomb")]
    assert home["title"] == "zstd page" and (r.out / home["path"]).read_bytes() == page
    assert bomb["error"]["kind"] == "too_large"
