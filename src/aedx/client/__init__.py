"""aedx-client: an organisation's side of the exchange, installable on an agency's or a branch's
server without the platform. ``push`` sends the complete files of an outbox folder (signed,
enveloped to the platform, uploaded with an idempotency key) and files each under ``sent/`` with the
platform's signed receipt or under ``rejected/`` with its report; ``pull`` downloads the waiting
packages, checks the platform's signature, decrypts them, writes them durably to the inbox folder
and only then acknowledges them. A journal in the state folder makes a crash at any point resume
correctly. Imports nothing of the platform's server side (database, web framework)."""

from __future__ import annotations

from aedx.client.config import Config, ConfigError, load

__all__ = ["Config", "ConfigError", "load"]
