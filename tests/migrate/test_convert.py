"""`capsule-proxy convert`: the real v1 fixtures round-trip; bad documents are reported and counted."""

from __future__ import annotations

import io
import json
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from proxy.migrate import convert as converting
from proxy.resources.task import TASK_SHAPE
from proxy.translate import fields as engine
from proxy.translate.fields import Context
from tests.v1.codecs import json_codec, xml_codec

from .helpers import TtyText, json_lines, run

SINGLE = ["mattbeedle--task.json", "philipbrown--get-task.json", "philipbrown--post-task-request.json"]
LISTS = ["mattbeedle--all_tasks.json", "mattbeedle--no_tasks.json"]
LINKS = ("partyId", "opportunityId", "caseId")
ZONE = "Europe/London"


def kept(task: dict[str, str]) -> dict[str, str]:
    """What a conversion keeps: the writable fields and the link."""
    return {key: value for key, value in task.items() if key in TASK_SHAPE.writable or key in LINKS}


@pytest.fixture
def maps(tmp_path: Path, v1_real: Path) -> list[str]:
    """Owner and category maps: the categories from the real v1 category list fixture."""
    owners = tmp_path / "owners.json"
    owners.write_text(json.dumps({"a.user": 7, "someone.else": 8}))
    names = json_codec.decode_categories((v1_real / "mattbeedle--all_categories.json").read_bytes())
    categories = tmp_path / "categories.toml"
    categories.write_text("".join(f'"{name}" = {index}\n' for index, name in enumerate(names, 1)))
    return ["--owner-map", str(owners), "--category-map", str(categories)]


def _fixture_tasks(v1_real: Path, name: str) -> list[dict[str, str]]:
    raw = (v1_real / name).read_bytes()
    return json_codec.decode_tasks(raw) if name in LISTS else [json_codec.decode_task(raw)]


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_the_real_fixtures_round_trip_v1_to_v2_to_v1(tmp_path, v1_real, maps, fmt):
    paths = [str(v1_real / name) for name in SINGLE + LISTS]
    status, _, err = run("convert", "--timezone", ZONE, *maps, "--output", str(tmp_path / "v2"), *paths)
    assert status == 0, err
    assert "converted 7 tasks from 5 files; none failed" in err

    status, _, err = run("convert", "--to", "v1", "--format", fmt, "--timezone", ZONE, *maps,
                         "--output", str(tmp_path / "v1"), str(tmp_path / "v2"))
    assert status == 0, err
    for name in SINGLE + LISTS:
        back = (tmp_path / "v1" / name).with_suffix(f".{fmt}").read_bytes()
        codec = json_codec if fmt == "json" else xml_codec
        tasks = codec.decode_tasks(back) if name in LISTS else [codec.decode_task(back)]
        assert [kept(task) for task in tasks] == [kept(task) for task in _fixture_tasks(v1_real, name)], name


def test_v2_bodies_carry_the_stored_links_and_the_mapped_ids(tmp_path, v1_real, maps):
    status, out, _ = run("convert", "--timezone", ZONE, *maps, str(v1_real / "mattbeedle--all_tasks.json"))
    assert status == 0
    lines = json_lines(out)
    assert [line["source"].rsplit("#", 1)[1] for line in lines] == ["1", "2", "3", "4"]
    first, second, third, fourth = (line["task"] for line in lines)
    assert first == {"description": "Meet with customer", "detail": "Meeting at Coffee shop",
                     "category": {"id": 4}, "dueOn": "2012-02-24", "owner": {"id": 7}, "party": {"id": 1}}
    assert second["opportunity"] == {"id": 5} and third["kase"] == {"id": 3}
    assert not {"party", "opportunity", "kase"} & set(fourth)


def test_no_links_leaves_the_links_out(v1_real, maps):
    status, out, _ = run("convert", "--no-links", *maps, str(v1_real / "mattbeedle--task.json"))
    assert status == 0
    assert "party" not in json_lines(out)[0]["task"]


