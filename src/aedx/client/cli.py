"""``aedx-client push|pull|sync --config FILE [--every 10m]``.

Progress bars when a person watches (standard error is a terminal), JSON lines otherwise. After each
run the health file (``STATE/health.json``) says when it ran, the last success of each direction,
the counts and the last error.

Exit codes: 0 everything done; 1 some files or packages failed, or wait for the platform's decision
(see the log); 2 the configuration is wrong; 3 the platform could not be reached or refused the
client (the retries ran out, or its credentials are refused).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from aedx.client.config import ConfigError, load, parse_duration
from aedx.client.exchange import Client, Counts
from aedx.client.files import write_durably
from aedx.client.http import PlatformError, Unreachable

OK, PARTIAL, CONFIG, UNREACHABLE = 0, 1, 2, 3


class JsonLines:
    """One JSON object a line: time, event and its fields."""

    def __init__(self, out: TextIO) -> None:
        self.out = out

    def event(self, name: str, **fields: Any) -> None:
        line = {"at": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"), "event": name} | fields
        self.out.write(json.dumps(line, ensure_ascii=False, default=str) + "\n")
        self.out.flush()

    def begin(self, label: str, total: int) -> None:
        self.event(f"{label}.start", total=total)

    def advance(self) -> None:
        pass


class Bars(JsonLines):
    """Rich progress bars; events other than failures stay quiet."""

    def __init__(self, out: TextIO) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        super().__init__(out)
        self.console = Console(file=out)
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self.console,
        )
        self.task: Any = None
        self.progress.start()

    def event(self, name: str, **fields: Any) -> None:
        if name.endswith((".failed", ".unmatched", ".unreachable", ".refused")):
            self.console.print(f"[red]{name}[/red] " + " ".join(f"{k}={v}" for k, v in fields.items()))

    def begin(self, label: str, total: int) -> None:
        words = {"push": "上傳 push", "pull": "下載 pull"}
        self.task = self.progress.add_task(words.get(label, label), total=total)

    def advance(self) -> None:
        if self.task is not None:
            self.progress.advance(self.task)

    def stop(self) -> None:
        self.progress.stop()


def write_health(path: Path, direction: str, counts: Counts | None, error: str | None) -> None:
    """The health file, rewritten atomically after each run of a direction."""
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    try:
        health: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        health = {}
    health["last_run"] = now
    part = health.setdefault(direction, {})
    part["last_run"] = now
    if counts is not None:
        part["counts"] = counts.as_dict()
    if error is None and counts is not None and not counts.failed:
        part["last_success"] = now
    if error or (counts is not None and counts.errors):
        health["last_error"] = {"at": now, "direction": direction, "error": error or counts.errors[-1]}  # type: ignore[union-attr]
    write_durably(path, json.dumps(health, ensure_ascii=False, indent=1).encode())


def run_once(client: Client, directions: list[str], health: Path) -> int:
    code = OK
    for direction in directions:
        work: Callable[[], Counts] = client.push if direction == "push" else client.pull
        try:
            counts = work()
        except Unreachable as e:
            client.events.event(f"{direction}.unreachable", error=str(e))
            write_health(health, direction, None, str(e))
            code = max(code, UNREACHABLE)
            continue
        except PlatformError as e:
            client.events.event(f"{direction}.refused", error=str(e))
            write_health(health, direction, None, str(e))
            code = max(code, UNREACHABLE if e.status in (401, 403) else PARTIAL)
            continue
        client.events.event(f"{direction}.done", **counts.as_dict())
        write_health(health, direction, counts, None)
        if counts.failed or counts.pending:
            code = max(code, PARTIAL)
    return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="aedx-client", description="行政執行資料交換平台 client: push, pull, sync"
    )
    parser.add_argument("command", choices=["push", "pull", "sync"])
    parser.add_argument("--config", required=True, type=Path, help="the TOML configuration file")
    parser.add_argument("--every", help="sync: run again this often (10m, 1h); default the schedule's")
    parser.add_argument("--once", action="store_true", help="sync: one run, then exit")
    parser.add_argument("--runs", type=int, default=0, help="sync: stop after this many runs (0: never)")
    args = parser.parse_args(argv)
    try:
        config = load(args.config)
        every = parse_duration(args.every, "--every") if args.every else config.every
    except ConfigError as e:
        sys.stderr.write(f"設定錯誤：{e.message_zh}\nconfiguration error: {e.message_en}\n")
        return CONFIG
    events: JsonLines = Bars(sys.stderr) if sys.stderr.isatty() else JsonLines(sys.stderr)
    health = config.state / "health.json"
    directions = {"push": ["push"], "pull": ["pull"], "sync": ["push", "pull"]}[args.command]
    try:
        client = Client(config, events=events)
    except ConfigError as e:
        sys.stderr.write(f"設定錯誤：{e.message_zh}\nconfiguration error: {e.message_en}\n")
        return CONFIG
    try:
        if args.command != "sync" or args.once:
            return run_once(client, directions, health)
        run = 0
        while True:
            started = time.monotonic()
            code = run_once(client, directions, health)
            run += 1
            if args.runs and run >= args.runs:
                return code
            time.sleep(max(0.0, every - (time.monotonic() - started)))
    except KeyboardInterrupt:
        return PARTIAL
    finally:
        if isinstance(events, Bars):
            events.stop()
        client.close()


if __name__ == "__main__":
    sys.exit(main())
