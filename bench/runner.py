"""Every benchmark area in one run: a table per area, JSON and a PNG chart, and the change
since the previous run.

    python -m bench [--quick] [--scaled] [--only webhook,copy,live,terminal]
    make bench [BENCH_ARGS="--quick --scaled"]

Each area (bench/areas.py; `python -m bench AREA` runs one on its own and prints its detailed
tables) is started here as a process of its own, one after the other: the machine has few
cores and a bench that shares them with another measures neither. The embedded defaults by default; --scaled runs the
webhook and copy areas on PostgreSQL + Redis with two daphne processes on two ports and two
qclusters (the live area always has its Redis row, the terminal area needs no service).

Every row has median, p95, p99, throughput and peak memory, and each area has its baseline
row from the same run (bare GET /health on the same server, the bare MetaTrader5 call):
"x base" is the row's median over the baseline's. Results go to bench/results/ (not
tracked): bench-<stack>-<time>.json, the chart bench-<stack>-<time>.png, and each area's
own output as .log; "Δ" columns compare with the newest earlier JSON of the same stack and size.
"""

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from bench.areas import AREAS, Area
from bench.stack import REDIS

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
PROGRESS = re.compile(r"^progress (?P<label>.*): (?P<done>\d+)/(?P<total>\d+)$")


def run_area(area: Area, args, rows_path: Path, log_path: Path, progress: Progress, task) -> tuple[int, float]:
    """Runs one area in a process of its own; its progress lines move the bar, everything else
    goes to its log."""
    env = {**os.environ, "BENCH_PROGRESS": "1", "BENCH_ROWS": str(rows_path), "PYTHONUNBUFFERED": "1"}
    env["BENCH_SQLITE_TEMPLATE"] = str(rows_path.with_name("migrated.sqlite3"))
    started = time.perf_counter()
    steps_done: dict[str, float] = {}
    command = [sys.executable, "-m", "bench", area.name, *area.runner_options(args)]
    with log_path.open("w") as log:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.PIPE, text=True, bufsize=1
        )
        for line in process.stderr:
            if match := PROGRESS.match(line.strip()):
                label = match["label"]
                steps_done[label] = int(match["done"]) / max(1, int(match["total"]))
                progress.update(
                    task,
                    completed=min(sum(steps_done.values()), area.steps - 0.01),
                    description=f"{area.name}: {label}",
                )
            else:
                log.write(line)
        code = process.wait()
    return code, time.perf_counter() - started


def previous_run(stack: str, quick: bool, before: str) -> dict | None:
    """The newest earlier result of the same stack and size."""
    for path in sorted(RESULTS.glob(f"bench-{stack}-*.json"), reverse=True):
        if path.stem >= before:
            continue
        try:
            data = json.loads(path.read_text())
        except ValueError:
            continue
        if data.get("quick") == quick:
            return {**data, "path": str(path.relative_to(ROOT))}
    return None


