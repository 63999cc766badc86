"""The report's pipeline: execute each notebook with papermill, merge them, render one PDF.

``python -m scratchnet.pipeline run SRC OUT [--quick]`` executes one source notebook into its
build copy (the Makefile has one rule per notebook, so ``make -j2`` runs them side by side);
``python -m scratchnet.pipeline render OUT.pdf EXECUTED...`` merges the executed notebooks, in
the order given, into one notebook and renders it through nbconvert's LaTeX route and xelatex.

The conventions the notebooks follow, and this module relies on:

* cell 1 is markdown opening with ``# <section title>``: one section of the report each;
* a cell tagged ``parameters`` holds ``quick`` and ``results_path`` among its literal defaults;
* figures come from :func:`scratchnet.report.show_figure`, whose PNG output carries
  ``{"caption": ..., "name": ...}`` in its metadata: the template makes each a numbered figure.
"""
import argparse
import datetime
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "templates" / "scratchnet_report.tex.j2"
TITLE = "scratchnet: Deep Learning from Scratch"
AUTHORS = ("The scratchnet team",)
FAILED_DIR = "failed"

# xelatex runs until the cross-references settle (the table of contents needs two), at most this.
MAX_LATEX_RUNS = 4


class PipelineError(RuntimeError):
    """A step of the report failed; the message is one line that says which and where."""


def _one_line(text, limit=240):
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _rel(path):
    """``path`` relative to the repo when it is inside it, for messages."""
    path = Path(path).resolve()
    try:
        return str(path.relative_to(REPO))
    except ValueError:
        return str(path)


# ---------------------------------------------------------------------------------------------
# Reading notebooks


def read_notebook(path):
    """Read a notebook (nbformat 4) from ``path``."""
    import nbformat

    return nbformat.read(str(path), as_version=4)


def section_title(nb):
    """The text of the level-1 heading that opens the notebook's first markdown cell, or None."""
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        for line in cell.source.splitlines():
            match = re.match(r"#\s+(.+?)\s*#*\s*$", line)
            if match:
                return match.group(1)
            if line.strip():
                return None
        return None
    return None


def image_outputs(nb):
    """The ``show_figure`` outputs of ``nb``: (caption, name) of each PNG output with a caption."""
    found = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            meta = output.get("metadata", {}).get("image/png", {})
            if "image/png" in output.get("data", {}) and meta.get("caption"):
                found.append((meta["caption"], meta.get("name")))
    return found


def error_outputs(nb):
    """(cell number counted from 1, "ename: evalue") of every error output in ``nb``."""
    return [(i, f"{out.get('ename')}: {out.get('evalue')}")
            for i, cell in enumerate(nb.cells, 1)
            for out in cell.get("outputs", []) if out.get("output_type") == "error"]


def parameters_used(nb):
    """The parameters papermill injected into an executed notebook (empty dict if none)."""
    return dict(nb.metadata.get("papermill", {}).get("parameters", {}) or {})


# ---------------------------------------------------------------------------------------------
# Executing one notebook


def results_path_for(out):
    """Where a notebook executed to ``out`` writes its key numbers: beside it, ``.json``."""
    return Path(out).with_suffix(".json")


def failure_paths(out):
    """(failed executed copy, one-line message file) of a notebook executed to ``out``."""
    out = Path(out)
    folder = out.parent / FAILED_DIR
    return folder / out.name, folder / f"{out.stem}.txt"


def _failed_cell(src_nb, err):
    """Cell number (from 1) in the source notebook of the cell that raised ``err``."""
    source = (getattr(err, "source", "") or "").strip()
    for i, cell in enumerate(src_nb.cells, 1):
        if cell.cell_type == "code" and cell.source.strip() == source:
            return i
    return None


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _failed_line(traceback):
    """(line number, text) of the line of the notebook cell that raised, from IPython's traceback.

    The traceback's first frame is the cell ("Cell In[4], line 2"), where "---->" marks the line.
    """
    lines = _ANSI.sub("", "\n".join(traceback or [])).splitlines()
    in_cell = False
    for line in lines:
        in_cell = in_cell or line.startswith("Cell In[")
        match = re.match(r"^-+>\s*(\d+)\s(.*)$", line)
        if in_cell and match:
            return int(match.group(1)), match.group(2).strip()
    return None, None


