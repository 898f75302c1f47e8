"""A test CA (trustme) and a server certificate for 127.0.0.1 / localhost / *.test, written to a temp dir."""

from __future__ import annotations

import ssl
import tempfile
from pathlib import Path

import trustme


def make_ca(
    names: tuple[str, ...] = ("127.0.0.1", "localhost", "h2.test", "ja3.test"),
) -> tuple[Path, trustme.LeafCert, trustme.CA]:
    ca = trustme.CA()
    leaf = ca.issue_cert(*names)
    d = Path(tempfile.mkdtemp(prefix="t28-ca-"))
    ca_pem = d / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_pem))
    return ca_pem, leaf, ca


def server_context(leaf: trustme.LeafCert, alpn: list[str] | None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    leaf.configure_cert(ctx)
    if alpn:
        ctx.set_alpn_protocols(alpn)
    return ctx
