"""Records on disk: ids, YAML round trip, validation, atomic writes, the cache."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from litkb.errors import LitkbError, RecordError
from litkb.identity import Catalog, merge
from litkb.models import Paper, Source, is_valid_id, make_id
from litkb.store import RecordStore, dump_record, parse_record


def test_ids_are_stable_safe_and_title_derived() -> None:
    a = make_id("Hopfield Networks is All You Need")
    assert a == make_id("  hopfield networks, is all you NEED!  ")
    assert a.startswith("hopfield-networks-is-all-you-need-") and is_valid_id(a)
    for hostile in [
        "../../etc/passwd",
        "a/b\\c",
        "x\x00y",
        "line\nbreak",
        "é" * 500,
        "日本語のタイトル",
        "---",
    ]:
        paper_id = make_id(hostile)
        assert is_valid_id(paper_id) and "/" not in paper_id and len(paper_id) <= 60


def test_yaml_round_trip_keeps_types() -> None:
    paper = Paper(
        id=make_id("no"),
        title="no",
        abstract="yes: on\n\nsecond para",
        year=2024,
        upvotes=3,
        authors=["Null", "True"],
        date="2024-01-02",
        notes="multi\nline",
        sources=[Source("f.txt", "hf-daily", "2025-11-18", 1)],
        extra={"k": [1, "two"]},
    )
    text = dump_record(paper)
    back = parse_record(text, "x.yaml")
    assert back == paper
    # the records cache's row form, read back without the dataclass's __init__, holds every field
    import dataclasses

    from litkb.models import RECORD_FIELDS

    assert {f.name for f in dataclasses.fields(Paper)} == set(RECORD_FIELDS)
    row = Paper.from_row(paper.to_row())
    assert row == paper and vars(row) == vars(paper) and row.sources[0] == paper.sources[0]


def test_hand_edited_scalars_are_read_as_what_the_field_holds() -> None:
    back = parse_record("id: x-1\ntitle: no\nyear: '2021'\ndate: 2021-05-06\nauthors: [yes, 12]\n", "x.yaml")
    assert (back.title, back.year, back.date, back.authors) == ("no", 2021, "2021-05-06", ["yes", "12"])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("title: [unclosed\n", "x.yaml:"),
        ("- just\n- a list\n", "expected a mapping"),
        ("title: T\nyear: soon\n", "field 'year' should be a whole number"),
        ("title: T\nbogus: 1\n", "unknown field bogus"),
        ("abstract: none\n", "field 'title' is missing"),
        ("title: !!python/object/apply:os.system ['echo hi']\n", "x.yaml"),
    ],
)
def test_invalid_records_are_clear_errors(text: str, message: str) -> None:
    with pytest.raises(RecordError, match=None) as info:
        parse_record(text, "x.yaml")
    assert message in str(info.value)


def test_store_save_load_and_cache_never_stale(tmp_path: Path) -> None:
    store = RecordStore(tmp_path / "records", cache_file=tmp_path / ".cache" / "records.json")
    paper = Paper(id=make_id("A Title"), title="A Title", upvotes=1)
    store.save_many([paper])
    assert store.load_all() == ([paper], [])
    assert (tmp_path / ".cache" / "records.json").exists()
    path = store.path_for(paper.id)
    path.write_text(path.read_text().replace("upvotes: 1", "upvotes: 22"))
    os.utime(path, ns=(1, 1))  # even a change that keeps the size is seen (mtime differs)
    papers, _ = store.load_all()
    assert papers[0].upvotes == 22
    path.write_text("title: [broken\n")
    papers, problems = store.load_all()
    assert papers == [] and problems and str(path) in problems[0]


def test_a_failed_write_leaves_the_old_file_and_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = RecordStore(tmp_path)
    paper = Paper(id=make_id("A Title"), title="A Title")
    store.save_many([paper])
    before = store.path_for(paper.id).read_bytes()

    def full_disk(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", full_disk)
    paper.title = "Changed"
    with pytest.raises(LitkbError, match="No space left on device"):
        store.save_many([paper])
    assert store.path_for(paper.id).read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == [store.path_for(paper.id).name]


def test_merge_updates_input_fields_and_keeps_user_fields() -> None:
    old = Paper(
        id="a-1",
        title="T",
        upvotes=1,
        tags=["mine"],
        notes="my note",
        n_authors=3,
        sources=[Source("a.txt", "hf-daily", "2025-11-18", 4)],
    )
    new = Paper(
        title="T",
        upvotes=9,
        sources=[Source("a.txt", "hf-daily", "2025-11-19", 2), Source("b.csv", "csv", None, 1)],
    )
    merged = merge(old, new)
    assert (merged.id, merged.upvotes, merged.tags, merged.notes, merged.n_authors) == (
        "a-1",
        9,
        ["mine"],
        "my note",
        3,
    )
    assert [(s.file, s.position) for s in merged.sources] == [("a.txt", 2), ("b.csv", 1)]


def test_same_title_different_external_ids_are_two_papers() -> None:
    first = Paper(title="Same", external_id="1")
    catalog = Catalog([])
    first.id = catalog.new_id(first)
    catalog.put(first)
    second = Paper(title="Same", external_id="2")
    assert catalog.match(second) is None
    second.id = catalog.new_id(second)
    assert second.id != first.id
    assert catalog.match(Paper(title="same!")) is first
