"""Real proxy servers for tests: Debian's tinyproxy (HTTP, CONNECT), squid (HTTP, CONNECT; the
forward proxy most companies run) and microsocks (SOCKS5), and pproxy from PyPI (HTTP; answers a
wrong password with a standard 407, where tinyproxy sends 401).

tinyproxy, squid and microsocks bind their outgoing connections to their own loopback address, so
the target server sees which proxy a request came through in ``request.remote``.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from tests.helpers.ports import free_port

# pproxy dies at start-up when uvloop is importable; make the import fail in its process.
PPROXY = (
    "import runpy, sys; sys.modules['uvloop'] = None; sys.argv[0] = 'pproxy'; "
    "runpy.run_module('pproxy', run_name='__main__')"
)

# No cache, no log, no pid file, no ICMP helper: only the proxy (its files would need a directory
# its unprivileged user can write).
SQUID = """http_port 127.0.0.1:{port}
tcp_outgoing_address {source}
http_access allow all
cache deny all
access_log none
cache_log /dev/null
pid_filename none
pinger_enable off
shutdown_lifetime 0 seconds
"""


@dataclass
class ProxyServer:
    kind: str  # "http" (tinyproxy), "squid", "pproxy" (HTTP), "pproxy-tls" (HTTP over TLS) or "socks5" (microsocks)
    port: int
    source: str  # the loopback address its outgoing connections come from
    user: str | None
    password: str | None
    proc: asyncio.subprocess.Process | None = None

    @property
    def scheme(self) -> str:
        return {"socks5": "socks5", "pproxy-tls": "https"}.get(self.kind, "http")

    def url(self, password: str | None = None) -> str:
        scheme = self.scheme
        pw = self.password if password is None else password
        auth = f"{quote(self.user, safe='')}:{quote(pw or '', safe='')}@" if self.user else ""
        return f"{scheme}://{auth}127.0.0.1:{self.port}"

    @property
    def id(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def kill(self) -> None:
        if self.proc and self.proc.returncode is None:
            self.proc.kill()


async def start_proxy(
    kind: str, source: str, tmp: Path, user: str | None = None, password: str | None = None, tls_pem: Path | None = None
) -> ProxyServer:
    """Start tinyproxy (``http``), squid (``squid``, no credentials), pproxy (``pproxy``;
    ``pproxy-tls`` serves TLS with ``tls_pem``, key then certificate) or microsocks (``socks5``)
    and wait until it accepts connections."""
    server = ProxyServer(kind, free_port(), source, user, password)
    if kind == "http":
        conf = tmp / f"tinyproxy-{server.port}.conf"
        lines = [
            f"Port {server.port}",
            "Listen 127.0.0.1",
            f"Bind {source}",
            "Timeout 30",
            "MaxClients 200",
            "Allow 127.0.0.1",
            "DisableViaHeader Yes",
            "LogLevel Critical",
        ]
        if user:
            lines.append(f"BasicAuth {user} {password}")
        conf.write_text("\n".join(lines) + "\n")
        cmd = ["tinyproxy", "-d", "-c", str(conf)]
    elif kind == "squid":
        conf = tmp / f"squid-{server.port}.conf"
        conf.write_text(SQUID.format(port=server.port, source=source))
        cmd = ["/usr/sbin/squid", "-N", "-f", str(conf)]  # -N: in the foreground, killed with the test
    elif kind in ("pproxy", "pproxy-tls"):
        auth = f"#{user}:{password}" if user else ""
        scheme = "http+ssl" if kind == "pproxy-tls" else "http"
        cmd = [sys.executable, "-c", PPROXY, "-l", f"{scheme}://127.0.0.1:{server.port}{auth}"]
        if tls_pem is not None:
            cmd += ["--ssl", str(tls_pem)]
    else:
        cmd = ["microsocks", "-i", "127.0.0.1", "-p", str(server.port), "-b", source]
        if user:
            cmd += ["-u", user, "-P", password or ""]
    if cmd[0] != sys.executable and not shutil.which(cmd[0]):
        raise RuntimeError(f"{cmd[0]} is not installed: apt-get install tinyproxy squid microsocks (.ci/run does)")
    server.proc = await asyncio.create_subprocess_exec(
        *cmd, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
    )
    deadline = time.monotonic() + 30  # readiness: stops as soon as the port answers
    while time.monotonic() < deadline:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.close()
            return server
        except OSError:
            if server.proc.returncode is not None:
                raise RuntimeError(f"{cmd[0]} exited at start") from None
            await asyncio.sleep(0.01)
    raise RuntimeError(f"{cmd[0]} did not start listening within 30 s")
