"""`payrequest demo` prints the phone emulator's link with its key, and that link opens the
phone for a browser that is not signed in (web.emulator_access)."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests import servers
from tests.emulator_access import key_of_var_dir


def test_the_demo_prints_a_phone_link_that_opens_the_phone(tmp_path: Path) -> None:
    port = servers.free_port()
    process = servers.start(tmp_path, "demo", "--port", str(port))
    base = f"http://127.0.0.1:{port}"
    try:
        servers.wait_healthy(port, process)
        link = f"{base}/sandbox/vipps/phone?key={key_of_var_dir(tmp_path / 'var')}"
        with httpx.Client(timeout=10) as browser:
            assert browser.get(f"{base}/sandbox/vipps/phone").status_code == 403
            opened = browser.get(link, headers={"Accept": "text/html"}, follow_redirects=True)
            assert opened.status_code == 200 and "Sandbox phones" in opened.text
            assert str(opened.url) == f"{base}/sandbox/vipps/phone"  # the key left the address
    finally:
        out = servers.stop(process)
    assert f"Phone emulator: {link}" in out, out
