"""Headless Chromium for the browser tests: Debian's ``chromium`` driven by Playwright.

Playwright never downloads a browser here (no ``playwright install``): it is pointed at
the system binary. Each test gets a fresh browser context (its own storage); the browser
process starts once per module. Tests that need it are skipped when no chromium exists.
"""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from node.config import load_config
from node.launcher import NodeProcess, start_node, wait_healthy

ROOT = Path(__file__).parent.parent
WEB = ROOT / "node" / "web"
SCREENSHOTS = Path(__file__).parent / "output" / "screenshots"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def require_chromium() -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (make test-deps installs it)")
    pytest.importorskip("playwright.sync_api")


@contextmanager
def browser() -> Iterator[Any]:
    """A headless Chromium (a fresh temporary profile, which Playwright creates)."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def static_server(directory: Path = WEB) -> Iterator[str]:
    """Serve ``directory`` on 127.0.0.1 (a secure context, so WebCrypto works); yield its URL."""
    handler = functools.partial(_Quiet, directory=str(directory))
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}"
    finally:
        srv.shutdown()
        srv.server_close()


def start_nodes(data: Path, port: int) -> list[NodeProcess]:
    """The demo's five nodes, as ``civic demo`` starts them, with a patient start-up wait
    (the suite shares two cores with other work)."""
    dirs = [
        data / "sequencer",
        *sorted(d for d in data.glob("witness-*") if d.is_dir()),
        data / "mirror",
    ]
    urls = [f"http://127.0.0.1:{port}"] + [
        str(load_config(d).extra["public_url"]) for d in dirs[1:]
    ]
    nodes: list[NodeProcess] = []
    try:
        for d, url in zip(dirs, urls, strict=True):
            peers = [a for u in urls if u != url for a in ("--peer", u)]
            p = int(url.rsplit(":", 1)[1])
            nodes.append(
                start_node(
                    d,
                    p,
                    [*peers, "--gossip-interval", "2"],
                    log_file=data / f"{d.name}.log",
                    wait=False,
                )
            )
        for n in nodes:
            wait_healthy(n.url, timeout=180, proc=n.proc)
    except BaseException:
        for n in reversed(nodes):
            n.stop()
        raise
    return nodes
