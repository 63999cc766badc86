"""Claims: statements checked by the build, shown with their verdict, recorded for the JSON."""
import json

import numpy as np
import pytest

from scratchnet.report import MARKS, Claims, record


@pytest.fixture
def shown(monkeypatch):
    """The markdown text every display call showed."""
    import IPython.display

    texts = []
    monkeypatch.setattr(IPython.display, "display", lambda obj, **kw: texts.append(obj.data))
    return texts


def test_a_claim_shows_its_verdict_and_is_recorded(tmp_path, shown):
    claims = Claims(quick=False)
    assert claims.check("float32 learns what float64 does", np.float64(0.05) <= 0.1) is True
    assert claims.check("more depth always helps", 1 < 0) is False
    assert MARKS[True] in shown[0] and MARKS[False] in shown[1]
    assert shown[0].startswith("Claim: float32 learns what float64 does.")
    path = tmp_path / "results.json"
    record(path, claims=claims.records())
    assert json.loads(path.read_text())["claims"] == [
        {"text": "float32 learns what float64 does", "holds": True},
        {"text": "more depth always helps", "holds": False}]


def test_a_quick_build_checks_nothing(shown):
    claims = Claims(quick=True)
    assert claims.check("the ResNet trains at 20 layers", False) is None
    assert claims.records() == [{"text": "the ResNet trains at 20 layers", "holds": None}]
    assert MARKS[None] in shown[0]


@pytest.mark.parametrize("holds", [None, 0.3, "yes", np.array([True, False])])
def test_a_full_build_needs_a_verdict_computed_from_the_results(holds):
    with pytest.raises(TypeError, match="holds must be a bool"):
        Claims(quick=False).check("something", holds)


def test_the_build_line_counts_the_claims_and_names_the_contradicted(tmp_path):
    from scratchnet.report.pipeline import claims_summary, recorded_claims

    executed = []
    for stem, claims in {"a": [{"text": "x", "holds": True}],
                         "b": [{"text": "y", "holds": False}, {"text": "z", "holds": True}],
                         "c": None}.items():
        executed.append(tmp_path / f"{stem}.ipynb")
        record(tmp_path / f"{stem}.json", **({"claims": claims} if claims else {}))
    found = recorded_claims(executed)
    assert [c["text"] for _, c in found] == ["x", "y", "z"]
    line = claims_summary(found)
    assert "3 claims, 1 CONTRADICTED" in line and line.endswith("b.ipynb: y)")
    assert claims_summary(found[:1]) == ", 1 claim, which holds"
    assert claims_summary([found[0], found[2]]) == ", 2 claims, all hold"
    assert claims_summary([("a", {"text": "q", "holds": None})]) == ", 1 claim not checked"
    assert claims_summary([]) == ""
