"""The one row shape every bench hands to `python -m bench` (BENCH_ROWS names the file).

A script run on its own prints its own tables; under the runner it also writes its rows
here, so that every area is shown, saved and compared the same way.
"""

import json
import math
import os
import statistics
from pathlib import Path

MB = 1024 * 1024


def percentile(ordered: list[float], q: float) -> float:
    """Nearest rank."""
    return ordered[min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1)]


def row(
    name: str,
    times_ms: list[float],
    *,
    per_second: float | None = None,
    peak_bytes: int | None = None,
    baseline: bool = False,
    note: str = "",
) -> dict:
    """`baseline`: the row the others are read against (bare GET /health, bare driver call)."""
    ordered = sorted(times_ms)
    return {
        "name": name,
        "n": len(ordered),
        "median_ms": statistics.median(ordered) if ordered else None,
        "p95_ms": percentile(ordered, 95) if ordered else None,
        "p99_ms": percentile(ordered, 99) if ordered else None,
        "per_second": per_second,
        "peak_mb": peak_bytes / MB if peak_bytes else None,
        "baseline": baseline,
        "note": note,
    }


def export(area: str, title: str, rows: list[dict]) -> None:
    """Hand the rows to the runner, when there is one."""
    if path := os.environ.get("BENCH_ROWS"):
        target = Path(path)
        areas = json.loads(target.read_text()) if target.exists() else []
        areas.append({"area": area, "title": title, "rows": rows})
        target.write_text(json.dumps(areas, indent=2, default=str))
