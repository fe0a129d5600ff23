"""Open every page of the built docs in headless Chromium and check what a reader sees.

    python docs/_ext/browser_check.py docs/_build/html [--screenshots DIR]

One Chromium (Debian's ``chromium``) is driven over the DevTools protocol
(``websocket-client``, in the ``dev`` extra). Each page is loaded from ``file://``, MathJax
is given time to typeset (``MathJax.startup.promise``), and the page fails on:

* raw TeX left in the rendered text: ``\\(``, ``\\[`` or ``$$`` outside code, scripts and
  typeset math (the math did not render);
* a broken image (not loaded, or zero width) or an internal link to a file or an anchor
  that does not exist;
* any request to the network (``http``, ``https``, ``ws``): the docs must read offline.

With ``--screenshots DIR`` a PNG of each page's first screen goes to ``DIR`` (``.ci/run``
keeps them as artefacts for a person to look at). Exit 0 when every page passes, 1 with
one line per problem otherwise, 2 when Chromium cannot be started.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

TIMEOUT_S = 60.0
NETWORK = ("http:", "https:", "ws:", "wss:")
RAW_TEX = ("\\(", "\\[", "$$")
# Chromium without its own background traffic (updates, sync, translation): the only
# requests left are the page's.
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--no-first-run",
    "--no-default-browser-check",
    "--allow-file-access-from-files",
    "--remote-allow-origins=*",
    "--window-size=1280,900",
)

# Run in the page once MathJax is done: what a reader would see as text (without code,
# scripts and typeset math), the images that did not load, and every link.
INSPECT = r"""
(() => {
  const skip = 'script, style, pre, code, mjx-container, .MathJax, textarea';
  const walker = document.createTreeWalker(document.body || document.documentElement, NodeFilter.SHOW_TEXT, {
    acceptNode: n => (n.parentElement && n.parentElement.closest(skip)) ? NodeFilter.FILTER_REJECT
                                                                       : NodeFilter.FILTER_ACCEPT});
  const text = [];
  while (walker.nextNode()) text.push(walker.currentNode.nodeValue);
  const broken = [...document.images].filter(i => !i.complete || i.naturalWidth === 0)
                                     .map(i => i.getAttribute('src'));
  const links = [...document.querySelectorAll('a[href]')].map(a => a.href);
  return {text: text.join(' '), broken, links};
})()
"""
MATHJAX_DONE = (
    "(window.MathJax && MathJax.startup && MathJax.startup.promise) ? MathJax.startup.promise.then(() => true) : true"
)


@dataclass
class PageReport:
    """What one page showed: its problems (empty when it passes)."""

    path: Path
    problems: list[str] = field(default_factory=list)


class DevTools:
    """A minimal DevTools protocol client: one browser, one page session."""

    def __init__(self, ws_url: str) -> None:
        import websocket  # websocket-client

        self._ws = websocket.create_connection(ws_url, timeout=TIMEOUT_S, suppress_origin=True)
        self._next = 0
        self.events: list[dict[str, Any]] = []
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Network", "Runtime"):
            self.call(f"{domain}.enable", session=True)

    def call(self, method: str, params: dict[str, Any] | None = None, session: bool = False) -> dict[str, Any]:
        """Send one command and return its result (events seen meanwhile are kept)."""
        self._next += 1
        message: dict[str, Any] = {"id": self._next, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = self.session
        self._ws.send(json.dumps(message))
        while True:
            reply = json.loads(self._ws.recv())
            if reply.get("id") == self._next:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error'].get('message')}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str, deadline: float) -> None:
        """Read events until ``method`` arrives (or the deadline passes)."""
        while not any(e.get("method") == method for e in self.events):
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {method} within {TIMEOUT_S:.0f} s")
            self.events.append(json.loads(self._ws.recv()))

    def evaluate(self, expression: str) -> Any:
        result = self.call(
            "Runtime.evaluate", {"expression": expression, "awaitPromise": True, "returnByValue": True}, session=True
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"script error: {result['exceptionDetails'].get('text')}")
        return result["result"].get("value")

    def close(self) -> None:
        self._ws.close()


@contextmanager
def chromium(binary: str) -> Iterator[DevTools]:
    """A headless Chromium on a free port with a throw-away profile."""
    # Chromium's helper processes may still write to the profile while they exit.
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as profile:
        proc = subprocess.Popen(
            [binary, *FLAGS, "--remote-debugging-port=0", f"--user-data-dir={profile}", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: stopped whole, helpers included
        )
        try:
            port_file = Path(profile) / "DevToolsActivePort"
            deadline = time.monotonic() + TIMEOUT_S
            while not (port_file.exists() and len(port_file.read_text().split()) == 2):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise OSError(f"{binary} did not start (exit code {proc.poll()})")
                time.sleep(0.05)
            port, path = port_file.read_text().split()
            tools = DevTools(f"ws://127.0.0.1:{port}{path}")
            try:
                yield tools
            finally:
                tools.close()
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def _link_problem(href: str, page: Path) -> str | None:
    """Why an internal link is broken (a missing file, or a missing anchor), or ``None``."""
    parts = urlsplit(href)
    if parts.scheme != "file":
        return None
    target = Path(unquote(parts.path))
    if target.is_dir():
        target = target / "index.html"
    if not target.exists():
        return f"link to a missing file: {href}"
    if parts.fragment and target.suffix == ".html":
        anchor = unquote(parts.fragment)
        html = target.read_text(encoding="utf-8", errors="replace")
        if not re.search(rf"""\b(id|name)\s*=\s*["']{re.escape(anchor)}["']""", html):
            return f"link to a missing anchor: {href}"
    return None


def check_page(tools: DevTools, page: Path, screenshots: Path | None, root: Path) -> PageReport:
    report = PageReport(page)
    tools.events.clear()
    deadline = time.monotonic() + TIMEOUT_S
    tools.call("Page.navigate", {"url": page.resolve().as_uri()}, session=True)
    tools.wait_for("Page.loadEventFired", deadline)
    tools.evaluate(MATHJAX_DONE)
    seen = tools.evaluate(INSPECT)
    for raw in RAW_TEX:
        if raw in seen["text"]:
            at = seen["text"].index(raw)
            report.problems.append(f"raw TeX {raw!r} in the text: ...{seen['text'][max(0, at - 30) : at + 30]!r}...")
    report.problems += [f"broken image: {src}" for src in seen["broken"]]
    report.problems += sorted({p for href in seen["links"] if (p := _link_problem(href, page)) is not None})
    requested = {
        e["params"]["request"]["url"]
        for e in tools.events
        if e.get("method") == "Network.requestWillBeSent" and e.get("sessionId") == tools.session
    }
    report.problems += [f"network request: {url}" for url in sorted(requested) if url.startswith(NETWORK)]
    if screenshots is not None:
        shot = tools.call("Page.captureScreenshot", {"format": "png"}, session=True)["data"]
        out = screenshots / (page.relative_to(root).with_suffix("").as_posix().replace("/", "__") + ".png")
        out.write_bytes(base64.b64decode(shot))
    return report


def check_site(root: Path, screenshots: Path | None = None, binary: str | None = None) -> list[PageReport]:
    """Every ``*.html`` page under ``root`` (``_static`` and ``_sources`` excepted), checked."""
    binary = binary or shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if binary is None:
        raise OSError("no chromium on PATH (Debian: apt-get install chromium)")
    pages = sorted(p for p in root.rglob("*.html") if not {"_static", "_sources"} & set(p.relative_to(root).parts))
    if not pages:  # a missing or empty build is a failure, never "0 pages, 0 with problems"
        raise OSError(f"{root}: no built HTML pages there (run sphinx-build first)")
    if screenshots is not None:
        screenshots.mkdir(parents=True, exist_ok=True)
    with chromium(binary) as tools:
        return [check_page(tools, page, screenshots, root) for page in pages]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("site", type=Path, help="the built HTML docs (docs/_build/html)")
    parser.add_argument("--screenshots", type=Path, metavar="DIR", help="write a PNG of each page here")
    args = parser.parse_args(argv)
    try:
        reports = check_site(args.site, args.screenshots)
    except OSError as exc:
        print(f"browser_check: {exc}", file=sys.stderr)
        return 2
    bad = [r for r in reports if r.problems]
    for r in bad:
        for problem in r.problems:
            print(f"{r.path.relative_to(args.site)}: {problem}")
    print(f"browser_check: {len(reports)} pages, {len(bad)} with problems", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
