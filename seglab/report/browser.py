"""Open a report page in headless Chromium and say what a person would see: which sections are
there, whether every image loaded, which errors the page raised, and how long it took to load.

No DevTools protocol: a copy of the page gets two small scripts, one at the top of ``<head>``
that collects errors (``error`` events, ``console.error``) and one that, on ``load``, writes its
findings into the DOM as JSON; ``chromium --headless --dump-dom`` prints that DOM. Chromium's own
log (``--enable-logging=stderr``) is kept too: its ``CONSOLE`` lines are every console message,
and the report itself writes none.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

_COLLECT_ERRORS = """<script>window.__seglabErrors = [];
addEventListener('error', e => __seglabErrors.push(String(e.message || (e.target && e.target.src) || e)), true);
(() => { const error = console.error; console.error = (...a) => { __seglabErrors.push(a.join(' ')); error(...a); }; })();
</script>"""
_REPORT_FINDINGS = """<script>addEventListener('load', () => setTimeout(() => {
const images = [...document.images];
const nav = performance.getEntriesByType('navigation')[0];
const out = {sections: [...document.querySelectorAll('section')].map(s => s.id),
  images: images.length, broken: images.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.alt),
  errors: __seglabErrors, load_ms: nav ? nav.loadEventStart : performance.now()};
const pre = document.createElement('pre'); pre.id = 'seglab-check'; pre.textContent = JSON.stringify(out);
document.body.appendChild(pre); }, 0));</script>"""


@dataclass
class PageCheck:
    """What Chromium saw: section ids, number of images, the alt texts of images that did not
    load, script errors, console lines in Chromium's log, the page's load time (from navigation
    start to its ``load`` event) and the wall time of the whole browser run."""

    sections: list[str]
    images: int
    broken: list[str]
    errors: list[str]
    console: list[str]
    load_ms: float
    browser_s: float


def find_chromium() -> str | None:
    """The path of a Chromium (or Chrome) on ``PATH``, or None."""
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    return None


def check_page(page: str | Path, browser: str | None = None, timeout: float = 60.0) -> PageCheck:
    """Load ``page`` in headless Chromium and report what it saw (see ``PageCheck``)."""
    browser = browser or find_chromium()
    if browser is None:
        raise FileNotFoundError(f"no Chromium on PATH (looked for {', '.join(BROWSERS)})")
    text = Path(page).read_text(encoding="utf-8")
    text = re.sub(r"<head>", lambda m: m.group(0) + _COLLECT_ERRORS, text, count=1)
    text = re.sub(r"</body>", lambda m: _REPORT_FINDINGS + m.group(0), text, count=1)
    with tempfile.TemporaryDirectory(prefix="seglab-page-") as tmp:
        copy = Path(tmp) / "page.html"
        copy.write_text(text, encoding="utf-8")
        cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-extensions",
               "--no-first-run", f"--user-data-dir={Path(tmp) / 'profile'}", "--enable-logging=stderr", "--v=0",
               "--virtual-time-budget=10000", "--dump-dom", copy.as_uri()]
        start = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        seconds = time.perf_counter() - start
    found = re.search(r'<pre id="seglab-check">(.*?)</pre>', done.stdout, re.S)
    if found is None:
        raise RuntimeError(f"Chromium did not report on the page (exit {done.returncode}): {done.stderr[-2000:]}")
    result = json.loads(_unescape(found.group(1)))
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    return PageCheck(sections=result["sections"], images=result["images"], broken=result["broken"],
                     errors=result["errors"], console=console, load_ms=float(result["load_ms"]), browser_s=seconds)


def _unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"').replace("&amp;", "&")
