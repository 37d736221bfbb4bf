"""docs/errors.md cannot drift: its failure table is regenerated from real CLI runs and compared."""

from __future__ import annotations

from errors_table import CASES, DOC, generated_part, table


def test_every_case_is_in_the_committed_table() -> None:
    committed = generated_part(DOC.read_text(encoding="utf-8"))
    for case in CASES:
        assert f"| {case.failure.replace('|', chr(92) + '|')} |" in committed, case.failure


def test_errors_table_matches_what_semsearch_says() -> None:
    committed = generated_part(DOC.read_text(encoding="utf-8"))
    fresh = table()
    assert fresh == committed, "docs/errors.md is out of date: run `python tests/errors_table.py --write`"
