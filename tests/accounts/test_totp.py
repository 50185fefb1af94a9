"""TOTP against RFC 6238's own test vectors, the acceptance window, and the sealed secret."""

from __future__ import annotations

import datetime as dt
import urllib.parse
from pathlib import Path

import pytest

from aedx.accounts import totp
from aedx.settings import Settings

RFC_KEY = b"12345678901234567890"


@pytest.mark.parametrize(
    ("seconds", "code"),
    [
        (59, "94287082"),
        (1111111109, "07081804"),
        (1111111111, "14050471"),
        (1234567890, "89005924"),
        (2000000000, "69279037"),
        (20000000000, "65353130"),
    ],
)
def test_rfc6238_appendix_b_sha1(seconds: int, code: str) -> None:
    when = dt.datetime.fromtimestamp(seconds, dt.UTC)
    assert totp.code_at(RFC_KEY, when, digits=8) == code


def test_rfc4226_hotp_vectors() -> None:
    expected = ["755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871"]
    assert [totp.hotp(RFC_KEY, i) for i in range(9)] == expected


def test_one_step_of_drift_either_way_and_no_more() -> None:
    secret = totp.new_secret()
    now = dt.datetime(2026, 3, 2, 1, 0, 10, tzinfo=dt.UTC)
    step = totp.step_at(now)
    for offset in (-1, 0, 1):
        assert totp.matching_step(secret, totp.hotp(secret, step + offset), now) == step + offset
    for offset in (-2, 2):
        assert totp.matching_step(secret, totp.hotp(secret, step + offset), now) is None
    assert totp.matching_step(secret, "12345", now) is None
    assert totp.matching_step(secret, "abcdef", now) is None


def test_a_step_accepted_once_is_not_accepted_again() -> None:
    secret = totp.new_secret()
    now = dt.datetime(2026, 3, 2, 1, 0, 10, tzinfo=dt.UTC)
    code = totp.code_at(secret, now)
    step = totp.matching_step(secret, code, now)
    assert step is not None
    assert totp.matching_step(secret, code, now, after=step) is None
    earlier = totp.hotp(secret, step - 1)  # an older code, seen after a newer one
    assert totp.matching_step(secret, earlier, now, after=step) is None
    later = totp.hotp(secret, step + 1)
    assert totp.matching_step(secret, later, now, after=step) == step + 1


def test_base32_and_uri() -> None:
    secret = totp.new_secret()
    text = totp.to_base32(secret)
    assert "=" not in text and totp.from_base32(text.lower()) == secret
    uri = urllib.parse.urlsplit(totp.uri(secret, "chen.mei@aea"))
    assert uri.scheme == "otpauth" and uri.netloc == "totp"
    query = urllib.parse.parse_qs(uri.query)
    assert query["secret"] == [text]
    assert query["digits"] == ["6"] and query["period"] == ["30"] and query["algorithm"] == ["SHA1"]
    assert urllib.parse.unquote(uri.path).endswith(":chen.mei@aea")


def test_sealed_secret_opens_only_with_its_key_and_for_its_user() -> None:
    key, other = bytes(32), bytes([1]) * 32
    secret = totp.new_secret()
    sealed = totp.encrypt(key, secret, 7)
    assert secret not in sealed.encode() and totp.to_base32(secret) not in sealed
    assert totp.decrypt(key, sealed, 7) == secret
    with pytest.raises(ValueError):
        totp.decrypt(other, sealed, 7)
    with pytest.raises(ValueError):
        totp.decrypt(key, sealed, 8)  # copied to another user's row
    with pytest.raises(ValueError):
        totp.encrypt(b"short", secret, 7)


def test_the_secret_key_is_made_once_in_the_data_folder_unless_configured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AEDX_SECRET_KEY", raising=False)
    first = Settings.from_env(tmp_path).secret_key
    assert len(first) == 32 and first != Settings.from_env(tmp_path).index_key
    assert Settings.from_env(tmp_path).secret_key == first
    assert (tmp_path / "secret.key").stat().st_mode & 0o077 == 0
    monkeypatch.setenv("AEDX_SECRET_KEY", "ab" * 32)
    assert Settings.from_env(tmp_path).secret_key == bytes([0xAB]) * 32
