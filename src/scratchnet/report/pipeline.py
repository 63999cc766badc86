"""The report's pipeline: run each notebook with papermill, merge them, render a PDF and a page.

``run SRC OUT [--quick]`` executes one notebook into its build copy; ``render OUT.pdf EXECUTED...
[--html OUT.html]`` merges them in order into a PDF (xelatex) and a page that loads nothing
(KaTeX inlined). A notebook opens with a markdown ``# <section title>``, takes ``quick`` and
``results_path`` as parameters, and shows figures with :func:`scratchnet.report.show_figure`."""
import argparse
import base64
import copy
import json
import logging
import math
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import nbformat

from ..files import REPO, copy_atomic, one_line
from .stamp import environment, git_repository, stamp, stamp_lines

TITLE = "scratchnet: Deep Learning from Scratch"
# The core of the package, which the appendix lists: the maths and the training loop.
CORE = ("activations", "layers", "loss", "network", "optim", "train", "verify")
# The longest cell of the full report takes about two minutes here: half an hour is a hang.
DEFAULT_CELL_TIMEOUT = 1800
TIMEOUT_VARIABLE = "SCRATCHNET_CELL_TIMEOUT"
# Debian's libjs-katex; $SCRATCHNET_KATEX may name another KaTeX dist folder (npm's katex/dist).
KATEX_DIR = "/usr/share/javascript/katex"


class PipelineError(RuntimeError):
    """A step of the report failed; the message is one line that says which and where."""


def _rel(path, root=REPO):
    """``path`` relative to ``root`` (the repo, for messages) when it is inside it."""
    path, root = Path(path).resolve(), Path(root).resolve()
    return str(path.relative_to(root) if path.is_relative_to(root) else path)


def cell_timeout(environ=None):
    """Seconds a cell may run: ``$SCRATCHNET_CELL_TIMEOUT``, else :data:`DEFAULT_CELL_TIMEOUT`."""
    text = (os.environ if environ is None else environ).get(TIMEOUT_VARIABLE, "").strip()
    try:
        seconds = float(text or DEFAULT_CELL_TIMEOUT)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds >= 1):
        raise PipelineError(f"{TIMEOUT_VARIABLE}={text!r}: expected the seconds a cell may run, "
                            "a number >= 1 (make report CELL_TIMEOUT=SECONDS)")
    return math.ceil(seconds)


def read_notebook(path):
    """The notebook at ``path``, as nbformat 4."""
    return nbformat.read(str(path), as_version=4)


def section_title(nb):
    """The text of the level-1 heading that opens the notebook's first markdown cell, or None."""
    cell = next((cell for cell in nb.cells if cell.cell_type == "markdown"), None)
    lines = [line for line in cell.source.splitlines() if line.strip()] if cell else []
    match = re.match(r"#\s+(.+?)\s*#*\s*$", lines[0]) if lines else None
    return match.group(1) if match else None


def _figures(nb):
    """The metadata of each ``show_figure`` output of ``nb`` (a PNG with a caption), in order."""
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            meta = output.get("metadata", {}).get("image/png", {})
            if "image/png" in output.get("data", {}) and meta.get("caption"):
                yield meta


def image_outputs(nb):
    """(caption, name) of each ``show_figure`` output of ``nb``."""
    return [(meta["caption"], meta.get("name")) for meta in _figures(nb)]


def error_outputs(nb):
    """(cell number counted from 1, "ename: evalue") of every error output in ``nb``."""
    return [(i, f"{out.get('ename')}: {out.get('evalue')}")
            for i, cell in enumerate(nb.cells, 1)
            for out in cell.get("outputs", []) if out.get("output_type") == "error"]


def results_path_for(out):
    """Where a notebook executed to ``out`` writes its key numbers: beside it, ``.json``."""
    return Path(out).with_suffix(".json")


def failure_paths(out):
    """(failed executed copy, one-line message file) of a notebook executed to ``out``."""
    folder = Path(out).parent / "failed"
    return folder / Path(out).name, folder / f"{Path(out).stem}.txt"


