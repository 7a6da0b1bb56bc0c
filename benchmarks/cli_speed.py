"""Wall time of the light CLI commands against `python -c "import torch"`, side by side in one run.

    python benchmarks/cli_speed.py [--repeats 7]

Each command runs in a fresh process; the table gives the median of the repeats. Writes
benchmarks/results/cli_speed.md.
"""
from __future__ import annotations

import argparse
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

from nlpzoo.files import atomic_write

COMMANDS = {
    "python -c 'import torch'": [sys.executable, "-c", "import torch"],
    "python -c 'pass' (interpreter start)": [sys.executable, "-c", "pass"],
    "nlpzoo list": [sys.executable, "-m", "nlpzoo.cli", "list"],
    "nlpzoo info adamw": [sys.executable, "-m", "nlpzoo.cli", "info", "adamw"],
    "nlpzoo plugins": [sys.executable, "-m", "nlpzoo.cli", "plugins"],
}


def wall(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    for cmd in COMMANDS.values():  # warm the file cache
        wall(cmd)
    times = {name: [] for name in COMMANDS}
    for _ in range(args.repeats):  # interleaved, so drifting load hits every command alike
        for name, cmd in COMMANDS.items():
            times[name].append(wall(cmd))
    torch_s = statistics.median(times["python -c 'import torch'"])
    lines = ["| command | median wall time (s) | vs import torch |", "| --- | ---: | ---: |"]
    for name, ts in times.items():
        med = statistics.median(ts)
        lines.append(f"| `{name}` | {med:.3f} | {med / torch_s:.2f}x |")
    table = "\n".join(lines)
    print(table)
    out = Path(__file__).parent / "results" / "cli_speed.md"
    atomic_write(
        out,
        "# CLI speed\n\n"
        f"`python benchmarks/cli_speed.py --repeats {args.repeats}` on {platform.machine()}, "
        f"Python {platform.python_version()}, {time.strftime('%Y-%m-%d')}; median of {args.repeats} fresh processes each.\n\n"
        + table + "\n")


if __name__ == "__main__":
    main()
