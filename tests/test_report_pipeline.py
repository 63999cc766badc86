"""Checks of the built report: report/report.pdf and the executed notebooks it came from.

They read what `make report` built and never build it themselves. Without a report they skip,
unless SCRATCHNET_REQUIRE_REPORT=1 (as in CI, after `make report QUICK=1`), where a missing or
stale report fails.
"""
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from scratchnet.report import pipeline

REPO = Path(__file__).resolve().parents[1]
PDF = REPO / "report" / "report.pdf"
MERGED = REPO / "build" / "report" / "report.ipynb"
LOG = REPO / "build" / "report" / "report.log"
APPENDIX = "Appendix: the package source"
REQUIRED = os.environ.get("SCRATCHNET_REQUIRE_REPORT") == "1"


def unavailable(reason):
    """Fail when the report is required, else skip: the report is an optional build product."""
    if REQUIRED:
        pytest.fail(f"{reason} (SCRATCHNET_REQUIRE_REPORT=1)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def report():
    """The merged notebook's metadata, the executed notebooks, and the PDF's text."""
    if not PDF.exists():
        unavailable(f"{PDF.relative_to(REPO)} is not built; run make report (or QUICK=1)")
    if not MERGED.exists():
        unavailable(f"{MERGED.relative_to(REPO)} is missing beside the PDF; run make report")
    info = pipeline.read_notebook(MERGED).metadata.scratchnet
    built_from = sorted(Path(p).stem for p in info["sources"])
    current = sorted(p.stem for p in (REPO / "notebooks").glob("*.ipynb"))
    if built_from != current:
        unavailable(f"the report is stale: built from {built_from}, notebooks/ has {current}; "
                    "run make report")
    if shutil.which("pdftotext") is None:
        unavailable("pdftotext is not installed (poppler-utils; tools/ensure-tex.sh installs it)")
    text = subprocess.run(["pdftotext", "-enc", "UTF-8", str(PDF), "-"], check=True,
                          capture_output=True, text=True).stdout
    executed = {Path(p).stem: pipeline.read_notebook(REPO / p) for p in info["sources"]}
    return {"info": info, "executed": executed, "text": text}


def normalize(text):
    """Text as pdftotext and pandoc leave it comparable: one space, plain quotes and dashes."""
    for fancy, plain in (("’", "'"), ("‘", "'"), ("“", '"'), ("”", '"'), ("–", "-"),
                         ("—", "-"), ("ﬁ", "fi"), ("ﬂ", "fl"), ("ﬀ", "ff")):
        text = text.replace(fancy, plain)
    return " ".join(text.split())


def title_words(title):
    """The parts of a markdown heading that reach the PDF as plain text (no maths, no marks)."""
    parts = re.split(r"\$[^$]*\$", title)
    return [normalize(re.sub(r"[*_`]", "", part)) for part in parts if part.strip()]


def body(text):
    """The PDF's text after the table of contents and before the appendix."""
    start = text.find(APPENDIX)                         # the contents list it first,
    end = text.find(APPENDIX, start + len(APPENDIX))    # then comes the appendix's heading
    return text[start + len(APPENDIX):end] if 0 <= start < end else text


def test_every_section_title_is_in_the_pdf(report):
    text = normalize(report["text"])
    for stem, nb in report["executed"].items():
        title = pipeline.section_title(nb)
        assert title, f"{stem}: its first cell does not open with '# <section title>'"
        for words in title_words(title):
            assert words in text, f"section title {title!r} of {stem} is not in the PDF's text"


def test_sections_are_in_the_order_of_the_notebook_names(report):
    stems = list(report["executed"])
    assert stems == sorted(stems), f"the report merged the notebooks out of order: {stems}"
    text = normalize(body(report["text"]))
    positions = [text.find(title_words(pipeline.section_title(nb))[0])
                 for nb in report["executed"].values()]
    assert positions == sorted(positions), "the sections appear out of order in the PDF"


def test_every_show_figure_output_is_a_numbered_figure(report):
    expected = sum(len(pipeline.image_outputs(nb)) for nb in report["executed"].values())
    numbers = sorted({int(n) for n in re.findall(r"Figure (\d+):", report["text"])})
    assert numbers == list(range(1, expected + 1)), (
        f"the executed notebooks have {expected} show_figure outputs, the PDF's captions are "
        f"numbered {numbers}")


def test_no_executed_notebook_holds_an_error(report):
    for stem, nb in report["executed"].items():
        errors = pipeline.error_outputs(nb)
        assert not errors, f"{stem}: error output in cell {errors[0][0]}: {errors[0][1]}"


def test_no_code_in_the_body(report):
    text = normalize(body(report["text"]))
    for stem, nb in report["executed"].items():
        for cell in nb.cells:
            if cell.cell_type != "code" or "injected-parameters" in cell.metadata.get("tags", []):
                continue
            for line in cell.source.splitlines():
                line = normalize(line)
                if len(line) >= 20 and not line.startswith("#"):
                    assert line not in text, f"code of {stem} is in the PDF's body: {line!r}"


def test_no_raw_latex_or_html_in_the_text(report):
    text = body(report["text"])
    for leak in ("\\begin{", "\\end{", "\\section", "\\caption", "<table", "<div", "</", "$$"):
        assert leak not in text, f"{leak!r} leaked into the PDF's text"


def test_no_character_went_missing(report):
    if not LOG.exists():
        unavailable(f"{LOG.relative_to(REPO)} is missing; run make report")
    missing = pipeline.missing_characters(LOG.read_text(errors="replace"))
    assert not missing, f"the fonts lack {missing}: they vanished from the PDF"


def test_title_page_and_contents(report):
    text = normalize(report["text"])
    assert text.startswith(normalize(pipeline.TITLE))
    assert "Contents" in text[:3000]
    assert ("Quick build" in text[:1500]) == bool(report["info"]["quick"])


def test_the_title_page_carries_the_stamp(report):
    first_page = normalize(report["text"].split("\f", 1)[0])
    record = report["info"]["stamp"]
    for needle in ("Python", record["python"], "NumPy", record["numpy"], "SciPy",
                   record["scipy"], "BLAS", "kernel", "CPU", record["cpu"]["model"],
                   "Vector extensions", *record["cpu"]["simd"]["found"], "Commit",
                   record["commit"] or "unknown"):
        assert needle in first_page, f"{needle!r} is not on the PDF's title page"
    for name, entry in record["data"].items():
        assert entry and entry["sha256"] in first_page.replace(" ", ""), (
            f"the sha256 of {name} is not on the PDF's title page")


def test_every_results_json_carries_the_stamp(report):
    for source in report["info"]["sources"]:
        results = pipeline.results_path_for(REPO / source)
        stamp = json.loads(results.read_text()).get("stamp")
        assert stamp, f"{results.relative_to(REPO)} has no stamp"
        assert set(stamp) >= {"python", "numpy", "scipy", "blas", "cpu", "commit", "data"}
