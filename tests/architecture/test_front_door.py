"""The front-door import contract, on a small project of its own."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[2]

CONFIG = """
[importlinter]
root_packages =
    shop
    stock
contract_types =
    front_door: lint.front_door.FrontDoorContract

[importlinter:contract:doors]
name = doors
type = front_door
apps =
    shop
    stock
doors =
    services
    stock.drivers
"""


def project(tmp_path: Path, shop_imports: str, stock_imports: str) -> Path:
    for package, modules in {
        "stock": ["__init__", "services", "internals", "drivers/__init__", "drivers/base"],
        "shop": ["__init__", "views", "drivers"],
    }.items():
        for module in modules:
            path = tmp_path / package / f"{module}.py"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
    (tmp_path / "shop" / "views.py").write_text(textwrap.dedent(shop_imports))
    (tmp_path / "stock" / "services.py").write_text(f"from stock import internals\n{stock_imports}")
    (tmp_path / ".importlinter").write_text(CONFIG)
    return tmp_path


@pytest.fixture
def lint(tmp_path):
    """lint-imports as CI runs it, in a process of its own (this one has zope.interface loaded,
    which import-linter's option check trips over)."""

    def run(shop_imports: str, stock_imports: str = "") -> subprocess.CompletedProcess:
        root = project(tmp_path, shop_imports, stock_imports)
        env = {**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{PROJECT}"}
        command = [Path(sys.executable).with_name("lint-imports"), "--no-cache"]
        return subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=60, check=False)

    return run


def test_an_import_through_a_door_keeps_the_contract(lint):
    result = lint("from stock import services\nfrom stock.drivers import base\n")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "doors KEPT" in result.stdout


def test_an_import_of_an_apps_internals_breaks_it(lint):
    result = lint("from stock import internals\n")
    assert result.returncode == 1
    assert "shop.views -> stock.internals (not a front door of stock)" in result.stdout


def test_a_dotted_door_opens_only_its_own_app(lint):
    shop_imports = "from stock.drivers import base\nfrom stock import drivers\n"
    result = lint(shop_imports, stock_imports="from shop import drivers\n")
    assert result.returncode == 1
    assert "stock.services -> shop.drivers (not a front door of shop)" in result.stdout
    assert "shop.views" not in result.stdout