def test_a_time_of_day_is_kept_in_the_given_zone(v1_real):
    status, out, _ = run("convert", "--timezone", "America/New_York", str(v1_real / "philipbrown--post-task-request.json"))
    assert status == 0
    assert json_lines(out)[0]["task"] == {"description": "Call customer", "dueOn": "2012-04-21", "dueTime": "11:00:00"}


def test_a_time_of_day_without_timezone_is_a_counted_error(v1_real):
    status, out, err = run("convert", str(v1_real / "philipbrown--post-task-request.json"))
    assert status == 1 and out == b""
    assert "converted 0 tasks from 1 file; 1 failed:" in err
    assert "pass --timezone ZONE" in err


def test_convert_uses_the_proxys_translation(monkeypatch, v1_real, maps):
    """No second copy of the rules: every task goes through the engine's to_v2 / to_v1 over the
    task's declaration."""
    seen: list[str] = []
    real_v2, real_v1 = engine.to_v2, engine.to_v1
    monkeypatch.setattr(converting, "to_v2", lambda *a, **k: seen.append("v2") or real_v2(*a, **k))
    monkeypatch.setattr(converting, "to_v1", lambda *a, **k: seen.append("v1") or real_v1(*a, **k))
    status, out, _ = run("convert", *maps, str(v1_real / "mattbeedle--all_tasks.json"))
    assert status == 0 and seen == ["v2"] * 4
    status, _, _ = run("convert", "--to", "v1", *maps, "-", stdin=out)
    assert status == 0 and seen == ["v2"] * 4 + ["v1"] * 4


BAD = {
    "broken.xml": b"<task><description>unclosed</task>",
    "unknown-element.xml": b"<task><description>x</description><dueDate>2026-01-02</dueDate><colour>red</colour></task>",
    "not-json.json": b"{\"task\": ",
    "text.json": b"hello",
    "empty.xml": b"   ",
    "no-due-date.json": b'{"task": {"description": "x"}}',
    "unknown-owner.json": b'{"task": {"description": "x", "dueDate": "2026-01-02", "owner": "nobody"}}',
    "two-links.json": b'{"task": {"description": "x", "dueDate": "2026-01-02", "partyId": "1", "caseId": "2"}}',
}


def test_bad_documents_are_reported_counted_and_do_not_stop_the_rest(tmp_path, v1_real, maps):
    folder = tmp_path / "in"
    folder.mkdir()
    for name, body in BAD.items():
        (folder / name).write_bytes(body)
    (folder / "good.xml").write_bytes(b"<task><description>Fine</description><dueDate>2026-01-02</dueDate></task>")
    (folder / "notes.txt").write_text("not a document; skipped in a folder")
    status, out, err = run("convert", *maps, str(folder), str(v1_real / "mattbeedle--all_categories.json"),
                           str(tmp_path / "missing.xml"))
    assert status == 1
    assert [line["source"] for line in json_lines(out)] == [str(folder / "good.xml")]
    assert f"converted 1 task from {len(BAD) + 2} files; {len(BAD) + 2} failed:" in err
    reasons = dict(line.strip().split(": ", 1) for line in err.splitlines()[1:] if line.startswith("  "))
    assert "malformed XML" in reasons[str(folder / "broken.xml")]
    assert "colour" in reasons[str(folder / "unknown-element.xml")]
    assert "malformed JSON" in reasons[str(folder / "not-json.json")]
    assert "neither XML" in reasons[str(folder / "text.json")]
    assert "empty" in reasons[str(folder / "empty.xml")]
    assert "needs a dueDate" in reasons[str(folder / "no-due-date.json")]
    assert "owner 'nobody' is not in the owner map" in reasons[str(folder / "unknown-owner.json")]
    assert "linked to partyId and caseId" in reasons[str(folder / "two-links.json")]
    # Categories are a declared family, but their list holds names, not records.
    assert "holds task category names, not records" in reasons[str(v1_real / "mattbeedle--all_categories.json")]
    assert reasons[str(tmp_path / "missing.xml")] == "no such file or folder"
    assert "notes.txt" not in err