def fmt(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def change(now: float | None, before: float | None) -> str:
    if now is None or not before:
        return "—"
    ratio = now / before - 1
    colour = "red" if ratio > 0.1 else "green" if ratio < -0.1 else "white"
    return f"[{colour}]{ratio:+.0%}[/{colour}]"


def print_tables(console: Console, areas: list[dict], previous: dict | None) -> None:
    before = {}
    for area in (previous or {}).get("areas", []):
        for row in area["rows"]:
            before[(area["area"], row["name"])] = row
    for area in areas:
        table = Table(title=area["title"], title_justify="left", show_lines=False)
        for column in ("row", "n", "median ms", "p95 ms", "p99 ms", "per s", "peak MB", "x base", "Δ median", "Δ p99"):
            table.add_column(column, justify="left" if column == "row" else "right")
        base = next((r for r in area["rows"] if r["baseline"] and r["median_ms"]), None)
        for row in area["rows"]:
            old = before.get((area["area"], row["name"]), {})
            times = base and row["median_ms"] and not row["baseline"]
            table.add_row(
                ("[dim]baseline:[/dim] " if row["baseline"] else "") + row["name"],
                str(row["n"]),
                fmt(row["median_ms"]),
                fmt(row["p95_ms"]),
                fmt(row["p99_ms"]),
                fmt(row["per_second"], 1),
                fmt(row["peak_mb"], 1),
                f"{row['median_ms'] / base['median_ms']:.1f}x" if times else "—",
                change(row["median_ms"], old.get("median_ms")),
                change(row["p99_ms"], old.get("p99_ms")),
            )
        console.print(table)
        notes = [f"{r['name']}: {r['note']}" for r in area["rows"] if r.get("note")]
        for note in notes:
            console.print(f"  [dim]{note}[/dim]")


def chart(areas: list[dict], previous: dict | None, path: Path, title: str) -> None:
    """Median and p99 of every row (log scale), with the previous run's p99 as a mark."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    before = {(a["area"], r["name"]): r for a in (previous or {}).get("areas", []) for r in a["rows"]}
    timed = [(a, [r for r in a["rows"] if r["median_ms"]]) for a in areas]
    timed = [(a, rows) for a, rows in timed if rows]
    heights = [max(1.6, 0.38 * len(rows) + 0.9) for _, rows in timed]
    figure, axes = plt.subplots(len(timed), 1, figsize=(11, sum(heights)), gridspec_kw={"height_ratios": heights})
    axes = [axes] if len(timed) == 1 else list(axes)
    for axis, (area, rows) in zip(axes, timed, strict=True):
        names = [("▸ " if r["baseline"] else "") + r["name"][:60] for r in rows]
        y = range(len(rows))
        axis.barh([i + 0.2 for i in y], [r["p99_ms"] for r in rows], height=0.4, label="p99", color="#e0a030")
        axis.barh([i - 0.2 for i in y], [r["median_ms"] for r in rows], height=0.4, label="median", color="#3070c0")
        old = [(i, before.get((area["area"], r["name"]), {}).get("p99_ms")) for i, r in enumerate(rows)]
        old = [(i, value) for i, value in old if value]
        if old:
            marks = {"marker": "|", "s": 200, "color": "black", "label": "previous p99"}
            axis.scatter([v for _, v in old], [i + 0.2 for i, _ in old], **marks)
        axis.set_yticks(list(y), names, fontsize=8)
        axis.invert_yaxis()
        axis.set_xscale("log")
        axis.set_xlabel("ms (log)", fontsize=8)
        axis.set_title(area["title"], fontsize=9, loc="left")
        axis.legend(fontsize=7, loc="lower right")
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


@dataclass
class Run:
    """What one `python -m bench` run measured."""

    stack: str  # postgres-redis or sqlite
    stamp: str
    areas: list[dict] = field(default_factory=list)  # each area's rows (bench/rows.py)
    durations: dict[str, float] = field(default_factory=dict)
    failed: list[str] = field(default_factory=list)


def run_areas(chosen: list[Area], args, run: Run, console: Console) -> None:
    """Each area in turn, under one progress display; their rows are gathered in `run`."""
    with tempfile.TemporaryDirectory(prefix="mt5saas-bench-") as directory:
        rows_path = Path(directory) / "rows.json"
        columns = (TextColumn("{task.description:<48}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=console, transient=False) as progress:
            overall = progress.add_task("all areas", total=len(chosen))
            for area in chosen:
                task = progress.add_task(f"{area.name}: starting", total=area.steps)
                log = RESULTS / f"bench-{run.stack}-{run.stamp}-{area.name}.log"
                code, seconds = run_area(area, args, rows_path, log, progress, task)
                run.durations[area.name] = round(seconds, 1)
                progress.update(
                    task, completed=area.steps, description=f"{area.name}: {'done' if not code else 'FAILED'}"
                )
                progress.advance(overall)
                if code:
                    run.failed.append(area.name)
                    console.print(f"[red]{area.name} failed (exit {code}); its output: {log.relative_to(ROOT)}[/red]")
        if rows_path.exists():
            run.areas = json.loads(rows_path.read_text())


def save(run: Run, args, load: tuple, title: str, previous: dict | None) -> Path:
    """The run's JSON, and its chart when it has rows; returns the JSON's path."""
    result = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "stack": run.stack,
        "quick": args.quick,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average": {"before": load[0], "after": load[1]},
        "seconds": run.durations,
        "failed": run.failed,
        "areas": run.areas,
    }
    path = RESULTS / f"bench-{run.stack}-{run.stamp}.json"
    path.write_text(json.dumps(result, indent=2))
    if run.areas:
        chart(run.areas, previous, path.with_suffix(".png"), title)
    return path


def run_all(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples: under two minutes on the embedded stack")
    parser.add_argument("--scaled", action="store_true", help="PostgreSQL + Redis, 2 daphne, 2 qclusters")
    parser.add_argument("--redis-url", default=REDIS, help=f"Redis database for the scaled stack (default {REDIS})")
    parser.add_argument("--only", default="", help="comma list of areas: " + ",".join(a.name for a in AREAS))
    args = parser.parse_args(argv)
    chosen = [a for a in AREAS if not args.only or a.name in args.only.split(",")]
    run = Run("postgres-redis" if args.scaled else "sqlite", datetime.now(UTC).strftime("%Y%m%d-%H%M%S"))
    RESULTS.mkdir(parents=True, exist_ok=True)
    console = Console()
    if not console.is_terminal:
        console = Console(width=150)  # a log or a pipe: room for every column
    load_before = os.getloadavg()
    started = time.perf_counter()
    run_areas(chosen, args, run, console)
    previous = previous_run(run.stack, args.quick, f"bench-{run.stack}-{run.stamp}")
    load_after = os.getloadavg()
    title = (
        f"mt5saas bench, {'quick, ' if args.quick else ''}"
        f"{'PostgreSQL + Redis, 2 daphne, 2 qclusters' if args.scaled else 'embedded defaults'}; "
        f"python {platform.python_version()}, {os.cpu_count()} CPUs, load {load_before[0]:.1f} → {load_after[0]:.1f}"
    )
    console.print(f"\n[bold]{title}[/bold]")
    if previous:
        console.print(f"Δ: against {previous['path']} ({previous['when']})")
    print_tables(console, run.areas, previous)
    path = save(run, args, (load_before, load_after), title, previous)
    total = time.perf_counter() - started
    console.print(f"\nresults: {path.relative_to(ROOT)}, chart {path.with_suffix('.png').relative_to(ROOT)}")
    console.print(f"({total:.0f} s in all: " + ", ".join(f"{k} {v:.0f} s" for k, v in run.durations.items()) + ")")
    return 1 if run.failed else 0
