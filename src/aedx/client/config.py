"""The client's one configuration file (TOML). Relative paths are read from the file's folder.

```toml
organisation = "A383000000"
client_id = "c_..."
platform_url = "https://aedx.example.gov.tw"
oauth_key = "keys/oauth.key"              # the API client's private key (PEM, mode 0600)

[signing]                                  # files are signed with it
key = "keys/signing.key"
certificate = "keys/signing.pem"

[encryption]                               # packages are enveloped to it
key = "keys/encryption.key"
certificate = "keys/encryption.pem"

[folders]
outbox = "outbox"
sent = "sent"
rejected = "rejected"
inbox = "inbox"
state = "state"

[[files]]                                  # the first pattern that matches a file name wins
pattern = "*referral*.csv"
kind = "case_referral"
format = "csv"
encoding = "utf-8"

[schedule]
every = "10m"
```
"""

from __future__ import annotations

import fnmatch
import functools
import json
import os
import re
import stat
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from aedx.trust.assertions import PrivateKey

KINDS = ("case_referral", "payment", "status_feedback")
FORMATS = ("csv", "fixed", "jsonl")
ENCODINGS = ("utf-8", "cp950", "big5")
FOLDERS = ("outbox", "sent", "rejected", "inbox", "state")
DURATION = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$")
UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


class ConfigError(Exception):
    """A wrong configuration, said in Chinese and English."""

    def __init__(self, message_zh: str, message_en: str) -> None:
        super().__init__(f"{message_zh} / {message_en}")
        self.message_zh = message_zh
        self.message_en = message_en


@dataclass(frozen=True)
class FileRule:
    pattern: str
    kind: str
    format: str
    encoding: str


@dataclass(frozen=True)
class Retry:
    attempts: int = 8  # tries of one request before giving up
    base: float = 0.5  # seconds before the first retry; doubled each time, with jitter
    cap: float = 30.0  # at most this long between two tries


@dataclass(frozen=True)
class Config:
    path: Path
    organisation: str
    client_id: str
    platform_url: str
    oauth_key: Path
    signing_key: Path
    signing_certificate: Path
    encryption_key: Path
    encryption_certificate: Path
    outbox: Path
    sent: Path
    rejected: Path
    inbox: Path
    state: Path
    files: tuple[FileRule, ...]
    every: int = 600  # seconds between two runs of ``sync``
    settle: float = 2.0  # a file is complete when its size and time are unchanged this long
    poll_timeout: float = 300.0  # how long ``push`` waits for the platform's decision on a file
    chunk_threshold: int = 8 << 20  # files larger than this are sent in chunks (resumable)
    chunk_size: int = 4 << 20
    retry: Retry = field(default_factory=Retry)
    timeout: float = 60.0  # seconds of one HTTP request

    def rule(self, name: str) -> FileRule | None:
        return next((r for r in self.files if fnmatch.fnmatchcase(name, r.pattern)), None)

    def folders(self) -> dict[str, Path]:
        return {n: getattr(self, n) for n in FOLDERS}

    def make_folders(self) -> None:
        for folder in self.folders().values():
            folder.mkdir(parents=True, exist_ok=True)
        self.state.chmod(0o700)

    def oauth_private_key(self) -> PrivateKey:
        key = read_key(self.oauth_key)
        if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            raise ConfigError(
                f"{self.oauth_key} 須為 RSA 或 EC 私鑰", f"{self.oauth_key} must be an RSA or EC key"
            )
        return key

    def rsa_key(self, path: Path) -> rsa.RSAPrivateKey:
        key = read_key(path)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ConfigError(f"{path} 須為 RSA 私鑰", f"{path} must be an RSA private key")
        return key


def dumps(data: dict[str, Any]) -> str:
    """A configuration as TOML text, for the tools that write one (``load`` reads it back): plain
    values first, then each table, then each array of tables."""

    def value(v: object) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int | float):
            return repr(v)
        if isinstance(v, str | Path):
            return json.dumps(str(v), ensure_ascii=False)  # a JSON string is a TOML basic string
        raise TypeError(f"{type(v).__name__} is not a configuration value")

    def lines(table: dict[str, Any]) -> list[str]:
        return [f"{k} = {value(v)}" for k, v in table.items() if not isinstance(v, dict | list)]

    out = lines(data)
    for key, v in data.items():
        if isinstance(v, dict):
            out += ["", f"[{key}]", *lines(v)]
        elif isinstance(v, list):
            for item in v:
                out += ["", f"[[{key}]]", *lines(item)]
    return "\n".join(out) + "\n"


def parse_duration(value: object, what: str) -> int:
    """``600``, ``"90s"``, ``"10m"``, ``"1h"`` → seconds."""
    m = DURATION.match(str(value))
    if m is None or int(m.group(1)) <= 0:
        raise ConfigError(
            f"{what} 須為正數時間，如 10m、90s、1h（收到 {value!r}）",
            f"{what} must be a positive duration such as 10m, 90s or 1h (got {value!r})",
        )
    return int(m.group(1)) * UNITS[m.group(2)]


def read_key(path: Path) -> Any:
    """A private key from a PEM file that only its owner may read."""
    try:
        mode = path.stat().st_mode
    except OSError:
        raise ConfigError(f"找不到金鑰檔 {path}", f"the key file {path} cannot be read") from None
    if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"金鑰檔 {path} 僅限擁有者讀取（chmod 600）",
            f"the key file {path} must be readable by its owner only (chmod 600)",
        )
    try:
        return _parsed_key(path.read_bytes())
    except (ValueError, TypeError):
        raise ConfigError(
            f"金鑰檔 {path} 不是 PEM 私鑰", f"the key file {path} is not a PEM private key"
        ) from None


