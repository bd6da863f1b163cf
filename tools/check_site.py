"""Check the book site and the pages of `d2lconv run` in a real headless Chromium, over the DevTools protocol.

    python tools/check_site.py BUILD/site/html --screenshot BUILD/site/screenshot.png [--http]
    python tools/check_site.py --run-page BUILD/numpy/pooling.html
    python tools/check_site.py --shot BUILD/site/html/pooling.html#softmax-pooling shot.png

Chromium runs with every network request blocked (a dead proxy, a host resolver that finds
nothing, DevTools' offline mode for file:// pages), and the check fails on:
- any request that is not to the site itself (file:// or the loopback server), or that fails;
- math: a .math element MathJax did not typeset, raw TeX ($$, \\(, \\[) in the visible text;
- a figure that does not load (an <img> with no pixels);
- tabs: the first page not open on numpy; a click on "PyTorch" not switching every tab-set on the
  page to PyTorch's outputs; the choice not kept on the next page reached from the index;
- an index link that does not open its chapter;
- code, an output or a display equation wider than its column (it would scroll sideways).
Saves a screenshot of the first chapter with the PyTorch tabs open. A page of `d2lconv run`
(``--run-page``, and every one in the site's build directory) fails on math MathJax did not
typeset, a figure that does not load, or any request off the page.
"""

from __future__ import annotations

import argparse
import base64
import http.server
import json
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request
from functools import partial
from pathlib import Path

import websocket  # websocket-client

CHECKED_TABS = ("[...document.querySelectorAll('.sd-tab-set')]"
                ".map(s => s.querySelector('input:checked + label').dataset.syncId)")
VISIBLE_OUTPUTS = ("[...document.querySelectorAll('.sd-tab-content')]"
                   ".filter(c => c.offsetParent).map(c => c.innerText).join('\\n')")


