"""Generated documentation stays in step with the code."""

from __future__ import annotations

from pathlib import Path

from paxsilica.atlas import schema_markdown

ROOT = Path(__file__).resolve().parents[1]


def test_schema_doc_is_current() -> None:
    doc = (ROOT / "docs" / "schema.md").read_text(encoding="utf-8")
    assert doc == schema_markdown(), "docs/schema.md is stale: run `paxsilica atlas schema > docs/schema.md`"