@functools.lru_cache(maxsize=256)
def _parsed_key(pem: bytes) -> Any:
    """Parsing checks an RSA key in full (tens of ms): a process parses each key file once (a
    server holding many offices' clients holds two or three keys for each)."""
    return serialization.load_pem_private_key(pem, password=None)


def read_certificate(path: Path) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except OSError:
        raise ConfigError(f"找不到憑證檔 {path}", f"the certificate file {path} cannot be read") from None
    except ValueError:
        raise ConfigError(f"憑證檔 {path} 不是 PEM 憑證", f"{path} is not a PEM certificate") from None


def load(path: str | Path) -> Config:
    """The configuration, checked: every missing or wrong setting is a ``ConfigError``."""
    path = Path(path).resolve()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError:
        raise ConfigError(f"無法讀取設定檔 {path}", f"the configuration file {path} cannot be read") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(
            f"設定檔 {path} 格式錯誤：{e}", f"the configuration file {path} is not TOML: {e}"
        ) from None
    try:
        return parse(data, path)
    except (ValueError, TypeError) as e:  # a number that is not one
        raise ConfigError(f"設定檔 {path} 之數值錯誤：{e}", f"a number in {path} is wrong: {e}") from None


def parse(data: dict[str, Any], path: Path) -> Config:
    here = path.parent

    def text(table: dict[str, Any], key: str, where: str = "") -> str:
        value = table.get(key)
        name = f"{where}{key}"
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"設定缺少 {name}（文字）", f"the setting {name} (text) is missing")
        return value.strip()

    def file(table: dict[str, Any], key: str, where: str = "") -> Path:
        return (here / text(table, key, where)).resolve()

    def section(key: str) -> dict[str, Any]:
        value = data.get(key, {})
        if not isinstance(value, dict):
            raise ConfigError(f"設定 [{key}] 須為表格", f"the setting [{key}] must be a table")
        return value

    url = text(data, "platform_url")
    if not url.startswith(("https://", "http://")):
        raise ConfigError(
            f"platform_url 須以 https:// 開頭（收到 {url}）",
            f"platform_url must start with https:// (got {url})",
        )
    signing, encryption, folders, schedule = (
        section(k) for k in ("signing", "encryption", "folders", "schedule")
    )
    rules = data.get("files", [])
    if not isinstance(rules, list) or not rules:
        raise ConfigError(
            "設定須有至少一個 [[files]]（檔名樣式與種類）",
            "the configuration needs at least one [[files]] entry (file name pattern and kind)",
        )
    files = []
    for i, r in enumerate(rules):
        where = f"files[{i}]."
        if not isinstance(r, dict):
            raise ConfigError(f"{where} 須為表格", f"{where} must be a table")
        rule = FileRule(
            text(r, "pattern", where),
            text(r, "kind", where),
            str(r.get("format", "csv")),
            str(r.get("encoding", "utf-8")),
        )
        for value, allowed, name in (
            (rule.kind, KINDS, "kind"),
            (rule.format, FORMATS, "format"),
            (rule.encoding, ENCODINGS, "encoding"),
        ):
            if value not in allowed:
                raise ConfigError(
                    f"{where}{name} 須為 {'、'.join(allowed)} 之一（收到 {value}）",
                    f"{where}{name} must be one of {', '.join(allowed)} (got {value})",
                )
        files.append(rule)
    folder_paths = {n: (here / str(folders.get(n, n))).resolve() for n in FOLDERS}
    retry = section("retry")
    config = Config(
        path=path,
        organisation=text(data, "organisation"),
        client_id=text(data, "client_id"),
        platform_url=url.rstrip("/"),
        oauth_key=file(data, "oauth_key"),
        signing_key=file(signing, "key", "signing."),
        signing_certificate=file(signing, "certificate", "signing."),
        encryption_key=file(encryption, "key", "encryption."),
        encryption_certificate=file(encryption, "certificate", "encryption."),
        files=tuple(files),
        every=parse_duration(schedule.get("every", "10m"), "schedule.every"),
        settle=float(schedule.get("settle_seconds", 2.0)),
        poll_timeout=float(schedule.get("poll_timeout_seconds", 300.0)),
        chunk_threshold=int(data.get("chunk_threshold_bytes", 8 << 20)),
        chunk_size=int(data.get("chunk_bytes", 4 << 20)),
        retry=Retry(
            int(retry.get("attempts", 8)),
            float(retry.get("base_seconds", 0.5)),
            float(retry.get("cap_seconds", 30)),
        ),
        timeout=float(data.get("timeout_seconds", 60.0)),
        **folder_paths,
    )
    if config.chunk_size < 64 << 10 or config.chunk_threshold < 0 or config.retry.attempts < 1:
        raise ConfigError(
            "chunk_bytes 至少 65536、chunk_threshold_bytes 不得為負、retry.attempts 至少 1",
            "chunk_bytes must be 65536 or more, chunk_threshold_bytes not negative, retry.attempts 1 or more",
        )
    if config.settle < 0 or config.poll_timeout < 0 or config.timeout <= 0:
        raise ConfigError(
            "settle_seconds、poll_timeout_seconds 不得為負，timeout_seconds 須為正",
            "settle_seconds and poll_timeout_seconds must not be negative, timeout_seconds must be positive",
        )
    if len(set(folder_paths.values())) != len(folder_paths):
        raise ConfigError("各資料夾須互不相同", "the folders must all be different")
    for key in (config.oauth_key, config.signing_key, config.encryption_key):
        read_key(key)
    for cert in (config.signing_certificate, config.encryption_certificate):
        read_certificate(cert)
    return config