def describe_failure(src, err, src_nb=None):
    """One line naming the notebook, the cell (and its line) and the exception of a failure."""
    from papermill.exceptions import PapermillExecutionError

    if isinstance(err, PapermillExecutionError):
        cell = _failed_cell(src_nb, err) if src_nb is not None else None
        where = f"cell {cell}" if cell else f"the cell In [{err.exec_count}]"
        number, text = _failed_line(err.traceback)
        if number is None:
            number, text = 1, next((line.strip() for line in (err.source or "").splitlines()
                                    if line.strip()), "")
        return (f"{_rel(src)} failed in {where}, line {number} ({_one_line(text, 60)!r}): "
                f"{err.ename}: {_one_line(err.evalue, 160)}")
    return f"{_rel(src)} failed: {type(err).__name__}: {_one_line(err, 200)}"


def run_notebook(src, out, *, quick=False, cwd=REPO, log=sys.stderr):
    """Execute the notebook ``src`` with papermill into ``out``; return the seconds it took.

    The kernel runs in ``cwd`` (the repo root) with ``quick`` and ``results_path`` (``out`` with
    ``.json``, removed first so no stale key survives) as parameters. The executed copy is
    written to a temporary name and moved to ``out`` only on success, so a build tool never
    takes a failed run for an up-to-date one. On failure the partial copy goes to
    ``failed/<name>`` beside ``out``, a one-line message to ``failed/<stem>.txt``, and
    :class:`PipelineError` is raised with that message.
    """
    import papermill

    src, out = Path(src), Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    failed_nb, failed_msg = failure_paths(out)
    for stale in (out, failed_nb, failed_msg, results_path_for(out)):
        stale.unlink(missing_ok=True)
    results = results_path_for(out)
    try:
        results_param = str(results.resolve().relative_to(Path(cwd).resolve()))
    except ValueError:
        results_param = str(results.resolve())
    tmp = out.parent / f".{out.stem}.{os.getpid()}.partial.ipynb"
    mode = "quick" if quick else "full"
    print(f"run     {_rel(src)} ({mode})", file=log, flush=True)
    start = time.perf_counter()
    try:
        papermill.execute_notebook(
            str(src), str(tmp), parameters={"quick": bool(quick), "results_path": results_param},
            cwd=str(cwd), progress_bar=False, log_output=False,
            # ipykernel 7 logs a warning about its TCP transport on every start, and an error
            # when it is shut down by an interrupt: noise here (a failing cell raises anyway).
            extra_arguments=["--IPKernelApp.log_level=CRITICAL"])
    except Exception as err:
        message = describe_failure(src, err, read_notebook(src))
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


# ---------------------------------------------------------------------------------------------
# Merging


def _fresh_id():
    return uuid.uuid4().hex[:12]


def merge(notebooks, *, title=TITLE, authors=AUTHORS, names=None, extra=None):
    """One notebook holding the cells of ``notebooks`` in order, each cell with a fresh id.

    ``metadata.title`` and ``metadata.authors`` (``[{"name": ...}]``) give the title page;
    ``metadata.scratchnet`` records the sources (``names``), the sections, whether any notebook
    ran in quick mode, and whatever ``extra`` holds. The inputs are not modified.
    """
    import copy

    import nbformat

    notebooks = list(notebooks)
    if not notebooks:
        raise PipelineError("nothing to merge: no executed notebooks given")
    names = list(names) if names is not None else [f"notebook {i}" for i in range(len(notebooks))]
    merged = nbformat.v4.new_notebook()
    first = notebooks[0].metadata
    for key in ("kernelspec", "language_info"):
        if key in first:
            merged.metadata[key] = copy.deepcopy(first[key])
    merged.metadata["title"] = title
    merged.metadata["authors"] = [{"name": name} for name in authors]
    seen = set()
    for nb in notebooks:
        for cell in nb.cells:
            cell = copy.deepcopy(cell)
            new_id = _fresh_id()
            while new_id in seen:
                new_id = _fresh_id()
            seen.add(new_id)
            cell["id"] = new_id
            merged.cells.append(cell)
    quick = any(bool(parameters_used(nb).get("quick")) for nb in notebooks)
    merged.metadata["scratchnet"] = {
        "sources": names,
        "sections": [section_title(nb) for nb in notebooks],
        "quick": quick,
        **(extra or {}),
    }
    return merged


