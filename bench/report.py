"""Percentiles and the docs/benchmarks.md log."""

from __future__ import annotations

import os
import platform
import shlex
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
HEADER = """# Benchmarks

Measured by `python -m bench <name>` (see `bench/`). Every run appends a section; the newest is
at the bottom. Timings on shared 2-core machines are noisy: compare runs made side by side.
"""


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile of `values` (q from 0 to 100)."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        model = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    except (OSError, StopIteration):
        model = cpu
    return f"{model}, {os.cpu_count()} cores, Python {platform.python_version()}"


def _commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607 - git from PATH, the id only
            capture_output=True,
            text=True,
            check=False,
            cwd=DOC.parent,
        )
    except OSError:
        return "?"
    return str(out.stdout).strip() or "?"


def record(title: str, lines: list[str]) -> None:
    """Print the result and append it to docs/benchmarks.md."""
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    command = "python -m bench " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    block = [
        f"## {title}",
        "",
        f"- when: {when}, commit {_commit()}",
        f"- machine: {machine()}",
        f"- command: `{command}`",
        "",
        *lines,
        "",
    ]
    text = "\n".join(block)
    print(text)
    DOC.parent.mkdir(exist_ok=True)
    if not DOC.exists():
        DOC.write_text(HEADER + "\n")
    with DOC.open("a") as handle:
        handle.write(text + "\n")