def _timed_out_cell(partial):
    """(source, traceback) of the cell a timeout stopped, from the partly executed copy: the one
    holding the KeyboardInterrupt of the kernel's shutdown, else the last one papermill started."""
    try:
        cells = [cell for cell in read_notebook(partial).cells if cell.cell_type == "code"]
    except Exception:  # no copy, or an unreadable one: the message names no cell
        return None, None
    for cell in cells:
        errors = [out for out in cell.get("outputs", []) if out.get("output_type") == "error"]
        if errors:
            return cell.source, errors[0].get("traceback")
    started = [cell for cell in cells if cell.metadata.get("papermill", {}).get("start_time")]
    return (started[-1].source, None) if started else (None, None)


def describe_failure(src, err, src_nb=None, partial=None, timeout=None):
    """One line naming the notebook, the cell (and its line) and the exception of a failure; for
    a cell over the time limit ``timeout``, the partly executed copy ``partial`` tells which."""
    from nbclient.exceptions import CellTimeoutError
    from papermill.exceptions import PapermillExecutionError

    if isinstance(err, CellTimeoutError):
        source, traceback = _timed_out_cell(partial)
        where = "a cell"
        what = (f"the cell ran over the time limit of {f'{timeout} s' if timeout else 'its limit'} "
                f"per cell ({TIMEOUT_VARIABLE}, or make report CELL_TIMEOUT=SECONDS, sets it)")
    elif isinstance(err, PapermillExecutionError):
        source, traceback = err.source, err.traceback
        where = f"the cell In [{err.exec_count}]"
        what = f"{err.ename}: {one_line(err.evalue, 160)}"
    else:
        return f"{_rel(src)} failed: {type(err).__name__}: {one_line(err, 200)}"
    cells = enumerate(src_nb.cells if src_nb is not None and source else [], 1)
    where = next((f"cell {i}" for i, c in cells
                  if c.cell_type == "code" and c.source.strip() == source.strip()), where)
    # IPython's traceback opens with the cell ("Cell In[4], line 2"); "---->" marks the line.
    plain = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(traceback or []))
    line = re.search(r"^Cell In\[.*?^-+>[ \t]*(\d+)[ \t]([^\n]*)$", plain, re.M | re.S)
    if line:
        where += f", line {line.group(1)} ({one_line(line.group(2), 60)!r})"
    elif isinstance(err, PapermillExecutionError):
        # A traceback without the cell's frame (a one-line _render_traceback_): its first line.
        first = next((text for text in (source or "").splitlines() if text.strip()), "")
        where += f", line 1 ({one_line(first, 60)!r})"
    return f"{_rel(src)} failed in {where}: {what}"


def execute(src, out, parameters, cwd, timeout):
    """papermill's run of ``src`` into ``out``, each cell within ``timeout`` seconds; a failing
    cell raises, and as the caller says so in one line, papermill's own log stays quiet."""
    import papermill

    quiet = logging.getLogger("papermill")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)
    try:
        papermill.execute_notebook(
            str(src), str(out), parameters=parameters, cwd=str(cwd), progress_bar=False,
            log_output=False, execution_timeout=timeout,
            # ipykernel 7 logs a warning about its TCP transport on every start, and an error
            # when it is shut down by an interrupt: noise here (a failing cell raises anyway).
            extra_arguments=["--IPKernelApp.log_level=CRITICAL"])
    finally:
        quiet.setLevel(level)


