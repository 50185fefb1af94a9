"""What the client's tests stand on: the platform served by a real uvicorn on loopback, which a test
stops and starts again on the same port and database; a TCP proxy in front of it that drops
connections after a chosen number of bytes; and an organisation's client folder (keys, certificates,
configuration) made from a test hub's enrolment."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import uvicorn
from cryptography.hazmat.primitives import serialization

from aedx.accounts import clients
from aedx.api.app import create_app
from aedx.client.config import FOLDERS, dumps
from aedx.exchange.platform import Platform
from aedx.sim.network import Keys
from aedx.trust.pki import Usage, pem
from tests.exchange.hub import Hub


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """The hub's platform, served with its in-process worker; ``restart`` stops it (open
    connections are cut) and serves a new platform of the same settings on the same port."""

    def __init__(self, hub: Hub) -> None:
        self.settings = hub.platform.settings
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.platform: Platform | None = None
        self.server: uvicorn.Server | None = None
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        self.platform = Platform(self.settings)
        config = uvicorn.Config(
            create_app(self.platform, inline_worker=True),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            timeout_graceful_shutdown=1,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        assert self.server.started

    def stop(self) -> None:
        if self.server is not None and self.thread is not None:
            self.server.should_exit = True
            self.thread.join(timeout=30)
            assert not self.thread.is_alive()
        if self.platform is not None:
            self.platform.close()
        self.server = self.thread = self.platform = None

    def restart(self) -> None:
        self.stop()
        self.start()


@dataclass
class Proxy:
    """Forwards loopback connections to ``target``. ``cuts`` are byte counts: the next connection
    that carries more than the first of them (either way) is cut there, the next one at the second,
    and so on; connections after the list are left whole."""

    target: int
    cuts: list[int] = field(default_factory=list)
    restart_at: set[int] = field(default_factory=set)  # the n-th cut (from 1) also restarts the server
    on_restart: Callable[[], None] | None = None
    port: int = 0
    dropped: int = 0

    def __post_init__(self) -> None:
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = int(self.listener.getsockname()[1])
        self.lock = threading.Lock()
        self.closed = False
        self.restarts = 0
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self.closed = True
        self.listener.close()

    def _accept(self) -> None:
        while not self.closed:
            try:
                downstream, _ = self.listener.accept()
            except OSError:
                return
            with self.lock:
                cut = self.cuts.pop(0) if self.cuts else None
            threading.Thread(target=self._serve, args=(downstream, cut), daemon=True).start()

    def _serve(self, downstream: socket.socket, cut: int | None) -> None:
        try:
            upstream = socket.create_connection(("127.0.0.1", self.target), timeout=30)
        except OSError:
            downstream.close()
            return
        budget = [cut]  # bytes left before the cut, shared by both directions
        counted: list[bool] = []
        done = threading.Event()

        def pump(a: socket.socket, b: socket.socket) -> None:
            try:
                while not done.is_set():
                    data = a.recv(65536)
                    if not data:
                        break
                    with self.lock:
                        left = budget[0]
                        if left is not None:
                            if len(data) >= left:
                                data, budget[0] = data[:left], 0
                            else:
                                budget[0] = left - len(data)
                    if data:
                        b.sendall(data)
                    if budget[0] == 0:
                        with self.lock:
                            first = not counted  # both directions reach the cut; count it once
                            counted.append(True)
                            if first:
                                self.dropped += 1
                            restart = first and self.dropped in self.restart_at
                            restart = restart and self.on_restart is not None
                        if restart:
                            for s in (a, b):
                                with contextlib.suppress(OSError):
                                    s.shutdown(socket.SHUT_RDWR)
                            assert self.on_restart is not None
                            self.on_restart()
                            with self.lock:
                                self.restarts += 1
                        break
            except OSError:
                pass
            finally:
                done.set()
                for s in (a, b):
                    with contextlib.suppress(OSError):
                        s.shutdown(socket.SHUT_RDWR)
                    s.close()

        threading.Thread(target=pump, args=(upstream, downstream), daemon=True).start()
        pump(downstream, upstream)


def install_keys(hub: Hub, org: str, keys: Path) -> Keys:
    """The organisation's API client key, signing and encryption keys and certificates, written as
    its administrator would (keys mode 0600)."""
    keys.mkdir(parents=True, exist_ok=True)

    def write(name: str, data: bytes) -> Path:
        path = keys / name
        path.touch(mode=0o600)
        path.chmod(0o600)
        path.write_bytes(data)
        return path

    def rsa_pem(usage: Usage) -> bytes:
        return hub.identities[org, usage].key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    return Keys(
        client_id=hub.client_ids[org],
        oauth_key=write("oauth.key", clients.private_key_pem(hub.keys[org])),
        signing_key=write("signing.key", rsa_pem(Usage.SIGNING)),
        signing_certificate=write("signing.pem", pem(hub.identities[org, Usage.SIGNING].certificate)),
        encryption_key=write("encryption.key", rsa_pem(Usage.ENCRYPTION)),
        encryption_certificate=write(
            "encryption.pem", pem(hub.identities[org, Usage.ENCRYPTION].certificate)
        ),
    )


def client_folder(hub: Hub, org: str, folder: Path, url: str, *, extra: str = "", attempts: int = 40) -> Path:
    """A configuration that reads every referral, payment and feedback file of the outbox, with the
    organisation's keys; ``extra`` is further TOML of top-level settings."""
    keys = install_keys(hub, org, folder / "keys")
    config = folder / "aedx-client.toml"
    values = {
        "organisation": org,
        "client_id": keys.client_id,
        "platform_url": url,
        "oauth_key": keys.oauth_key,
        "timeout_seconds": 20,
        **tomllib.loads(extra),
        "signing": {"key": keys.signing_key, "certificate": "keys/signing.pem"},
        "encryption": {"key": keys.encryption_key, "certificate": keys.encryption_certificate},
        "folders": {name: name for name in FOLDERS},
        "files": [
            {"pattern": "referral-*.csv", "kind": "case_referral"},
            {"pattern": "payment-*.csv", "kind": "payment"},
            {"pattern": "feedback-*.csv", "kind": "status_feedback"},
        ],
        "schedule": {"every": "10m", "settle_seconds": 0.05, "poll_timeout_seconds": 60},
        "retry": {"attempts": attempts, "base_seconds": 0.05, "cap_seconds": 1},
    }
    config.write_text(dumps(values), encoding="utf-8")
    return config
