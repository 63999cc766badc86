"""report/report.html in a real headless browser (Debian's chromium, driven by playwright).

It reads what `make report` built and never builds it. Without the page, chromium or playwright
these tests skip, unless SCRATCHNET_REQUIRE_REPORT=1 (as in CI), where they fail.
"""
import os
import re
import shutil
from pathlib import Path

import pytest

from scratchnet.report import pipeline

from test_report_pipeline import normalize, title_words, unavailable

REPO = Path(__file__).resolve().parents[1]
HTML = REPO / "report" / "report.html"
MERGED = REPO / "build" / "report" / "report.ipynb"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]
LOCAL = ("file:", "data:", "about:", "blob:")


def chromium():
    return os.environ.get("SCRATCHNET_CHROMIUM") or shutil.which("chromium") or shutil.which(
        "chromium-browser")


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright is not installed in the venv (make venv installs it)")
    executable = chromium()
    if executable is None:
        unavailable("chromium is not installed (tools/ensure-browser.sh installs it)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


def open_page(browser, path):
    """The page at ``path``, loaded and typeset, and every request it made (URLs); requests
    that would leave the machine are recorded and refused."""
    page = browser.new_page()
    requests = []
    page.on("request", lambda request: requests.append(request.url))

    def refuse_remote(route):
        if route.request.url.startswith(LOCAL):
            route.continue_()
        else:
            requests.append(route.request.url)
            route.abort()

    page.route("**/*", refuse_remote)
    page.goto(Path(path).resolve().as_uri(), wait_until="load")
    return page, requests


def leaving(requests):
    return sorted({url for url in requests if not url.startswith(LOCAL)})


def test_the_request_monitor_sees_a_page_that_reaches_out(browser, tmp_path):
    # Without this, a monitor that records nothing would pass the report's test below.
    page_file = tmp_path / "reaching.html"
    page_file.write_text('<html><body><img src="http://127.0.0.1:9/x.png">'
                         '<script src="https://cdn.invalid/katex.js"></script></body></html>')
    page, requests = open_page(browser, page_file)
    page.close()
    assert leaving(requests) == ["http://127.0.0.1:9/x.png", "https://cdn.invalid/katex.js"]


@pytest.fixture(scope="module")
def report(browser):
    if not HTML.exists():
        unavailable(f"{HTML.relative_to(REPO)} is not built; run make report (or QUICK=1)")
    if not MERGED.exists() or MERGED.stat().st_mtime > HTML.stat().st_mtime:
        unavailable(f"{HTML.relative_to(REPO)} is older than {MERGED.relative_to(REPO)}; "
                    "run make report")
    merged = pipeline.read_notebook(MERGED)
    page, requests = open_page(browser, HTML)
    page.wait_for_selector("body[data-math=typeset]", timeout=60_000)
    yield {"page": page, "requests": requests, "merged": merged, "info": merged.metadata.scratchnet}
    page.close()


def test_no_request_leaves_the_machine_and_the_page_stands_alone(report):
    assert leaving(report["requests"]) == [], "the page reached out"
    files = sorted({url for url in report["requests"] if url.startswith("file:")})
    assert files == [HTML.resolve().as_uri()], f"the page loads other files: {files}"


def test_every_image_loads_and_every_figure_is_numbered(report):
    page = report["page"]
    images = page.eval_on_selector_all(
        "img", "imgs => imgs.map(i => ({ok: i.complete && i.naturalWidth > 0, alt: i.alt}))")
    broken = [image["alt"][:60] for image in images if not image["ok"]]
    assert images and not broken, f"{len(broken)} of {len(images)} images did not load: {broken}"
    expected = report["info"]["figures"]
    captions = page.eval_on_selector_all("figure.sn-figure figcaption",
                                         "cs => cs.map(c => c.innerText)")
    numbers = [int(m.group(1)) for c in captions for m in [re.match(r"Figure (\d+):", c)] if m]
    assert numbers == list(range(1, expected + 1)), (
        f"{expected} show_figure outputs, captions numbered {numbers}")


def test_the_maths_is_typeset(report):
    page = report["page"]
    typeset = page.locator(".katex").count()
    errors = page.eval_on_selector_all(".katex-error", "es => es.map(e => e.title || e.innerText)")
    assert not errors, f"KaTeX could not typeset {len(errors)} formulas: {errors[:3]}"
    # Text left with a delimiter or a TeX command outside code is maths KaTeX never saw.
    raw = page.evaluate("""() => {
        const found = [];
        const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
        while (walk.nextNode()) {
            const node = walk.currentNode;
            if (node.parentElement.closest(".katex, pre, code, script, style")) continue;
            if (/\\$|\\\\(frac|mathbb|mathbf|epsilon|sum|top|begin)\\b/.test(node.textContent))
                found.push(node.textContent.trim().slice(0, 80));
        }
        return found;
    }""")
    assert not raw, f"untypeset maths in the page's text: {raw[:5]}"
    display_maths = sum(cell.source.count("$$") // 2 for cell in report["merged"].cells
                        if cell.cell_type == "markdown")
    assert typeset >= display_maths > 0, f"{typeset} formulas typeset, {display_maths} displays"


def test_every_section_is_there_in_order_with_a_contents_entry(report):
    page = report["page"]
    headings = page.eval_on_selector_all(".jp-Cell h1[id]",
                                         "hs => hs.map(h => ({id: h.id, text: h.innerText}))")
    texts = [normalize(h["text"]) for h in headings]
    positions = []
    for title in report["info"]["sections"]:
        words = title_words(title)
        found = [i for i, text in enumerate(texts) if all(w in text for w in words)]
        assert found, f"section {title!r} has no heading in the page (headings: {texts})"
        positions.append(found[0])
    assert positions == sorted(positions), "the sections are out of order"
    contents = set(page.eval_on_selector_all("nav#contents a",
                                             "as => as.map(a => a.getAttribute('href'))"))
    missing = [h["text"] for h in headings if f"#{h['id']}" not in contents]
    assert not missing, f"headings missing from the contents: {missing}"
    ids = page.eval_on_selector_all("[id]", "es => es.map(e => e.id)")
    assert len(ids) == len(set(ids)), "duplicate ids: the contents' links would be ambiguous"


def test_the_title_page_carries_the_stamp_and_no_code_is_shown(report):
    page = report["page"]
    stamp = page.inner_text("table#stamp")
    record = report["info"]["stamp"]
    for needle in ("Python", "NumPy", record["numpy"], "SciPy", record["scipy"], "BLAS",
                   "kernel", "CPU", record["cpu"]["model"], "Vector extensions",
                   *record["cpu"]["simd"]["found"], "Commit"):
        assert needle in stamp, f"{needle!r} is not in the page's stamp:\n{stamp}"
    for name, entry in record["data"].items():
        assert entry and entry["sha256"] in stamp, f"the sha256 of {name} is not in the stamp"
    assert ("Quick build" in page.inner_text("header.sn-title")) == bool(report["info"]["quick"])
    assert page.locator(".jp-InputArea-editor").count() == 0, "code cells are in the page"