class CDP:
    def __init__(self, ws_url: str):
        self.ws = websocket.create_connection(ws_url, timeout=30)
        self.next_id = 0
        self.events: list[dict] = []

    def call(self, method: str, **params):
        self.next_id += 1
        my_id = self.next_id
        self.ws.send(json.dumps({"id": my_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == my_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self.events.append(msg)

    def wait_event(self, name: str, timeout: float = 20):
        end = time.time() + timeout
        while time.time() < end:
            for i, e in enumerate(self.events):
                if e.get("method") == name:
                    return self.events.pop(i)
            self.ws.settimeout(max(0.1, end - time.time()))
            try:
                self.events.append(json.loads(self.ws.recv()))
            except websocket.WebSocketTimeoutException:
                break
        raise TimeoutError(name)

    def js(self, expr: str, await_promise: bool = False):
        r = self.call("Runtime.evaluate", expression=expr, returnByValue=True, awaitPromise=await_promise)
        if "exceptionDetails" in r:
            raise RuntimeError(f"JS error in {expr[:80]!r}: {r['exceptionDetails']}")
        return r["result"].get("value")

    def goto(self, url: str):
        self.events.clear()
        self.call("Page.navigate", url=url)
        self.wait_event("Page.loadEventFired")
        # MathJax 3 typesets after DOMContentLoaded; its startup promise resolves when done
        self.js("(window.MathJax && MathJax.startup && MathJax.startup.promise) || Promise.resolve()", True)

    def screenshot(self, path: Path):
        data = self.call("Page.captureScreenshot", format="png")["data"]
        path.write_bytes(base64.b64decode(data))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def chromium_binary() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return name
    raise SystemExit("no Chromium found: apt-get install chromium (nox -s site installs it)")


RAW_TEX = r"\$\$[^$]+\$\$|\$[^$\s][^$]*\$|\\\(.+?\\\)|\\\[.+?\\\]"
#: the prose of an nbconvert page (code and outputs are <pre>, where MathJax never looks)
RUN_PAGE_PROSE = "[...document.querySelectorAll('.jp-RenderedMarkdown')].map(e => e.innerText).join('\\n')"


#: what must fit the site's column: code, outputs, display equations
SITE_WIDE = "div.highlight pre, div.cell_output pre, .output pre, mjx-container[display]"


class Checks:
    """Prints each check and keeps the ones that failed."""

    def __init__(self) -> None:
        self.failures: list[str] = []

    def __call__(self, ok: bool, what: str) -> None:
        print(("ok   " if ok else "FAIL ") + what)
        if not ok:
            self.failures.append(what)


def figures_load(cdp: CDP, check: Checks) -> None:
    images = cdp.js("[...document.images].map(i => [i.currentSrc.split('/').pop().slice(0, 40),"
                    " i.complete && i.naturalWidth > 0])")
    broken = [name for name, ok in images if not ok]
    check(not broken, f"  {len(images)} figures, every one loads {broken[:3]}")


def nothing_cut_off(cdp: CDP, check: Checks, selector: str) -> None:
    """No code, output or display equation wider than its box (it would scroll sideways)."""
    wide = cdp.js(f"[...document.querySelectorAll({json.dumps(selector)})]"
                  ".filter(e => e.offsetParent && e.scrollWidth > e.clientWidth + 1)"
                  ".map(e => e.innerText.trim().split('\\n')[0].slice(0, 60))")
    check(not wide, f"  nothing scrolls sideways (code, outputs, equations) {wide[:3]}")


def check_site(cdp: CDP, base: str, check: Checks, drain, screenshot: Path) -> None:
    """The book site: index, chapters (math, figures, widths), tabs, the choice kept."""
    # the index: a table of chapters x backends, every link opens its chapter
    cdp.goto(base + "index.html")
    drain()
    table = cdp.js("document.querySelector('table') ? document.querySelector('table').innerText : ''")
    links = cdp.js("[...document.querySelectorAll('table a')].map(a => a.href)")
    check(bool(links) and "agrees" in table and "DISAGREES" not in table,
          f"index: {len(links)} chapters, every backend agrees")
    chapters = []
    for link in links:
        cdp.goto(link)
        drain()
        title = cdp.js("document.querySelector('h1') ? document.querySelector('h1').innerText : ''")
        check(bool(title) and cdp.js("document.querySelectorAll('.sd-tab-set').length") > 0,
              f"{link.rsplit('/', 1)[-1]}: opens ({title.strip()[:50]!r}) with output tabs")
        n_math = cdp.js("document.querySelectorAll('span.math, div.math').length")
        n_typeset = cdp.js("document.querySelectorAll('.math mjx-container').length")
        text = cdp.js("document.body.innerText")
        raw = [tok for tok in ("$$", "\\(", "\\[") if tok in text]
        check(n_math == 0 or n_typeset == n_math,
              f"  math: {n_typeset} of {n_math} formulas typeset by MathJax")
        check(not raw, f"  no raw TeX in the visible text (found {raw})")
        figures_load(cdp, check)
        nothing_cut_off(cdp, check, SITE_WIDE)
        chapters.append(link)

    # tabs on the first chapter: numpy first, one click on PyTorch switches them all
    cdp.js("localStorage.clear()")
    cdp.goto(chapters[0])
    drain()
    first = cdp.js(CHECKED_TABS)
    check(set(first) == {"numpy"}, f"{len(first)} tab-sets, all open on numpy at first")
    box = cdp.js("(() => { const l = document.querySelector('.sd-tab-set label[data-sync-id=torch]');"
                 "l.scrollIntoView({block: 'center'}); const r = l.getBoundingClientRect();"
                 "return [r.x + r.width / 2, r.y + r.height / 2]; })()")
    for kind in ("mousePressed", "mouseReleased"):
        cdp.call("Input.dispatchMouseEvent", type=kind, x=box[0], y=box[1], button="left", clickCount=1)
    time.sleep(0.3)
    after = cdp.js(CHECKED_TABS)
    check(set(after) == {"torch"}, f"one click on 'PyTorch' switched all {len(after)} tab-sets")
    visible = cdp.js(VISIBLE_OUTPUTS)
    check("'torch' backend" in visible and "'numpy' backend" not in visible,
          "the visible outputs are PyTorch's, numpy's are hidden")
    cdp.js("[...document.querySelectorAll('.sd-tab-set')].find(s => s.querySelector('img'))"
           ".previousElementSibling.scrollIntoView()")
    time.sleep(0.3)
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    cdp.screenshot(screenshot)
    print(f"screenshot: {screenshot}")
    # remembered: the next chapter, reached through the index, opens on PyTorch
    cdp.goto(base + "index.html")
    cdp.js("document.querySelectorAll('table a')[1 % document.querySelectorAll('table a').length].click()")
    cdp.wait_event("Page.loadEventFired")
    time.sleep(0.3)
    drain()
    check(set(cdp.js(CHECKED_TABS)) == {"torch"}, "the choice is kept on the next page")


def check_run_page(cdp: CDP, page: Path, check: Checks, drain) -> None:
    """A page of `d2lconv run` (BUILD/BACKEND/CHAPTER.html): its math typeset, its figures there."""
    cdp.goto(page.resolve().as_uri())
    drain()
    title = cdp.js("document.querySelector('h1') ? document.querySelector('h1').innerText : ''")
    check(bool(title), f"{page.parent.name}/{page.name}: opens ({title.strip()[:50]!r})")
    n_typeset = cdp.js("document.querySelectorAll('mjx-container').length")
    raw = re.findall(RAW_TEX, cdp.js(RUN_PAGE_PROSE))
    check(n_typeset > 0 and not raw, f"  math: {n_typeset} formulas typeset by MathJax, "
                                     f"{len(raw)} left as raw TeX {raw[:3]}")
    figures_load(cdp, check)


def check_layout(cdp: CDP, page: Path, check: Checks, drain) -> None:
    """One page of the site: its math typeset and nothing wider than the column."""
    cdp.goto(page.resolve().as_uri())
    drain()
    n_typeset = cdp.js("document.querySelectorAll('.math mjx-container').length")
    check(n_typeset > 0, f"{page.name}: {n_typeset} formulas typeset")
    nothing_cut_off(cdp, check, SITE_WIDE)


def take_shots(cdp: CDP, shots: list[tuple[str, str]], drain) -> None:
    """Screenshots of URLs (with #anchors): the page is loaded without the anchor, typeset, then
    scrolled to it, so MathJax's re-layout after the jump cannot leave the view somewhere else."""
    for url, out in shots:
        page, _, anchor = url.partition("#")
        cdp.goto(page if "://" in page else Path(page).resolve().as_uri())
        if anchor:
            found = cdp.js(f"(() => {{ const e = document.getElementById({json.dumps(anchor)});"
                           " if (e) e.scrollIntoView(); return !!e; })()")
            if not found:
                raise SystemExit(f"no element #{anchor} on {page}")
        time.sleep(0.3)
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        cdp.screenshot(Path(out))
        drain()
        print(f"screenshot: {out}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("site", type=Path, nargs="?", help="the site's html folder (BUILD/site/html)")
    parser.add_argument("--screenshot", type=Path, help="where to save the site's screenshot (PNG)")
    parser.add_argument("--http", action="store_true", help="serve the site on loopback instead of file://")
    parser.add_argument("--run-page", type=Path, action="append", default=[], metavar="HTML",
                        help="also check this page of `d2lconv run` (BUILD/BACKEND/CHAPTER.html); the site's "
                             "own build directory's pages are checked with it")
    parser.add_argument("--page-layout", type=Path, action="append", default=[], metavar="HTML",
                        help="check only that this site page's code, outputs and equations fit its column")
    parser.add_argument("--shot", nargs=2, action="append", default=[], metavar=("URL", "PNG"),
                        help="save a screenshot of URL (a file path or URL, #anchor allowed) as PNG")
    parser.add_argument("--width", type=int, default=1280, help="window width (default 1280)")
    args = parser.parse_args()
    if args.site and not args.screenshot:
        parser.error("checking a site needs --screenshot")
    if not (args.site or args.run_page or args.shot or args.page_layout):
        parser.error("give a site, --run-page, --page-layout or --shot")
    site = args.site.resolve() if args.site else None
    run_pages = list(args.run_page)
    if site and site.parent.name == "site":  # BUILD/site/html: BUILD/BACKEND/CHAPTER.html are its runs' pages
        run_pages += sorted(p for p in site.parent.parent.glob("*/*.html") if p.parent.name != "site")
    server = None
    if args.http and site:
        class Quiet(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *a):
                pass
        server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), partial(Quiet, directory=str(site)))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{server.server_address[1]}/"
    else:
        base = site.as_uri() + "/" if site else ""
    debug_port, profile = free_port(), tempfile.mkdtemp(prefix="chromium-profile-")
    chrome = subprocess.Popen(
        [chromium_binary(), "--headless", "--no-sandbox", "--disable-gpu", f"--remote-debugging-port={debug_port}",
         f"--user-data-dir={profile}", f"--window-size={args.width},1600", "--no-first-run",
         "--proxy-server=127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    check = Checks()

    try:
        for _ in range(150):
            try:
                targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{debug_port}/json"))
                page = next(t for t in targets if t["type"] == "page")
                break
            except Exception:
                time.sleep(0.2)
        else:
            raise RuntimeError("Chromium did not start")
        cdp = CDP(page["webSocketDebuggerUrl"])
        cdp.call("Page.enable")
        cdp.call("Network.enable")
        if not (args.http and site):  # DevTools' offline mode would block the loopback server too
            cdp.call("Network.emulateNetworkConditions", offline=True, latency=0,
                     downloadThroughput=-1, uploadThroughput=-1)
        requested: list[str] = []
        failed: list[str] = []

        def drain() -> None:
            for event in cdp.events:
                if event.get("method") == "Network.requestWillBeSent":
                    requested.append(event["params"]["request"]["url"])
                elif event.get("method") == "Network.loadingFailed":
                    failed.append(f"{event['params'].get('errorText')} {event['params'].get('requestId')}")
            cdp.events.clear()

        if site:
            check_site(cdp, base, check, drain, args.screenshot)
        for run_page in run_pages:
            check_run_page(cdp, run_page, check, drain)
        for layout_page in args.page_layout:
            check_layout(cdp, layout_page, check, drain)
        take_shots(cdp, args.shot, drain)

        drain()
        remote = [u for u in requested if not u.startswith(("file:", "data:", "http://127.0.0.1"))]
        check(not remote, f"{len(requested)} requests, none leaves the pages {remote[:3]}")
        check(not failed, f"no failed loads {failed[:3]}")
    finally:
        chrome.terminate()
        chrome.wait(10)
        shutil.rmtree(profile, ignore_errors=True)
        if server:
            server.shutdown()
    print(f"{len(check.failures)} check(s) failed" if check.failures else "all checks passed")
    return 1 if check.failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
