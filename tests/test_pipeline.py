"""The report pipeline's pieces, without TeX: merging, cleaning, the template, a failing run."""
import re
import shutil
import subprocess

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from scratchnet.report import pipeline

PNG = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5E"
       "rkJggg==")


def figure_output(caption, name):
    return new_output("display_data", data={"image/png": PNG, "text/plain": "<Image>"},
                      metadata={"image/png": {"caption": caption, "name": name}})


def section(title, *, figures=(), quick=False, code="x = 1"):
    """A small executed notebook: heading, a code cell with figure outputs, papermill metadata."""
    nb = new_notebook()
    nb.cells = [new_markdown_cell(f"# {title}\n\nSome text."),
                new_code_cell(code, outputs=[figure_output(c, n) for c, n in figures])]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.metadata["papermill"] = {"parameters": {"quick": quick, "results_path": "r.json"}}
    return nb


def test_merge_keeps_order_and_gives_every_cell_a_fresh_unique_id():
    a, b = section("Data sets"), section("1.1 Softmax")
    # The same ids in both inputs, as copies of one template notebook would have.
    for nb in (a, b):
        for i, cell in enumerate(nb.cells):
            cell["id"] = f"cell{i}"
    merged = pipeline.merge([a, b], names=["a", "b"])
    ids = [cell["id"] for cell in merged.cells]
    assert len(ids) == 4 and len(set(ids)) == 4, f"ids not unique: {ids}"
    assert not set(ids) & {"cell0", "cell1"}, f"ids were copied, not renewed: {ids}"
    assert [c.source for c in merged.cells] == [c.source for c in a.cells + b.cells]
    assert [cell["id"] for cell in a.cells] == ["cell0", "cell1"], "merge modified its input"
    nbformat.validate(merged)


def test_merge_sets_title_authors_sections_and_quick():
    merged = pipeline.merge([section("Data sets"), section("1.2 SGD", quick=True)],
                            title="T", authors=["A", "B"], names=["x", "y"], extra={"k": 1})
    assert merged.metadata.title == "T"
    assert merged.metadata.authors == [{"name": "A"}, {"name": "B"}]
    info = merged.metadata.scratchnet
    assert info["sections"] == ["Data sets", "1.2 SGD"]
    assert info["sources"] == ["x", "y"]
    assert info["quick"] is True and info["k"] == 1
    assert merged.metadata.kernelspec.name == "python3"
    assert pipeline.merge([section("A")]).metadata.scratchnet["quick"] is False


def test_merge_of_nothing_is_an_error():
    with pytest.raises(pipeline.PipelineError, match="nothing to merge"):
        pipeline.merge([])


@pytest.mark.parametrize("source, expected", [
    ("# 1.1 Softmax regression\n\ntext", "1.1 Softmax regression"),
    ("\n#   Data sets  #\n", "Data sets"),
    ("## Only a subsection", None),
    ("Text first\n# Heading", None),
])
def test_section_title(source, expected):
    nb = new_notebook(cells=[new_markdown_cell(source)])
    assert pipeline.section_title(nb) == expected


def test_image_outputs_counts_captioned_pngs_only():
    nb = section("S", figures=[("one", "a"), ("two", "b")])
    nb.cells[1].outputs.append(new_output("display_data", data={"image/png": PNG}))
    assert pipeline.image_outputs(nb) == [("one", "a"), ("two", "b")]


def test_error_outputs_names_the_cell():
    nb = section("S")
    nb.cells[1].outputs.append(new_output("error", ename="ValueError", evalue="bad",
                                          traceback=[]))
    assert pipeline.error_outputs(nb) == [(2, "ValueError: bad")]


def test_prepare_for_pdf_drops_stderr_and_bare_results_only():
    nb = section("S", figures=[("cap", "f")])
    outputs = nb.cells[1].outputs
    outputs.append(new_output("stream", name="stderr", text="warning"))
    outputs.append(new_output("stream", name="stdout", text="kept"))
    outputs.append(new_output("execute_result", data={"text/plain": "PosixPath('x.png')"},
                              execution_count=1))
    outputs.append(new_output("display_data", data={"text/markdown": "| a |", "text/plain": "a"}))
    assert pipeline.prepare_for_pdf(nb) == 2
    kinds = [(o.output_type, o.get("name")) for o in nb.cells[1].outputs]
    assert kinds == [("display_data", None), ("stream", "stdout"), ("display_data", None)]


