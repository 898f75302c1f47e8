"""A real ``redis-server`` (Debian's) on a free loopback port (``tests.helpers.ports``), for the
shared-job tests.

The server runs in a temporary directory with append-only persistence, so a test can kill it and
start it again on the same port and data, as an operator restarting Redis would.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import redis

from tests.helpers.ports import free_port


class RedisServer:
    """``start()``, ``kill()`` (SIGKILL), ``start()`` again: same port, same data."""

    def __init__(self, workdir: Path, password: str | None = None, tls: bool = False) -> None:
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.password = password
        self.ca_file: Path | None = None  # with ``tls``: the CA that signed the server's certificate
        self.proc: subprocess.Popen[bytes] | None = None
        self._tls_args: list[str] = []
        if tls:
            import trustme

            ca = trustme.CA()
            self.ca_file, cert, key = self.dir / "ca.pem", self.dir / "server.pem", self.dir / "server.key"
            ca.cert_pem.write_to_path(str(self.ca_file))
            issued = ca.issue_cert("127.0.0.1")
            issued.cert_chain_pems[0].write_to_path(str(cert))
            issued.private_key_pem.write_to_path(str(key))
            self._tls_args = [
                "--port",
                "0",
                "--tls-port",
                str(self.port),
                "--tls-cert-file",
                str(cert),
                "--tls-key-file",
                str(key),
                "--tls-ca-cert-file",
                str(self.ca_file),
                "--tls-auth-clients",
                "no",
            ]

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"{'rediss' if self.ca_file else 'redis'}://{auth}127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is missing: apt-get install redis-server (.ci/run does)"
        args = [
            binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.dir),
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--save",
            "",
            "--daemonize",
            "no",
        ]
        if self.password:
            args += ["--requirepass", self.password]
        self.proc = subprocess.Popen(args + self._tls_args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = self._client(socket_timeout=1)
        for _ in range(200):  # bounded: up to about 10 s for the server to answer
            try:
                if client.ping():
                    break
            except redis.ConnectionError:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"redis-server exited with {self.proc.returncode}") from None
                time.sleep(0.05)
        else:
            raise RuntimeError("redis-server did not answer within 10 s")
        client.close()

    def client(self) -> redis.Redis:
        return self._client(decode_responses=True)

    def _client(self, **kw: object) -> redis.Redis:
        tls = {"ssl": True, "ssl_ca_certs": str(self.ca_file)} if self.ca_file else {}
        return redis.Redis(host="127.0.0.1", port=self.port, password=self.password, **tls, **kw)  # type: ignore[arg-type]

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None
