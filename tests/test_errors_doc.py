"""docs/errors.md cannot drift: its failure tables are regenerated from real CLI runs and compared
(the table of the shared weights with the real encoders, in a slow test)."""

from __future__ import annotations

import pytest
from errors_table import CASES, DOC, WEIGHT_CASES, WEIGHTS_BEGIN, WEIGHTS_END, generated_part, table


def test_every_case_is_in_the_committed_table() -> None:
    doc = DOC.read_text(encoding="utf-8")
    committed = generated_part(doc) + generated_part(doc, WEIGHTS_BEGIN, WEIGHTS_END)
    for case in [*CASES, *WEIGHT_CASES]:
        assert f"| {case.failure.replace('|', chr(92) + '|')} |" in committed, case.failure


@pytest.mark.slow  # ~100 failure cases run through the CLI: CI's run; the check above stays in every run
def test_errors_table_matches_what_semsearch_says() -> None:
    committed = generated_part(DOC.read_text(encoding="utf-8"))
    fresh = table()
    assert fresh == committed, "docs/errors.md is out of date: run `python tests/errors_table.py --write`"


@pytest.mark.slow  # the real encoders, and a conversion of the second encoder's weights per case
def test_the_weights_table_matches_what_semsearch_says() -> None:
    committed = generated_part(DOC.read_text(encoding="utf-8"), WEIGHTS_BEGIN, WEIGHTS_END)
    fresh = table(WEIGHT_CASES)
    assert fresh == committed, "docs/errors.md is out of date: run `python tests/errors_table.py --write`"