def test_source_appendix_lists_each_file(tmp_path):
    f = tmp_path / "mod.py"
    f.write_text('"""Doc."""\nx = 1\n')
    cells = pipeline.source_appendix([f])
    assert cells[0].source.startswith("# Appendix")
    assert "```python\n\"\"\"Doc.\"\"\"\nx = 1\n```" in cells[1].source


def test_missing_characters_and_latex_errors_are_read_from_the_log():
    log = ("Missing character: There is no α (U+03B1) in font lmroman10-regular!\n"
           "./report.tex:12: Undefined control sequence.\nl.12 \\foo\n  more\n")
    assert pipeline.missing_characters(log) == ["α (U+03B1)"]
    assert "Undefined control sequence" in pipeline._latex_errors(log)


@pytest.mark.skipif(shutil.which("pandoc") is None, reason="pandoc is not installed")
def test_template_makes_numbered_figures_and_hides_code():
    nb = pipeline.merge([section("Data sets", figures=[("A caption with $\\eta = 0.1$ and 50%",
                                                        "data_scatter_all")],
                                 code="secret_code_line = 42")])
    latex, files = pipeline.to_latex(nb)
    assert latex.count("\\begin{figure}") == 1
    assert "\\caption{A caption with \\(\\eta = 0.1\\) and 50\\%}" in latex
    assert "\\label{fig:data-scatter-all}" in latex
    assert "secret_code_line" not in latex, "code leaked into the LaTeX body"
    assert "\\tableofcontents" in latex and "\\begin{titlepage}" in latex
    assert len(files) == 1