def run_notebook(src, out, *, quick=False, cwd=REPO, log=sys.stderr, timeout=None):
    """Execute ``src`` into ``out`` in ``cwd`` with ``quick`` and ``results_path``; return seconds.
    A stale results JSON goes first. The copy reaches ``out`` only on success (make never takes a
    failed run for done), else :func:`failure_paths`, with the line :class:`PipelineError` has."""
    timeout = cell_timeout() if timeout is None else timeout
    src, out = Path(src), Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    results = results_path_for(out)
    failed_nb, failed_msg = failure_paths(out)
    for stale in (out, failed_nb, failed_msg, results):
        stale.unlink(missing_ok=True)
    tmp = out.parent / f".{out.stem}.{os.getpid()}.partial.ipynb"
    print(f"run     {_rel(src)} ({'quick' if quick else 'full'})", file=log, flush=True)
    start = time.perf_counter()
    try:
        execute(src, tmp, {"quick": bool(quick), "results_path": _rel(results, cwd)}, cwd, timeout)
    except Exception as err:
        message = describe_failure(src, err, read_notebook(src), partial=tmp, timeout=timeout)
        failed_nb.parent.mkdir(parents=True, exist_ok=True)
        if tmp.exists():
            os.replace(tmp, failed_nb)
            message += f" (executed copy: {_rel(failed_nb)})"
        failed_msg.write_text(f"error: {message}\n")
        raise PipelineError(message) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, out)
    seconds = time.perf_counter() - start
    print(f"done    {_rel(src)} in {seconds:.1f} s", file=log, flush=True)
    return seconds


def merge(notebooks, *, title=TITLE, authors=("The scratchnet team",), names=None, extra=None):
    """One new notebook of the cells of ``notebooks`` in order, each cell with a fresh id; its
    ``metadata.scratchnet`` holds ``sources`` (``names``), ``sections``, ``quick`` and ``extra``."""
    notebooks = list(notebooks)
    if not notebooks:
        raise PipelineError("nothing to merge: no executed notebooks given")
    names = list(names) if names is not None else [f"notebook {i}" for i in range(len(notebooks))]
    cells = [copy.deepcopy(cell) for nb in notebooks for cell in nb.cells]
    for cell in cells:
        # Copies of one template share ids; 122 random bits make each fresh one unique.
        cell["id"] = uuid.uuid4().hex
    merged = nbformat.v4.new_notebook(cells=cells)
    for key in ("kernelspec", "language_info"):
        if key in notebooks[0].metadata:
            merged.metadata[key] = copy.deepcopy(notebooks[0].metadata[key])
    merged.metadata.update(title=title, authors=[{"name": name} for name in authors])
    merged.metadata["scratchnet"] = {
        "sources": names, "sections": [section_title(nb) for nb in notebooks],
        "quick": any((nb.metadata.get("papermill", {}).get("parameters") or {}).get("quick")
                     for nb in notebooks), **(extra or {})}
    return merged


def source_appendix(paths, *, title="Appendix: the package source"):
    """Markdown cells listing the files ``paths``: a heading, then each file as a code block."""
    intro = ("The core of the `scratchnet` package, the maths and the training loop, as it was "
             "when this report was built. The rest (the data sets, this report's pipeline and "
             "figures, the command line, the bench and the sweep runner) is in the repository "
             "whose address and commit the title page gives.")
    cells = [nbformat.v4.new_markdown_cell(f"# {title}\n\n{intro}")]
    for path in map(Path, paths):
        text = path.read_text().rstrip("\n")
        fence = "~~~~" if "```" in text else "```"
        cells.append(nbformat.v4.new_markdown_cell(
            f"## `{_rel(path)}`\n\n{fence}python\n{text}\n{fence}\n"))
    return cells


def prepare_for_pdf(nb):
    """Drop stderr and plain-text results (``show_figure``'s echoed path); return how many."""
    dropped = 0
    for cell in (cell for cell in nb.cells if cell.cell_type == "code"):
        kept = [out for out in cell.outputs if out.get("name") != "stderr"
                and not (out.output_type == "execute_result" and set(out.data) <= {"text/plain"})]
        dropped += len(cell.outputs) - len(kept)
        cell.outputs = kept
    return dropped


def number_figures(nb):
    """Number the ``show_figure`` outputs in order as LaTeX will, for the page; return how many."""
    count = 0
    for count, meta in enumerate(_figures(nb), 1):
        meta["number"] = count
    return count


def _recorded(executed):
    """(notebook, its results JSON) of each executed notebook that wrote a readable one."""
    for path in executed:
        try:
            results = json.loads(results_path_for(path).read_text())
        except (OSError, ValueError):
            continue
        if isinstance(results, dict):
            yield _rel(path), results