def test_a_missing_map_is_named_in_the_error(v1_real):
    status, _, err = run("convert", str(v1_real / "mattbeedle--task.json"))
    assert status == 1
    # In the order the family declares its elements (category before owner).
    assert ("the task names category 'Meeting', but no --category-map FILE was given to look it up; "
            "the task names owner 'a.user', but no --owner-map FILE was given to look it up") in err


def test_one_bad_task_in_a_list_fails_alone(tmp_path, maps):
    doc = tmp_path / "list.xml"
    doc.write_bytes(b'<tasks size="3"><task><description>a</description><dueDate>2026-01-02</dueDate></task>'
                    b"<task><description>b</description><dueDate>2026-01-02</dueDate><owner>ghost</owner></task>"
                    b"<task><description>c</description><dueDate>2026-01-03</dueDate><category>Send</category></task>"
                    b"</tasks>")
    status, out, err = run("convert", *maps, "--output", str(tmp_path / "out"), str(doc))
    assert status == 1
    assert f"{doc}#2: owner 'ghost' is not in the owner map" in err
    written = json.loads((tmp_path / "out" / "list.json").read_text())
    assert [task["description"] for task in written["tasks"]] == ["a", "c"]
    assert out == b""


def test_stdin_and_xml_input(maps):
    body = b"<?xml version='1.0'?><task><description>From stdin</description><dueDate>2026-01-02</dueDate>" \
           b"<category>call</category><owner>a.user</owner></task>"
    status, out, err = run("convert", *maps, "-", stdin=body)
    assert status == 0, err
    assert json_lines(out) == [{"source": "stdin", "task": {"description": "From stdin", "category": {"id": 1},
                                                            "dueOn": "2026-01-02", "owner": {"id": 7}}}]


def test_an_empty_list_converts_to_an_empty_list(tmp_path, v1_real):
    status, out, err = run("convert", "--output", str(tmp_path), str(v1_real / "mattbeedle--no_tasks.json"))
    assert status == 0 and out == b""
    assert json.loads((tmp_path / "mattbeedle--no_tasks.json").read_text()) == {"tasks": []}
    assert "converted 0 tasks from 1 file; none failed" in err


def test_v2_to_v1_needs_names_for_ids_and_a_zone_for_times(tmp_path, maps):
    doc = tmp_path / "in.jsonl"
    doc.write_text("\n".join([
        json.dumps({"task": {"description": "ok", "dueOn": "2026-01-02", "owner": {"id": 7}}}),
        json.dumps({"task": {"description": "who", "dueOn": "2026-01-02", "owner": {"id": 99}}}),
        json.dumps({"source": "x", "task": {"description": "when", "dueOn": "2026-01-02", "dueTime": "10:00:00"}}),
    ]) + "\n")
    status, out, err = run("convert", "--to", "v1", "--format", "json", *maps, str(doc))
    assert status == 1
    assert json_lines(out) == [{"source": f"{doc}#1", "task": {"description": "ok",
                                                               "dueDate": "2026-01-02T00:00:00Z", "owner": "a.user"}}]
    assert f"{doc}#2: owner id 99 is not in the owner map" in err
    assert f"{doc}#3: the task has a time of day, the owner's local time in v2: pass --timezone ZONE" in err


def test_v2_to_v1_xml_lines(maps):
    body = json.dumps({"tasks": [{"description": "a & b", "dueOn": "2026-01-02", "dueTime": "10:00:00"}]}).encode()
    status, out, _ = run("convert", "--to", "v1", "--timezone", "Europe/Rome", "-", stdin=body)
    assert status == 0
    [line] = json_lines(out)
    assert line["source"] == "stdin#1"
    assert xml_codec.decode_task(line["xml"].encode()) == {"description": "a & b",
                                                           "dueDateTime": "2026-01-02T09:00:00Z"}


