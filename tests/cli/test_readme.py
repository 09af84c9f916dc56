"""The README says what the code does: every seed key, every command's flags, the untranslated calls."""

from __future__ import annotations

import re
from pathlib import Path

from proxy.emulator import seed, seed_records
from proxy.resources import UNTRANSLATED

README = (Path(__file__).resolve().parents[2] / "README.md").read_text("utf-8")


def _seed_rows() -> dict[str, set[str]]:
    section = README.split('<a id="the-seed-format"></a>', 1)[1].split("```", 1)[0]
    rows = {}
    for table, keys in re.findall(r"^\| `\[{1,2}(\w+)\]{1,2}` \| (.*) \|$", section, re.M):
        rows[table] = set(re.findall(r"`(\w+)`", keys))
    return rows


def test_every_seed_table_and_key_is_listed():
    rows = _seed_rows()
    schemas = {**seed._SCHEMAS, **seed_records.SCHEMAS}
    assert set(rows) == set(schemas)
    for table, schema in schemas.items():
        missing = set(schema) - rows[table]
        assert not missing, f"[{table}] keys missing from the README: {sorted(missing)}"
    for contact, keys in seed_records._CONTACTS.items():
        assert set(keys) <= rows["parties"], contact


def test_every_untranslated_call_is_named():
    def bare(text: str) -> str:
        return re.sub(r"\{[^}]*\}", "{}", text)
    named = bare(README.split("**Not translated**", 1)[1].split("\n\n", 1)[0])
    for _, template in UNTRANSLATED:
        assert f"`{bare(template)}" in named.replace("`POST ", "`"), template
