"""Every parser, fed generated text, returns papers and warnings; it never raises."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from litkb.errors import InputError
from litkb.models import Paper, make_id
from litkb.parsers import PARSERS, ParseOptions, decode_input, detect_parser

FRAGMENTS = [
    "@article{k,", "title = {", "}", "{", "\\'", "\\", "author = {A and B}", '@string{x = "y"}',
    "crossref = {k}", '<feed xmlns="http://www.w3.org/2005/Atom">', "<entry>", "</entry>",
    "<id>http://arxiv.org/abs/1234.5678v2</id>", "[", "]", '{"title": ', '"type": "article"',
    '"issued": {"date-parts": [[2020, 13, 40]]}', "·", "Feb 30", "Jan 5, 2024 3", "  • 4 authors",
    "apple Apple", "Daily Papers", "\n", "\r\n", ",", "title,abstract", "\x00", "é", "日本",
]  # fmt: skip
texts = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=20)), max_size=40).map("".join)


@pytest.mark.parametrize("name", PARSERS.names())
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=texts)
def test_parsers_never_crash(name: str, text: str) -> None:
    result = PARSERS.get(name).parse(text, ParseOptions(source_name="fuzz.txt"))
    for paper in result.papers:
        assert paper.title.strip()
        paper.id = make_id(paper.title)
        assert Paper.from_dict(paper.to_dict()) == paper  # what would be written is a valid record


@settings(max_examples=300, deadline=None)
@given(text=texts)
def test_detection_never_crashes(text: str) -> None:
    with contextlib.suppress(InputError):  # "not in a format litkb reads" is the one allowed error
        detect_parser(text, "fuzz.dat")


@settings(max_examples=500, deadline=None)
@given(data=st.binary(max_size=400) | st.text(max_size=200).map(lambda t: t.encode("utf-16")))
def test_any_bytes_decode_or_are_refused_by_name(data: bytes) -> None:
    """Bytes from anywhere: decoded to text (UTF-8, UTF-16, Latin-1) or refused with the file's name."""
    try:
        text, warnings = decode_input(data, "fuzz.bin")
    except InputError as exc:
        assert str(exc).startswith("fuzz.bin: ")
    else:
        assert isinstance(text, str) and all(isinstance(w, str) for w in warnings)
