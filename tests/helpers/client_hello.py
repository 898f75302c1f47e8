"""A TLS ClientHello read off the wire and its JA3 and JA4 fingerprints (what bot filters compare).

JA4 (FoxIO) is ``t<version><d|i><ciphers><extensions><alpn>_<ciphers hash>_<extensions hash>``;
unlike JA3 it sorts ciphers and extensions, so Chrome's shuffled extension order (since Chrome 110)
gives one JA4 where every connection has its own JA3 hash: tests compare JA4. GREASE values
(RFC 8701) are left out of both, as the specifications say.
"""

from __future__ import annotations

import asyncio
import hashlib
import struct
from dataclasses import asdict, dataclass

HANDSHAKE = 22
CLIENT_HELLO = 1
SNI, ALPN = 0x0000, 0x0010
VERSIONS = {0x0304: "13", 0x0303: "12", 0x0302: "11", 0x0301: "10", 0x0300: "s3", 0x0002: "s2"}


def is_grease(value: int) -> bool:
    """0x0A0A, 0x1A1A, … 0xFAFA: values clients send to keep servers tolerant (RFC 8701)."""
    return (value & 0x0F0F) == 0x0A0A and (value >> 8) == (value & 0xFF)


@dataclass
class ClientHello:
    """The fields fingerprints are made of, in the order the client sent them."""

    version: int  # legacy_version (0x0303 for TLS 1.2 and 1.3)
    ciphers: list[int]
    extensions: list[int]
    groups: list[int]  # supported_groups (10)
    point_formats: list[int]  # ec_point_formats (11)
    signature_algorithms: list[int]  # (13)
    alpn: list[str]  # (16)
    versions: list[int]  # supported_versions (43)
    sni: str | None  # server_name (0)


@dataclass
class Fingerprint:
    ja4: str
    ja3: str  # the MD5 of ``ja3_string``, as JA3 is usually quoted
    ja3_string: str
    alpn: list[str]  # the protocols the client offered
    sni: str | None
    tls_version: str  # as negotiated ("TLSv1.3"), when known

    def as_json(self) -> dict[str, object]:
        return asdict(self)


async def read_client_hello(reader: asyncio.StreamReader) -> bytes:
    """The TLS records that carry the ClientHello, exactly as received (they may be several)."""
    raw, message = b"", b""
    while len(message) < 4 or len(message) < 4 + int.from_bytes(message[1:4], "big"):
        header = await reader.readexactly(5)
        if header[0] != HANDSHAKE:
            raise ValueError("not a TLS handshake")
        body = await reader.readexactly(int.from_bytes(header[3:5], "big"))
        raw, message = raw + header + body, message + body
    return raw


def parse_client_hello(records: bytes) -> ClientHello:
    """The ClientHello in ``records`` (TLS handshake records); ValueError if it is none."""
    message = b""
    while records:
        if len(records) < 5 or records[0] != HANDSHAKE:
            raise ValueError("not a TLS handshake record")
        n = int.from_bytes(records[3:5], "big")
        message, records = message + records[5 : 5 + n], records[5 + n :]
    if not message or message[0] != CLIENT_HELLO:
        raise ValueError("not a ClientHello")
    try:
        return _fields(message[4 : 4 + int.from_bytes(message[1:4], "big")])
    except (struct.error, IndexError, UnicodeDecodeError) as e:
        raise ValueError(f"malformed ClientHello: {e}") from None


def _u16s(data: bytes) -> list[int]:
    return list(struct.unpack(f"!{len(data) // 2}H", data[: len(data) // 2 * 2]))


def _fields(body: bytes) -> ClientHello:
    (version,) = struct.unpack("!H", body[:2])
    p = 2 + 32  # legacy_version, random
    p += 1 + body[p]  # session id
    n = int.from_bytes(body[p : p + 2], "big")
    hello = ClientHello(version, _u16s(body[p + 2 : p + 2 + n]), [], [], [], [], [], [], None)
    p += 2 + n
    p += 1 + body[p]  # compression methods
    end = p + 2 + int.from_bytes(body[p : p + 2], "big")
    p += 2
    while p < end:
        kind, n = struct.unpack("!HH", body[p : p + 4])
        data = body[p + 4 : p + 4 + n]
        p += 4 + n
        hello.extensions.append(kind)
        if kind == SNI and n > 5:
            hello.sni = data[5:].decode("ascii")
        elif kind == 10:
            hello.groups = _u16s(data[2:])
        elif kind == 11:
            hello.point_formats = list(data[1:])
        elif kind == 13:
            hello.signature_algorithms = _u16s(data[2:])
        elif kind == ALPN:
            q = 2
            while q < n:
                hello.alpn.append(data[q + 1 : q + 1 + data[q]].decode("latin-1"))
                q += 1 + data[q]
        elif kind == 43:
            hello.versions = _u16s(data[1:])
    return hello


def ja3(hello: ClientHello) -> tuple[str, str]:
    """The JA3 string (version, ciphers, extensions, groups, point formats) and its MD5."""

    def join(values: list[int]) -> str:
        return "-".join(str(v) for v in values if not is_grease(v))

    text = ",".join(
        [str(hello.version), *map(join, [hello.ciphers, hello.extensions, hello.groups, hello.point_formats])]
    )
    return text, hashlib.md5(text.encode()).hexdigest()


def ja4(hello: ClientHello) -> str:
    """JA4 of a ClientHello over TCP (FoxIO's specification)."""
    ciphers = [c for c in hello.ciphers if not is_grease(c)]
    extensions = [e for e in hello.extensions if not is_grease(e)]
    versions = [v for v in hello.versions if not is_grease(v)] or [hello.version]
    a = (
        f"t{VERSIONS.get(max(versions), '00')}{'d' if hello.sni is not None else 'i'}"
        f"{min(len(ciphers), 99):02d}{min(len(extensions), 99):02d}{_alpn_chars(hello.alpn)}"
    )
    b = _hash12(",".join(f"{c:04x}" for c in sorted(ciphers)))
    listed = ",".join(f"{e:04x}" for e in sorted(e for e in extensions if e not in (SNI, ALPN)))
    algorithms = ",".join(f"{s:04x}" for s in hello.signature_algorithms)  # in the client's order
    c = _hash12(f"{listed}_{algorithms}" if algorithms else listed)
    return f"{a}_{b}_{c}"


def _alpn_chars(alpn: list[str]) -> str:
    """First and last character of the first ALPN value ("h2", "h1" for http/1.1; "00": none)."""
    if not alpn or not alpn[0]:
        return "00"
    first = alpn[0]
    if first[0].isascii() and first[0].isalnum() and first[-1].isascii() and first[-1].isalnum():
        return first[0] + first[-1]
    hexed = first.encode("latin-1").hex()
    return hexed[0] + hexed[-1]


def _hash12(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12] if text else "000000000000"


def fingerprint(records: bytes, tls_version: str = "") -> Fingerprint:
    """JA4 and JA3 of the ClientHello in ``records``."""
    hello = parse_client_hello(records)
    text, digest = ja3(hello)
    return Fingerprint(ja4(hello), digest, text, hello.alpn, hello.sni, tls_version)
