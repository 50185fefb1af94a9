"""Whole-process timings with the measured process's own peak memory.

Linux carries a process's peak resident size across fork and exec: a command started straight from a
benchmark that holds hundreds of MB reports the benchmark's peak as its own. The command is
therefore started from a small launcher process, which times it, waits for it and reports its peak."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

LAUNCHER = """
import json, os, sys, time
start = time.perf_counter()
pid = os.spawnv(os.P_NOWAIT, sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
seconds = time.perf_counter() - start
with open(sys.argv[1], "w") as out:
    json.dump([os.waitstatus_to_exitcode(status), seconds, usage.ru_maxrss * 1024], out)
"""


def whole_process(command: list[str], ok: tuple[int, ...] = (0,)) -> tuple[float, int]:
    """Seconds and peak resident memory (bytes) of ``command`` (its first item a path); a command
    that ends with another exit code than ``ok`` stops the benchmark with its error output."""
    with tempfile.TemporaryDirectory() as folder:
        result = Path(folder) / "result.json"
        launched = subprocess.run(
            [sys.executable, "-c", LAUNCHER, str(result), *command],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            check=False,
        )
        if not result.exists():
            raise SystemExit(f"{command[0]} could not be started: {launched.stderr.decode()[-2000:]}")
        code, seconds, peak = json.loads(result.read_text())
    if code not in ok:
        raise SystemExit(f"{' '.join(command[:3])} failed ({code}): {launched.stderr.decode()[-2000:]}")
    return float(seconds), int(peak)
