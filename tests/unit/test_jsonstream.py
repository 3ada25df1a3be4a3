"""Streaming a JSON array item by item, however its bytes are cut into chunks."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from servicem8_connector.servicem8.jsonstream import BrokenArray, NotAnArray, array_items

SAMPLE = [
    {"uuid": "a", "note": "café ☕ 🚐", "amount": 12.5, "count": 1234567, "geo": None},
    {"uuid": "b", "nested": {"list": [1, 2, {"deep": "]},["}]}, "flag": True},
    -7.25e3,
    "a string with \\\" escapes \u2028",
    [],
    {},
]


def cut(data: bytes, *sizes: int) -> Iterator[bytes]:
    """``data`` in chunks of the given sizes, the last size repeating."""
    at, index = 0, 0
    while at < len(data):
        size = sizes[min(index, len(sizes) - 1)]
        yield data[at:at + size]
        at, index = at + size, index + 1


@pytest.mark.parametrize("indent", [None, 2])
def test_every_cut_point_gives_the_same_items(indent: int | None) -> None:
    body = json.dumps(SAMPLE, indent=indent, ensure_ascii=False).encode()
    for first in range(1, len(body)):
        assert list(array_items(cut(body, first, 7))) == SAMPLE, first


def test_one_byte_at_a_time_splits_multibyte_characters_and_numbers() -> None:
    body = json.dumps([123456789, 0.000125, "🚐🚐", {"n": -42}], ensure_ascii=False).encode()
    assert list(array_items(cut(body, 1))) == [123456789, 0.000125, "🚐🚐", {"n": -42}]


@pytest.mark.parametrize("body", [b"[]", b"  [ ]  ", b"[\n]\n"])
def test_an_empty_array_has_no_items(body: bytes) -> None:
    assert list(array_items([body])) == []


@pytest.mark.parametrize("body", [b"", b"   ", b'{"errorCode": 0}', b"<html>busy</html>", b"null"])
def test_a_body_that_is_not_an_array_is_refused(body: bytes) -> None:
    with pytest.raises(NotAnArray):
        list(array_items([body]))


@pytest.mark.parametrize("body", [
    b'[{"uuid": "a"}', b'[{"uuid": "a"},', b'[{"uuid": "a"', b'[{"uuid": "a"} {"uuid": "b"}]',
    b"[1,,2]", b"[1,]", b"[,1]", b"[nope]", b'["\xff"]',
])
def test_a_broken_or_cut_off_array_is_an_error_not_a_shorter_list(body: bytes) -> None:
    with pytest.raises(BrokenArray):
        list(array_items(cut(body, 3)))


def test_items_before_the_break_are_yielded_first() -> None:
    body = json.dumps([{"uuid": str(i)} for i in range(10)]).encode()[:-20]
    got = []
    with pytest.raises(BrokenArray):
        got.extend(array_items(cut(body, 16)))
    assert [item["uuid"] for item in got] == [str(i) for i in range(len(got))]
    assert 0 < len(got) < 10


def test_items_come_out_while_the_body_still_streams() -> None:
    sent = 0

    def chunks() -> Iterator[bytes]:
        nonlocal sent
        yield b"["
        for i in range(2000):
            sent += 1
            yield json.dumps({"uuid": str(i), "padding": "x" * 1000}).encode() + b","
        yield b'{"uuid": "last"}]'

    behind = [sent - int(item["uuid"]) for item in array_items(chunks()) if item["uuid"] != "last"]
    assert max(behind) <= 2  # each record is out a chunk or two after its bytes came in