def recorded_claims(executed):
    """[(notebook, claim)] of every claim the executed notebooks' results JSON records."""
    return [(name, claim) for name, results in _recorded(executed)
            for claim in results.get("claims") or []]


def claims_summary(claims):
    """One phrase for the build's last line: how many claims, and which this build contradicts."""
    if not claims:
        return ""
    count = f"{len(claims)} claim{'s' if len(claims) != 1 else ''}"
    if all(c.get("holds") is None for _, c in claims):
        return f", {count} not checked"
    contradicted = [f"{nb}: {c.get('text')}" for nb, c in claims if c.get("holds") is False]
    if contradicted:
        return (f", {count}, {len(contradicted)} CONTRADICTED by this build "
                f"({'; '.join(contradicted)})")
    return f", {count}, all hold" if len(claims) > 1 else f", {count}, which holds"


def check_stamps(current, recorded):
    """The BLAS thread counts the notebooks ran with; raises when a notebook's numbers were
    computed on another environment (NumPy, BLAS, CPU, data...) than ``current``, the title's."""
    mine = environment(current)
    threads = set()
    for name, other in recorded.items():
        theirs = environment(other)
        differ = sorted(key for key in set(mine) | set(theirs) if mine.get(key) != theirs.get(key))
        if differ:
            raise PipelineError(f"{name} was computed on another {', '.join(differ)} than this "
                                "build renders with; its numbers would carry a wrong stamp: run "
                                "make clean, then make report")
        threads |= {lib.get("threads") for lib in other.get("blas", []) if lib.get("threads")}
    return sorted(threads)


def to_latex(nb, template=REPO / "templates" / "scratchnet_report.tex.j2"):
    """(LaTeX source, {file name: bytes of each extracted figure}) of the notebook ``nb``."""
    from nbconvert import LatexExporter

    exporter = LatexExporter(template_file=str(template), exclude_input=True,
                             exclude_input_prompt=True, exclude_output_prompt=True)
    latex, resources = exporter.from_notebook_node(nb, resources={"metadata": {"path": str(REPO)}})
    return latex, resources.get("outputs", {})


def _latex_errors(log_text, limit=3):
    """The first TeX error lines ("! ..." or "file:line: ...") of a log, joined into one line."""
    lines = log_text.splitlines()
    found = [" ".join(part.strip() for part in lines[i:i + 3] if part.strip())
             for i, line in enumerate(lines)
             if line.startswith("!") or re.match(r"^[^:\s]+\.tex:\d+: ", line)]
    return "; ".join(found[:limit]) or "no error line found in the log"


def missing_characters(log_text):
    """The characters xelatex reported missing from the fonts (they vanish from the PDF)."""
    return sorted(set(re.findall(r"Missing character: There is no (.+?) in font", log_text)))