def source_appendix(paths, *, title="Appendix: the package source"):
    """Markdown cells listing the files ``paths``: a heading, then each file as a code block."""
    import nbformat

    intro = ("The source of the `scratchnet` package as it was when this report was built. "
             "The notebooks only call into it, so this is all the code behind the numbers above.")
    cells = [nbformat.v4.new_markdown_cell(f"# {title}\n\n{intro}")]
    for path in paths:
        path = Path(path)
        text = path.read_text().rstrip("\n")
        fence = "~~~~" if "```" in text else "```"
        cells.append(nbformat.v4.new_markdown_cell(
            f"## `{_rel(path)}`\n\n{fence}python\n{text}\n{fence}\n"))
    return cells


def prepare_for_pdf(nb):
    """Drop what has no place in the PDF body; return the number of outputs dropped.

    Kept: markdown cells, figures, ``Markdown`` displays, stdout. Dropped: stderr (warnings and
    progress noise; it stays in the executed notebooks), and results that are plain text only
    (the echo of a cell's last expression, such as the path ``show_figure`` returns).
    """
    dropped = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        kept = []
        for out in cell.get("outputs", []):
            plain_result = (out.get("output_type") == "execute_result"
                            and set(out.get("data", {})) <= {"text/plain"})
            if (out.get("output_type") == "stream" and out.get("name") == "stderr") or plain_result:
                dropped += 1
            else:
                kept.append(out)
        cell["outputs"] = kept
    return dropped


# ---------------------------------------------------------------------------------------------
# Rendering


