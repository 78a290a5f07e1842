"""Limits that keep the code easy to live in: short modules, short functions, and no import of
another app hidden inside a function (where cycles hide)."""

import ast
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[2]
APPS = (
    "accounts",
    "alerts",
    "audit",
    "bench",
    "copytrading",
    "journal",
    "legacy",
    "live",
    "mt5saas",
    "terminals",
    "webhooks",
)
MODULE_LINES = 450
FUNCTION_LINES = 60


def modules() -> list[Path]:
    return sorted(path for app in APPS for path in (PROJECT / app).rglob("*.py") if "migrations" not in path.parts)


def functions(tree: ast.AST):
    return (node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef))


@pytest.mark.parametrize("path", modules(), ids=lambda path: str(path.relative_to(PROJECT)))
def test_a_module_stays_short(path):
    assert len(path.read_text().splitlines()) < MODULE_LINES


@pytest.mark.parametrize("path", modules(), ids=lambda path: str(path.relative_to(PROJECT)))
def test_functions_stay_short_and_import_other_apps_at_the_top(path):
    app = path.relative_to(PROJECT).parts[0]
    long, hidden = [], []
    for function in functions(ast.parse(path.read_text())):
        if function.end_lineno - function.lineno + 1 > FUNCTION_LINES:
            long.append(function.name)
        for node in ast.walk(function):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            hidden += [name for name in names if name.split(".")[0] in APPS and name.split(".")[0] != app]
    assert long == [], f"functions over {FUNCTION_LINES} lines"
    assert hidden == [], "imports of other apps inside functions"