def compile_latex(tex_path, *, runs=4):
    """The log of xelatex run on ``tex_path`` until the references settle, at most ``runs``."""
    tex_path = Path(tex_path)
    if shutil.which("xelatex") is None:
        raise PipelineError("xelatex not found: run tools/ensure-tex.sh (make report does)")
    log_path = tex_path.with_suffix(".log")
    for _ in range(runs):
        proc = subprocess.run(
            ["xelatex", "-interaction=nonstopmode", "-halt-on-error", "-file-line-error",
             tex_path.name], cwd=tex_path.parent, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        log = log_path.read_text(errors="replace") if log_path.exists() else ""
        if proc.returncode:
            errors = _latex_errors(log or proc.stdout.decode(errors="replace"))
            raise PipelineError(f"xelatex failed on {_rel(tex_path)}: {one_line(errors, 240)} "
                                f"(full log: {_rel(log_path)})")
        if not re.search(r"Rerun to get|Label\(s\) may have changed|undefined references", log):
            break
    return log


def katex_assets(folder=None):
    """KaTeX's CSS (fonts inlined), script and auto-render, from a package's copy, never a CDN."""
    folder = Path(folder or os.environ.get("SCRATCHNET_KATEX") or KATEX_DIR)

    def read(*names):
        for name in names:
            if (folder / name).is_file():
                return (folder / name).read_text()
        raise PipelineError(f"KaTeX not found in {folder} (no {names[0]}): install Debian's "
                            "libjs-katex (tools/ensure-tex.sh does) or set SCRATCHNET_KATEX "
                            "to a KaTeX dist folder")

    def inline(match):
        font = folder / match.group(1)
        if not font.is_file():
            raise PipelineError(f"KaTeX's font {font} is missing (Debian: fonts-katex)")
        data = base64.b64encode(font.read_bytes()).decode("ascii")
        return f"url(data:font/woff2;base64,{data}) format('woff2')"

    # Of each font's woff2, woff and ttf only woff2 stays: every browser KaTeX runs on reads it.
    css = re.sub(r"url\((fonts/[^)]+\.woff2)\)\s*format\(['\"]woff2['\"]\)"
                 r"(?:\s*,\s*url\([^)]+\)\s*format\(['\"][a-z]+['\"]\))*", inline,
                 read("katex.min.css", "katex.css"))
    if "url(fonts/" in css:
        raise PipelineError(f"{folder}: KaTeX's CSS names fonts that could not be inlined")
    return {"css": css, "js": read("katex.min.js", "katex.js"),
            "auto_render": read("contrib/auto-render.min.js", "contrib/auto-render.js")}


def add_contents(html):
    """``html`` with a table of contents of its h1 and h2 headings in its ``nav#contents``."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, features="html.parser")
    # Two sections may both have a "Summary": number the second id, and its anchor with it.
    seen = {}
    for heading in soup.select("h1[id], h2[id], h3[id], h4[id], h5[id], h6[id]"):
        base = heading["id"]
        seen[base] = seen.get(base, 0) + 1
        if seen[base] > 1:
            heading["id"] = f"{base}-{seen[base]}"
            for link in heading.select("a.anchor-link"):
                link["href"] = f"#{heading['id']}"
    nav = soup.select_one("nav#contents")
    if nav is None:
        raise PipelineError("the HTML template has no nav#contents for the table of contents")
    toc = soup.new_tag("ol", attrs={"class": "sn-toc"})
    for heading in soup.select(".jp-Cell h1[id], .jp-Cell h2[id]"):
        anchors = heading.select("a.anchor-link")
        link = soup.new_tag("a", href=f"#{heading['id']}")
        link.extend([copy.copy(part) for part in heading.contents if part not in anchors])
        item = soup.new_tag("li")
        item.append(link)
        if heading.name == "h1" or not toc.contents:
            toc.append(item)
            continue
        section = toc.contents[-1]  # an h2 goes under the h1 before it
        if section.ol is None:
            section.append(soup.new_tag("ol"))
        section.ol.append(item)
    nav.append(toc)
    return str(soup)


def to_html(nb, template=REPO / "templates" / "scratchnet_report.html.j2", katex=None):
    """``nb`` as one page that loads nothing (figures, styles, KaTeX inside), without code."""
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_file=str(template), exclude_input=True, embed_images=True,
                            exclude_input_prompt=True, exclude_output_prompt=True)
    resources = {"metadata": {"path": str(REPO)}, "katex": katex or katex_assets()}
    return add_contents(exporter.from_notebook_node(nb, resources=resources)[0])


def render(executed, out_pdf, *, out_html=None, build_dir=None, appendix=True, log=sys.stderr):
    """Merge the ``executed`` notebooks in order and render them to ``out_pdf`` (and ``out_html``)
    in ``build_dir`` (``build/report``); each output takes its name in one step at the end, so no
    half-written report ever has it. Returns the merged metadata, with pages and seconds."""
    start = time.perf_counter()
    executed = [Path(p) for p in executed]
    build_dir = Path(build_dir) if build_dir else REPO / "build" / "report"
    notebooks = []
    for path in executed:
        if not path.exists():
            raise PipelineError(f"{_rel(path)}: no such executed notebook; run make report")
        nb = read_notebook(path)
        errors = error_outputs(nb)
        if errors:
            raise PipelineError(f"{_rel(path)} has an error output in cell {errors[0][0]}: "
                                f"{one_line(errors[0][1], 160)}")
        if not section_title(nb):
            raise PipelineError(f"{_rel(path)}: its first markdown cell does not open with a "
                                "level-1 heading '# <section title>'")
        notebooks.append(nb)
    current = stamp()
    threads = check_stamps(current, {name: results["stamp"] for name, results
                                     in _recorded(executed) if results.get("stamp")})
    merged = merge(notebooks, names=[_rel(p) for p in executed], extra={
        "commit": current["commit"], "repository": git_repository(), "stamp": current,
        "built": time.strftime("%Y-%m-%d %H:%M %Z").strip(),
        "stamp_lines": stamp_lines(current, threads=threads or None)})
    if appendix:
        merged.cells += source_appendix(REPO / "src" / "scratchnet" / f"{name}.py" for name in CORE)
    info = merged.metadata["scratchnet"]
    info.update(figures=number_figures(merged), dropped_outputs=prepare_for_pdf(merged))
    if build_dir.exists():
        shutil.rmtree(build_dir)
    build_dir.mkdir(parents=True)
    nbformat.write(merged, str(build_dir / "report.ipynb"))
    if out_html is not None:
        (build_dir / "report.html").write_text(to_html(merged))
    latex, files = to_latex(merged)
    tex_path = build_dir / "report.tex"
    tex_path.write_text(latex)
    for name, data in files.items():
        (build_dir / name).write_bytes(data)
    missing = missing_characters(compile_latex(tex_path))
    if missing:
        raise PipelineError(f"the fonts lack {', '.join(missing)}: these would vanish from the "
                            f"PDF (log: {_rel(tex_path.with_suffix('.log'))})")
    copy_atomic(tex_path.with_suffix(".pdf"), out_pdf)
    if out_html is not None:
        copy_atomic(build_dir / "report.html", out_html)
    info = dict(info, pages=_page_count(out_pdf), seconds=round(time.perf_counter() - start, 1))
    pages = f"{info['pages']} pages, " if info["pages"] else ""
    quick = ", QUICK" if info["quick"] else ""
    also = f" and {_rel(out_html)}" if out_html is not None else ""
    claims = claims_summary(recorded_claims(executed))
    print(f"wrote   {_rel(out_pdf)}{also} ({pages}{len(notebooks)} sections, {info['figures']} "
          f"figures{claims}{quick}) in {info['seconds']:.1f} s", file=log, flush=True)
    return info


def _page_count(pdf):
    if shutil.which("pdfinfo") is None:
        return None
    out = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True)
    match = re.search(r"^Pages:\s+(\d+)", out.stdout, re.M)
    return int(match.group(1)) if match else None


def main(argv=None):
    """``python -m scratchnet.report.pipeline run|render ...``; exit 1 with one ``error:`` line."""
    parser = argparse.ArgumentParser(prog="python -m scratchnet.report.pipeline",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    run_p = sub.add_parser("run", help="execute one notebook")
    run_p.add_argument("src", help="e.g. notebooks/00_data.ipynb")
    run_p.add_argument("out", help="e.g. build/notebooks/00_data.ipynb")
    run_p.add_argument("--quick", action="store_true", help="pass quick=True (small sizes)")
    render_p = sub.add_parser("render", help="merge executed notebooks, render PDF and page")
    render_p.add_argument("out", help="the PDF, e.g. report/report.pdf")
    render_p.add_argument("executed", nargs="+", help="executed notebooks, in report order")
    render_p.add_argument("--html", help="the page, e.g. report/report.html")
    render_p.add_argument("--no-appendix", action="store_true", help="leave out the core's source")
    args = parser.parse_args(argv)
    try:
        if args.command == "run":
            run_notebook(args.src, args.out, quick=args.quick)
        else:
            render(args.executed, args.out, out_html=args.html, appendix=not args.no_appendix)
    except PipelineError as err:
        parser.exit(1, f"error: {err}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
