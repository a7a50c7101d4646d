"""``make bench``: run every benchmark and write each report under ``--out``.

Benchmarks measure, they never pass or fail on a number; each report states its targets and
the ratios it measured side by side in one run.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

BENCHMARKS = [
    "bench.gateway_overhead",
    "bench.prefix_cache",
    "bench.routing_affinity",
    "bench.logprobs",
    "bench.image_path",
    "bench.json_loop",
    "bench.photo_memory",
    "bench.documents",
    "bench.shared_limits",
    "bench.grounding",
    "bench.batch",
]
"""Modules with a ``--out FOLDER`` command line, run in this order."""


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    parser.add_argument("--only", help="run just this module (e.g. bench.gateway_overhead)")
    args = parser.parse_args()
    failed = 0
    for module in [args.only] if args.only else BENCHMARKS:
        print(f"== {module}", flush=True)
        failed += subprocess.call([sys.executable, "-m", module, "--out", str(args.out)]) != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
