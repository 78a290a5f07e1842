"""Browser tests: pytest-playwright drives Debian's chromium against pytest-django's live_server.

Without /usr/bin/chromium the tests are skipped, unless REQUIRE_BROWSER=1 (set by .ci/run),
in which case they fail: CI must never pass by skipping them.
"""

import os
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

CHROMIUM = Path("/usr/bin/chromium")


# Playwright's sync API marks its event loop as running in the test's thread for as long as
# Playwright is started, and Django then refuses ORM calls there (factories, the database
# flush after a live-server test) with SynchronousOnlyOperation. So Playwright lives only
# while this package's tests run (pytest-playwright keeps it for the whole session), and
# DJANGO_ALLOW_ASYNC_UNSAFE is set for exactly that time: the tests that follow neither see
# a running loop nor inherit the variable (`check --deploy` in a subprocess refuses it).
@pytest.fixture(scope="package")
def playwright(_pw_api_request_contexts):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as pw:
            if _pw_api_request_contexts:  # --tracing, as pytest-playwright does
                _pw_api_request_contexts.instrument(pw)
            yield pw


@pytest.fixture(scope="package")
def browser_type(playwright, browser_name):
    return getattr(playwright, browser_name)


@pytest.fixture(scope="package")
def launch_browser(browser_type_launch_args, browser_type):
    return lambda **kwargs: browser_type.launch(**{**browser_type_launch_args, **kwargs})


@pytest.fixture(scope="package")
def browser(launch_browser):
    browser = launch_browser()
    yield browser
    browser.close()


@pytest.fixture(scope="package")
def browser_context_args(pytestconfig, playwright, device, base_url, _pw_artifacts_folder):
    # pytest-playwright's, at package scope because it reads `playwright`.
    args = {**(playwright.devices[device] if device else {}), "base_url": base_url}
    if pytestconfig.getoption("--video") in {"on", "retain-on-failure"}:
        args["record_video_dir"] = _pw_artifacts_folder.name
    return args


@pytest.fixture(scope="session")
def base_url(live_server) -> str:
    # Replaces pytest-playwright's fallback fixture (deprecated in pytest 9): pages may goto("/").
    return live_server.url


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} not found: apt-get install chromium chromium-driver"
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(f"REQUIRE_BROWSER=1 but {reason}", pytrace=False)
        pytest.skip(reason)
    return {
        **browser_type_launch_args,
        "executable_path": str(CHROMIUM),
        "args": [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            # Without these chromium calls Google, which this machine (and the suite) refuses.
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
    }
