"""The platform as the client reaches it: access tokens from ``/oauth/token`` (``private_key_jwt``),
the platform's certificates pinned in the state folder on first contact, and every request retried
with exponential backoff and jitter on connection errors, timeouts, 5xx and 429."""

from __future__ import annotations

import datetime as dt
import functools
import random
import ssl
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from cryptography import x509

from aedx.client.config import Config, Retry
from aedx.client.files import write_durably
from aedx.trust.assertions import PrivateKey, make_assertion
from aedx.trust.pki import PkiError, verify_chain

TOKEN_PATH = "/oauth/token"  # noqa: S105 - a path, not a secret
GRANT_TYPE = "client_credentials"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
REFRESH_BEFORE = dt.timedelta(seconds=60)
PUBLISHED = ("root", "issuing", "platform-signing", "platform-encryption")
RETRIED = {429, 500, 502, 503, 504}


class PlatformError(Exception):
    """The platform answered with an error that a retry does not mend, or could not be reached."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class Unreachable(PlatformError):
    """The retries ran out: connection errors, timeouts, 5xx or 429 each time."""


def backoff(retry: Retry, attempt: int, rng: random.Random) -> float:
    """Full jitter: a random wait up to ``base * 2**attempt``, at most ``cap``."""
    return rng.uniform(0, min(retry.cap, retry.base * (2**attempt)))


@functools.cache
def _tls() -> ssl.SSLContext:
    """One TLS context for every connection of a process: loading the trusted roots takes tens of
    milliseconds, too long to repeat for each run of a client."""
    return httpx.create_ssl_context()


class Platform:
    def __init__(
        self,
        config: Config,
        *,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.config = config
        self.key: PrivateKey = config.oauth_private_key()
        self.http = httpx.Client(
            base_url=config.platform_url, timeout=config.timeout, transport=transport, verify=_tls()
        )
        self.sleep = sleep
        self.rng = random.Random()  # noqa: S311 - jitter, not a secret
        self._token: str | None = None
        self._until = dt.datetime.min.replace(tzinfo=dt.UTC)
        self.retries = 0  # requests tried again, for the logs

    def close(self) -> None:
        self.http.close()

    # -- certificates --------------------------------------------------------------------------

    def certificates(self) -> dict[str, x509.Certificate]:
        """The platform's published certificates, fetched once and kept (pinned) in the state
        folder; the platform's signing and encryption certificates must chain to its root."""
        folder = self.config.state / "platform"
        found: dict[str, x509.Certificate] = {}
        if all((folder / f"{n}.pem").exists() for n in PUBLISHED):
            for n in PUBLISHED:
                found[n] = x509.load_pem_x509_certificate((folder / f"{n}.pem").read_bytes())
            return found
        fetched = {
            n: self.request("GET", f"/api/v1/trust/certificates/{n}", auth=False).content for n in PUBLISHED
        }
        for n, pem in fetched.items():
            found[n] = x509.load_pem_x509_certificate(pem)
        for n in ("platform-signing", "platform-encryption"):
            try:
                verify_chain(found[n], [found["root"]], [found["issuing"]])
            except PkiError as e:
                raise PlatformError(
                    f"the platform's {n} certificate does not chain to its root: {e}"
                ) from None
        folder.mkdir(parents=True, exist_ok=True)
        for n, pem in fetched.items():
            write_durably(folder / f"{n}.pem", pem)
        return found

    # -- requests ------------------------------------------------------------------------------

    def token(self) -> str:
        now = dt.datetime.now(dt.UTC)
        if self._token is None or now >= self._until - REFRESH_BEFORE:
            audience = self.config.platform_url + TOKEN_PATH

            def form() -> dict[str, Any]:  # an assertion is accepted once: a new one for each try
                return {
                    "data": {
                        "grant_type": GRANT_TYPE,
                        "client_assertion_type": ASSERTION_TYPE,
                        "client_assertion": make_assertion(self.config.client_id, self.key, audience),
                    }
                }

            body = self.request("POST", TOKEN_PATH, auth=False, each=form).json()
            self._token = str(body["access_token"])
            self._until = now + dt.timedelta(seconds=int(body["expires_in"]))
        return self._token

    def request(
        self,
        method: str,
        path: str,
        *,
        auth: bool = True,
        each: Callable[[], dict[str, Any]] | None = None,
        ok: tuple[int, ...] = (),
        headers: dict[str, str] | None = None,
        **kw: Any,
    ) -> httpx.Response:
        """The answer to one request, tried again after a pause on what a retry may mend; a new
        token when the old one is refused. ``each`` makes arguments anew for every try."""
        retry = self.config.retry
        renewed = False
        last = ""
        for attempt in range(retry.attempts):
            sent = dict(headers or {})
            if auth:
                sent["Authorization"] = f"Bearer {self.token()}"
            try:
                more = each() if each is not None else {}
                response = self.http.request(method, path, headers=sent, **kw, **more)
            except httpx.TransportError as e:  # connection refused or dropped, timeouts
                last = f"{type(e).__name__}: {e}"
            else:
                if response.status_code == 401 and auth and not renewed:
                    self._token, renewed = None, True
                    continue
                if response.status_code in RETRIED:
                    last = f"{response.status_code} {response.text[:200]}"
                    wait = _retry_after(response)
                    if wait is not None and attempt + 1 < retry.attempts:
                        self.retries += 1
                        self.sleep(min(wait, retry.cap))
                        continue
                elif response.status_code >= 400 and response.status_code not in ok:
                    raise PlatformError(
                        f"{method} {path}: {response.status_code} {_message(response)}", response.status_code
                    )
                else:
                    return response
            if attempt + 1 < retry.attempts:
                self.retries += 1
                self.sleep(backoff(retry, attempt, self.rng))
        raise Unreachable(f"{method} {path}: gave up after {retry.attempts} tries ({last})")

    def download(self, path: str, target: Path) -> None:
        """A large answer streamed to ``target``, with the same retries."""
        retry = self.config.retry
        last = ""
        for attempt in range(retry.attempts):
            try:
                with self.http.stream(
                    "GET", path, headers={"Authorization": f"Bearer {self.token()}"}
                ) as response:
                    if response.status_code < 400:
                        with target.open("wb") as out:
                            for chunk in response.iter_bytes(1 << 20):
                                out.write(chunk)
                        return
                    response.read()
                    if response.status_code == 401:
                        self._token = None
                    elif response.status_code not in RETRIED:
                        raise PlatformError(
                            f"GET {path}: {response.status_code} {_message(response)}", response.status_code
                        )
                    last = str(response.status_code)
            except httpx.TransportError as e:
                last = f"{type(e).__name__}: {e}"
            if attempt + 1 < retry.attempts:
                self.retries += 1
                self.sleep(backoff(retry, attempt, self.rng))
        raise Unreachable(f"GET {path}: gave up after {retry.attempts} tries ({last})")


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _message(response: httpx.Response) -> str:
    try:
        error = response.json()["error"]
        return f"{error['code']}: {error['message_en']}"
    except (ValueError, KeyError, TypeError):
        return response.text[:200]