def report_notebook(path, title, imports, body):
    """A notebook of the report's shape at ``path``: heading, imports, parameters, ``body``,
    then a cell that must never run."""
    path.parent.mkdir(parents=True, exist_ok=True)
    nb = new_notebook(cells=[
        new_markdown_cell(f"# {title}"),
        new_code_cell(imports),
        new_code_cell("quick = False\nresults_path = 'x.json'", metadata={"tags": ["parameters"]}),
        new_code_cell(body),
        new_code_cell("print('never')"),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, str(path))
    return path


def test_a_failing_notebook_names_itself_and_the_cell(tmp_path):
    src = report_notebook(tmp_path / "src" / "99_broken.ipynb", "Broken", "import math",
                          "x = 1\nvalue = x / 0  # the failing line")
    out = tmp_path / "build" / "99_broken.ipynb"
    out.parent.mkdir()
    out.write_text("stale")
    with pytest.raises(pipeline.PipelineError) as info:
        pipeline.run_notebook(src, out, cwd=tmp_path, log=open("/dev/null", "w"))
    message = str(info.value)
    assert "99_broken.ipynb failed in cell 4, line 2" in message, message
    assert "ZeroDivisionError" in message and "value = x / 0" in message, message
    assert "\n" not in message
    assert not out.exists(), "a failed run left its output where make would take it as done"
    failed_nb, failed_msg = pipeline.failure_paths(out)
    assert failed_nb.exists()
    assert failed_msg.read_text() == f"error: {message}\n"


@pytest.mark.skipif(shutil.which("xelatex") is None, reason="xelatex is not installed")
def test_a_latex_error_is_one_line_that_quotes_it(tmp_path):
    tex = tmp_path / "doc.tex"
    tex.write_text("\\documentclass{article}\n\\begin{document}\nok \\nosuchcommand\n"
                   "\\end{document}\n")
    with pytest.raises(pipeline.PipelineError) as info:
        pipeline.compile_latex(tex)
    message = str(info.value)
    assert "Undefined control sequence" in message and "\n" not in message, message
    assert "doc.log" in message


def test_a_cell_over_the_time_limit_fails_naming_notebook_and_cell(tmp_path):
    src = report_notebook(tmp_path / "src" / "98_slow.ipynb", "Slow", "import time",
                          "x = 1\ntime.sleep(120)\ny = 2")
    out = tmp_path / "build" / "98_slow.ipynb"
    with pytest.raises(pipeline.PipelineError) as info:
        pipeline.run_notebook(src, out, cwd=tmp_path, log=open("/dev/null", "w"), timeout=2)
    message = str(info.value)
    assert "98_slow.ipynb failed in cell 4, line 2 ('time.sleep(120)')" in message, message
    assert "time limit of 2 s per cell" in message and "\n" not in message, message
    assert not out.exists()
    assert pipeline.failure_paths(out)[1].read_text() == f"error: {message}\n"


@pytest.mark.parametrize("text, seconds", [("", 1800), ("600", 600), (" 2.5 ", 3)])
def test_cell_timeout_comes_from_the_variable(text, seconds):
    assert pipeline.cell_timeout({pipeline.TIMEOUT_VARIABLE: text}) == seconds


@pytest.mark.parametrize("text", ["0", "-5", "soon", "inf", "nan"])
def test_an_unusable_cell_timeout_is_one_line(text):
    with pytest.raises(pipeline.PipelineError, match="SCRATCHNET_CELL_TIMEOUT=.*CELL_TIMEOUT="):
        pipeline.cell_timeout({pipeline.TIMEOUT_VARIABLE: text})


def test_figures_are_numbered_in_order():
    nb = pipeline.merge([section("A", figures=[("one", "a"), ("two", "b")]),
                         section("B", figures=[("three", "c")])])
    assert pipeline.number_figures(nb) == 3
    numbers = [o.metadata["image/png"]["number"] for c in nb.cells for o in c.get("outputs", [])]
    assert numbers == [1, 2, 3]


def _stamp(**changes):
    from scratchnet.report.stamp import stamp

    record = stamp()
    record.update(changes)
    return record


def test_the_title_page_refuses_a_stamp_the_numbers_were_not_computed_on():
    here = _stamp()
    ran = {**here, "commit": "another", "blas": [{**lib, "threads": 1} for lib in here["blas"]]}
    assert pipeline.check_stamps(here, {"a.ipynb": ran}) == ([1] if here["blas"] else [])
    with pytest.raises(pipeline.PipelineError, match=r"a.ipynb was computed on another numpy"):
        pipeline.check_stamps(here, {"a.ipynb": {**here, "numpy": "1.0.0"}})


def test_the_stamp_names_the_kernels_the_environment_chose(monkeypatch):
    from scratchnet.report.stamp import KERNEL_VARIABLES, stamp, stamp_lines

    for key in KERNEL_VARIABLES:
        monkeypatch.delenv(key, raising=False)
    plain = stamp()
    assert plain["kernel_settings"] == {}
    assert "kernels chosen by" not in dict(stamp_lines(plain))["BLAS"]
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")
    forced = stamp()
    assert forced["kernel_settings"] == {"OPENBLAS_CORETYPE": "Haswell"}
    assert dict(stamp_lines(forced))["BLAS"].endswith("kernels chosen by OPENBLAS_CORETYPE=Haswell")
    # numbers computed with other kernels than the render's are refused
    with pytest.raises(pipeline.PipelineError, match=r"a.ipynb was computed on another kernel_settings"):
        pipeline.check_stamps(plain, {"a.ipynb": forced})


def _katex_or_skip():
    try:
        return pipeline.katex_assets()
    except pipeline.PipelineError as error:
        pytest.skip(str(error))


def test_the_html_page_loads_nothing_from_outside_and_shows_no_code():
    katex = _katex_or_skip()
    assert "url(fonts/" not in katex["css"] and katex["css"].count("data:font/woff2") >= 10
    nb = pipeline.merge([section("Data sets", figures=[("A caption with $\\eta = 0.1$", "d_x")],
                                 code="secret_code_line = 42"),
                         section("1.1 Softmax", figures=[("Second", "s_y")])],
                        extra={"stamp_lines": [["NumPy", "9.9.9"]]})
    nb.cells[0].source += "\n\n## Summary\n\n$$F = -\\frac{1}{m}$$"
    nb.cells[2].source += "\n\n## Summary\n\nAgain."
    pipeline.number_figures(nb)
    html = pipeline.to_html(nb, katex=katex)
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html), "the page links out"
    assert "secret_code_line" not in html
    assert html.count('<figure class="sn-figure"') == 2
    assert "Figure 1:" in html and "Figure 2:" in html and "9.9.9" in html
    contents = html[html.index('<nav id="contents">'):html.index("</nav>")]
    assert contents.count("<li>") == 4 and 'href="#Summary-2"' in contents, contents


def test_the_appendix_lists_the_core_only():
    core = {path.stem for path in (pipeline.REPO / "src" / "scratchnet").glob("*.py")
            if path.stem in pipeline.CORE}
    assert core == set(pipeline.CORE), "every core module exists"
    assert not {"pipeline", "cli", "bench", "sweep"} & set(pipeline.CORE)


def test_git_repository_names_the_remote_else_the_checkout(tmp_path):
    from scratchnet.report.stamp import git_repository

    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    assert git_repository(tmp_path) == str(tmp_path)
    subprocess.run(["git", "-C", str(tmp_path), "remote", "add", "origin",
                    "https://example.org/scratchnet.git"], check=True)
    assert git_repository(tmp_path) == "https://example.org/scratchnet.git"
