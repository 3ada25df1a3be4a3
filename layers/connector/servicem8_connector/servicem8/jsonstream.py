"""The items of a JSON array, parsed one by one from its bytes in chunks.

A ServiceM8 list page is up to 5,000 records, about 7 MB of JSON and several times that
parsed; besides the bytes, only the item being read is held here. Each item is parsed by
the standard library's C decoder (``raw_decode``), as fast as ``json.loads`` on the
whole body (an incremental event parser measured about four times slower on these pages).
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterable, Iterator
from typing import Any

_DECODER = json.JSONDecoder()
_BLANK = " \t\r\n"


class NotAnArray(ValueError):
    """The body is not a JSON array (an object, HTML, nothing)."""


class BrokenArray(ValueError):
    """The array is malformed or ends before its closing bracket."""


def array_items(chunks: Iterable[bytes]) -> Iterator[Any]:
    """Yield each item of the UTF-8 JSON array whose bytes come in ``chunks``."""
    decode = codecs.getincrementaldecoder("utf-8")().decode
    text, at = "", 0
    opened = closed = False
    expect_item = True  # after "[" or ","; after an item comes "," or "]"
    may_close = False  # "]" right after "[" (empty array) or after an item
    for chunk in _with_end(iter(chunks)):
        finished = chunk is None
        try:
            text = text[at:] + decode(chunk or b"", final=finished)
        except UnicodeDecodeError as exc:
            raise BrokenArray("the body is not UTF-8") from exc
        at = 0
        while not closed:
            at = _skip_blank(text, at)
            if at == len(text):
                break
            if not opened:
                if text[at] != "[":
                    raise NotAnArray(f"the body starts with {text[at]!r}, not '['")
                opened, may_close, at = True, True, at + 1
            elif text[at] == "]" and may_close:
                closed, at = True, at + 1
            elif text[at] == "," and not expect_item:
                expect_item, may_close, at = True, False, at + 1
            elif not expect_item:
                raise BrokenArray(f"expected ',' or ']' but found {text[at]!r}")
            else:
                try:
                    item, end = _DECODER.raw_decode(text, at)
                except json.JSONDecodeError:
                    if finished:
                        raise BrokenArray("the array ends midway through an item") from None
                    break  # the rest of the item has not arrived yet
                if not finished and _may_go_on(item, text, end):
                    break  # read it again with the next chunk
                yield item
                expect_item, may_close, at = False, True, end
    if not opened:
        raise NotAnArray("the body is empty")
    if not closed:
        raise BrokenArray("the array has no closing ']'")


def _with_end(chunks: Iterator[bytes]) -> Iterator[bytes | None]:
    yield from chunks
    yield None  # the end of the body: what is left must parse now


def _may_go_on(item: Any, text: str, end: int) -> bool:
    """Whether the next chunk could still change the item just read.

    A number cut by a chunk ("12" of "123", "1" of "1.5e3") parses as a shorter one; it is
    complete only once a "," or "]" follows it. Anything else ends where its text shows.
    """
    if end == len(text):
        return True
    if isinstance(item, bool) or not isinstance(item, (int, float)):
        return False
    after = _skip_blank(text, end)
    return after == len(text) or text[after] not in ",]"


def _skip_blank(text: str, at: int) -> int:
    while at < len(text) and text[at] in _BLANK:
        at += 1
    return at
