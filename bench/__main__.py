"""Every benchmark area, or one.

    python -m bench [--quick] [--scaled] [--only webhook,copy,live,terminal]   # bench/runner.py
    python -m bench AREA [options]   # one area in this process, with its detailed tables

An area's process sets Django up once, with the area's environment (its throwaway database
and keys, bench/areas.py), and only then imports the area's module, which imports the
project's apps at its top.
"""

import importlib
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import django

from bench.areas import AREAS_BY_NAME, Area
from bench.runner import run_all


@contextmanager
def area_directory(area: Area, keep: bool) -> Iterator[Path]:
    """The area's temp dir (its database, the service's logs), removed afterwards unless kept."""
    prefix = f"mt5saas-bench-{area.name}-"
    if keep:
        directory = tempfile.mkdtemp(prefix=prefix)
        print(f"kept: {directory}", file=sys.stderr)
        yield Path(directory)
        return
    with tempfile.TemporaryDirectory(prefix=prefix) as directory:
        yield Path(directory)


def run_area(area: Area, argv: list[str]) -> int:
    args = area.parser().parse_args(argv)
    started = time.perf_counter()
    with area_directory(area, args.keep) as directory:
        env = area.environment(args, directory)
        os.environ.update(env)
        django.setup()
        # Imported once Django is set up: the area's module imports the project's models.
        module = importlib.import_module(f"bench.{area.module}")
        module.run(args, directory, env)
    print(f"({time.perf_counter() - started:.0f} s)")
    return 0


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] in AREAS_BY_NAME:
        return run_area(AREAS_BY_NAME[sys.argv[1]], sys.argv[2:])
    return run_all(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
