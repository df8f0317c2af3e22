"""docs/reliability.md is generated from the reliability tests (``tests/reliability/make_report.py``); this test fails
when the committed file differs from the table of the cases this session ran (or, when the session ran only part of
the folder, from a fresh run of the script), so the doc cannot drift from the matrix.

It sorts last in the folder so that, in ``pytest tests/reliability``, every other case has run when it compares.
"""

from __future__ import annotations

import make_report


def test_docs_reliability_md_is_generated_from_the_tests(reliability_recorder):
    if reliability_recorder is not None and reliability_recorder.complete():
        expected = make_report.render(reliability_recorder)
    else:
        expected = make_report.fresh_text()
    assert make_report.DOC.exists(), "docs/reliability.md is missing: run python tests/reliability/make_report.py"
    assert make_report.DOC.read_text() == expected, (
        "docs/reliability.md is out of date: regenerate it with python tests/reliability/make_report.py"
    )