def test_maps_may_be_saved_v2_answers(tmp_path):
    users = tmp_path / "users.json"
    users.write_text(json.dumps({"users": [{"id": 3, "username": "phillip"}, {"id": 4, "username": "sofia"}]}))
    categories = tmp_path / "categories.json"
    categories.write_text(json.dumps({"categories": [{"id": 9, "name": "Call", "colour": "#fff"}]}))
    body = b'{"task": {"description": "x", "dueDate": "2026-01-02", "owner": "Sofia", "category": "Call"}}'
    status, out, err = run("convert", "--owner-map", str(users), "--category-map", str(categories), "-", stdin=body)
    assert status == 0, err
    assert json_lines(out)[0]["task"]["owner"] == {"id": 4}
    assert json_lines(out)[0]["task"]["category"] == {"id": 9}


@pytest.mark.parametrize("content, message", [
    ("{not json", "not valid JSON"),
    ('{"a": "x"}', "positive whole-number id"),
    ('{"a": 0}', "positive whole-number id"),
    ('["a"]', "object of name -> id"),
    ('{"things": []}', "expected an object of name -> id"),
])
def test_a_bad_map_is_a_usage_error(tmp_path, content, message):
    bad = tmp_path / "map.json"
    bad.write_text(content)
    status, out, err = run("convert", "--owner-map", str(bad), "-", stdin=b"<task/>")
    assert status == 2 and out == b""
    assert message in err and "--owner-map" in err


def test_bad_options_are_usage_errors(tmp_path):
    assert run("convert", "--timezone", "Mars/Olympus", "-")[0] == 2
    assert run("convert", "--owner-map", str(tmp_path / "nope.json"), "-")[0] == 2
    (tmp_path / "file").write_text("")
    assert run("convert", "--output", str(tmp_path / "file"), "-")[0] == 2
    assert run("convert", "-", "-")[0] == 2


def test_an_output_name_used_twice_is_a_failure(tmp_path):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "same.xml").write_bytes(b"<task><description>x</description><dueDate>2026-01-02</dueDate></task>")
    status, _, err = run("convert", "--output", str(tmp_path / "out"), str(tmp_path / "a" / "same.xml"),
                         str(tmp_path / "b" / "same.xml"))
    assert status == 1
    assert "would overwrite the one written for" in err


def test_folders_keep_their_relative_paths(tmp_path):
    (tmp_path / "in" / "sub").mkdir(parents=True)
    (tmp_path / "in" / "sub" / "t.xml").write_bytes(b"<task><description>x</description><dueDate>2026-01-02</dueDate></task>")
    (tmp_path / "in" / "t.xml").write_bytes(b"<task><description>y</description><dueDate>2026-01-02</dueDate></task>")
    status, _, _ = run("convert", "--output", str(tmp_path / "out"), str(tmp_path / "in"))
    assert status == 0
    assert json.loads((tmp_path / "out" / "sub" / "t.json").read_text())["task"]["description"] == "x"
    assert json.loads((tmp_path / "out" / "t.json").read_text())["task"]["description"] == "y"


# --- the progress bar ---

def _many(tmp_path: Path, count: int = 3) -> list[str]:
    paths = []
    for index in range(count):
        path = tmp_path / f"t{index}.xml"
        path.write_bytes(b"<task><description>x</description><dueDate>2026-01-02</dueDate></task>")
        paths.append(str(path))
    return paths


def test_the_progress_bar_is_off_when_stderr_is_not_a_terminal(tmp_path):
    stderr = io.StringIO()
    status, _, err = run("convert", *_many(tmp_path), stderr=stderr)
    assert status == 0
    assert "\r" not in err and "converting [" not in err
    assert err == "converted 3 tasks from 3 files; none failed\n"