def _git_commit():
    try:
        out = subprocess.run(["git", "-C", str(REPO), "describe", "--always", "--dirty",
                              "--abbrev=10"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def to_latex(nb, template=TEMPLATE):
    """(LaTeX source, {file name: bytes of each extracted figure}) of the notebook ``nb``."""
    from nbconvert import LatexExporter

    exporter = LatexExporter(template_file=str(template), exclude_input=True,
                             exclude_input_prompt=True, exclude_output_prompt=True)
    exporter.raw_mimetypes = ["text/latex", ""]
    latex, resources = exporter.from_notebook_node(nb, resources={"metadata": {"path": str(REPO)}})
    return latex, resources.get("outputs", {})


def _latex_errors(log_text, limit=3):
    """The first TeX error lines ("! ..." or "file:line: ...") of a log, joined into one line."""
    lines = log_text.splitlines()
    found = []
    for i, line in enumerate(lines):
        if line.startswith("!") or re.match(r"^[^:\s]+\.tex:\d+: ", line):
            context = " ".join(part.strip() for part in lines[i + 1:i + 3] if part.strip())
            found.append(f"{line.strip()} {context}".strip())
        if len(found) >= limit:
            break
    return "; ".join(found) or "no error line found in the log"


def missing_characters(log_text):
    """The characters xelatex reported missing from the fonts (they vanish from the PDF)."""
    return sorted(set(re.findall(r"Missing character: There is no (.+?) in font", log_text)))


def compile_latex(tex_path, *, runs=MAX_LATEX_RUNS):
    """Run xelatex on ``tex_path`` in its folder until the references settle; return the log."""
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
            raise PipelineError(f"xelatex failed on {_rel(tex_path)}: {_one_line(errors)} "
                                f"(full log: {_rel(log_path)})")
        if not re.search(r"Rerun to get|Label\(s\) may have changed|undefined references", log):
            break
    return log


def render(executed, out_pdf, *, build_dir=None, appendix=True, title=TITLE, authors=AUTHORS,
           log=sys.stderr):
    """Merge the executed notebooks ``executed`` (in order) and render them to ``out_pdf``.

    Writes the merged notebook (``report.ipynb``), the LaTeX source, figures and log into
    ``build_dir`` (default ``build/report``), then moves the PDF into place in one step, so a
    half-written PDF never exists under ``out_pdf``. Raises :class:`PipelineError` when a
    notebook holds an error output, a section title is missing, or xelatex fails.
    Returns a dict of what was rendered (sections, figures, pages when pdfinfo is present).
    """
    start = time.perf_counter()
    executed = [Path(p) for p in executed]
    out_pdf = Path(out_pdf)
    build_dir = Path(build_dir) if build_dir else REPO / "build" / "report"
    notebooks = []
    for path in executed:
        if not path.exists():
            raise PipelineError(f"{_rel(path)}: no such executed notebook; run make report")
        nb = read_notebook(path)
        errors = error_outputs(nb)
        if errors:
            cell, what = errors[0]
            raise PipelineError(f"{_rel(path)} has an error output in cell {cell}: "
                                f"{_one_line(what, 160)}")
        if not section_title(nb):
            raise PipelineError(f"{_rel(path)}: its first markdown cell does not open with a "
                                "level-1 heading '# <section title>'")
        notebooks.append(nb)
    built = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z").strip()
    merged = merge(notebooks, title=title, authors=authors, names=[_rel(p) for p in executed],
                   extra={"commit": _git_commit(), "built": built})
    if appendix:
        sources = sorted((REPO / "src" / "scratchnet").glob("*.py"))
        for cell in source_appendix(sources):
            cell["id"] = _fresh_id()
            merged.cells.append(cell)
    merged.metadata["scratchnet"]["figures"] = len(image_outputs(merged))
    merged.metadata["scratchnet"]["dropped_outputs"] = prepare_for_pdf(merged)

    import nbformat

    if build_dir.exists():
        shutil.rmtree(build_dir)
    build_dir.mkdir(parents=True)
    nbformat.write(merged, str(build_dir / "report.ipynb"))
    latex, files = to_latex(merged)
    tex_path = build_dir / "report.tex"
    tex_path.write_text(latex)
    for name, data in files.items():
        (build_dir / name).write_bytes(data)
    latex_log = compile_latex(tex_path)
    missing = missing_characters(latex_log)
    if missing:
        raise PipelineError(f"the fonts lack {', '.join(missing)}: these would vanish from the "
                            f"PDF (log: {_rel(tex_path.with_suffix('.log'))})")

    out_pdf.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out_pdf.parent, prefix=f".{out_pdf.stem}.", suffix=".pdf")
    os.close(fd)
    try:
        shutil.copyfile(tex_path.with_suffix(".pdf"), tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, out_pdf)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    info = dict(merged.metadata["scratchnet"], pdf=str(out_pdf), pages=_page_count(out_pdf),
                seconds=round(time.perf_counter() - start, 1))
    pages = f"{info['pages']} pages, " if info["pages"] else ""
    quick = ", QUICK" if info["quick"] else ""
    print(f"wrote   {_rel(out_pdf)} ({pages}{len(notebooks)} sections, {info['figures']} figures"
          f"{quick}) in {info['seconds']:.1f} s", file=log, flush=True)
    return info


def _page_count(pdf):
    if shutil.which("pdfinfo") is None:
        return None
    out = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True)
    match = re.search(r"^Pages:\s+(\d+)", out.stdout, re.M)
    return int(match.group(1)) if match else None


# ---------------------------------------------------------------------------------------------
# Command line


def main(argv=None):
    """``python -m scratchnet.pipeline run|render ...``; exit 1 with one ``error:`` line."""
    parser = argparse.ArgumentParser(prog="python -m scratchnet.pipeline", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    run_p = sub.add_parser("run", help="execute one notebook with papermill")
    run_p.add_argument("src", help="source notebook, e.g. notebooks/00_data.ipynb")
    run_p.add_argument("out", help="executed copy, e.g. build/notebooks/00_data.ipynb")
    run_p.add_argument("--quick", action="store_true", help="pass quick=True (small sizes)")
    render_p = sub.add_parser("render", help="merge executed notebooks and render the PDF")
    render_p.add_argument("out", help="the PDF to write, e.g. report/report.pdf")
    render_p.add_argument("executed", nargs="+", help="executed notebooks, in report order")
    render_p.add_argument("--no-appendix", action="store_true",
                          help="leave out the appendix with the package source")
    args = parser.parse_args(argv)
    try:
        if args.command == "run":
            run_notebook(args.src, args.out, quick=args.quick)
        else:
            render(args.executed, args.out, appendix=not args.no_appendix)
    except PipelineError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