def test_the_progress_bar_is_on_at_a_terminal_and_cleared_before_the_summary(tmp_path):
    status, _, err = run("convert", *_many(tmp_path), stderr=TtyText())
    assert status == 0
    assert "\rconverting [" in err and "3/3 files" in err
    assert err.endswith("\rconverted 3 tasks from 3 files; none failed\n")


def test_no_progress_bar_for_a_single_file_even_at_a_terminal(tmp_path):
    _, _, err = run("convert", *_many(tmp_path, 1), stderr=TtyText())
    assert "\r" not in err


# --- the functions, directly ---

def test_stored_links_is_a_separate_step_from_the_proxys_rules():
    v1 = {"description": "x", "dueDate": "2026-01-02T00:00:00Z", "partyId": "12", "partyName": "Ann"}
    maps = converting.Maps()
    assert "party" not in engine.to_v2(TASK_SHAPE, v1, Context(creating=True, zone_override=ZoneInfo("UTC")))
    assert converting.v1_to_v2(v1, root="task", zone=None, maps=maps)["party"] == {"id": 12}
    with pytest.raises(converting.RecordError, match="partyId must be a positive whole number"):
        converting.v1_to_v2({**v1, "partyId": "abc"}, root="task", zone=None, maps=maps)


def test_read_v1_tells_xml_and_json_apart_by_content():
    read = converting.read_v1(b'\xef\xbb\xbf  <?xml version="1.0"?><!-- c --><tasks><task><description>a</description>'
                              b"</task></tasks>")
    assert (read.family.name, read.items, read.is_list) == ("task", [("task", {"description": "a"})], True)
    read = converting.read_v1(b' {"task": {"description": "a"}}')
    assert (read.family.name, read.items, read.is_list) == ("task", [("task", {"description": "a"})], False)


# --- any declared family, any look-up ---

def test_lookup_gives_any_lookup_list_offline(tmp_path):
    users = tmp_path / "users.json"
    users.write_text(json.dumps({"users": [{"id": 3, "username": "phillip"}]}))
    body = b'{"task": {"description": "x", "dueDate": "2026-01-02", "owner": "phillip"}}'
    status, out, err = run("convert", "--lookup", f"users={users}", "-", stdin=body)
    assert status == 0, err
    assert json_lines(out)[0]["task"]["owner"] == {"id": 3}


@pytest.mark.parametrize("argv, message", [
    (["--lookup", "caller=x.json"], "not a look-up list"),
    (["--lookup", "colours=x.json"], "not a look-up list; known: users, categories"),
    (["--lookup", "users"], "expected NAME=FILE"),
])
def test_a_bad_lookup_option_is_a_usage_error(argv, message):
    status, _, err = run("convert", *argv, "-", stdin=b"<task/>")
    assert status == 2 and message in err


def test_a_lookup_given_twice_is_a_usage_error(tmp_path):
    users = tmp_path / "users.json"
    users.write_text('{"a": 1}')
    status, _, err = run("convert", "--owner-map", str(users), "--lookup", f"users={users}", "-", stdin=b"<task/>")
    assert status == 2 and "--lookup users: given twice" in err


def test_other_families_convert_by_their_own_declaration(tmp_path):
    """A saved v2 users answer becomes a v1 <users> list: the family is found by its v2 key."""
    body = json.dumps({"users": [{"id": 1, "username": "phillip", "name": "Phillip", "timezone": "UTC",
                                  "currency": "GBP", "party": {"id": 4}}]}).encode()
    status, _, err = run("convert", "--to", "v1", "--output", str(tmp_path), "-", stdin=body)
    assert status == 0, err
    assert "converted 1 user from 1 file; none failed" in err
    assert xml_codec.decode_users((tmp_path / "stdin.xml").read_bytes()) == [
        {"username": "phillip", "currency": "GBP", "name": "Phillip", "timezone": "UTC", "partyId": "4"}]
    # v2 users are not written through the API: every element of <user> is read-only.
    status, _, err = run("convert", "-", stdin=b"<users><user><username>a</username></user></users>")
    assert status == 1 and "every element of <user> is read-only" in err
