"""The original API document, read at test time, and a checker of reply shapes against it.

The document is never copied into the repository: its request examples, reply examples and error
lists are parsed from ``shared/original-api/directory-api.md`` each run.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
ORIGINAL_DOC = SHARED / "original-api" / "directory-api.md"

# Keys of a documented reply that a reply may leave out: the original's call-center link, never sent.
OPTIONAL_KEYS = frozenset({"cc_agent"})

_REQUEST = re.compile(r"-d '(.*)'$", re.MULTILINE)
_JSON_BLOCK = re.compile(r"```json\n(.*?)```", re.DOTALL)
_EVENT_VALUE = re.compile(r"##### Event value\s*\n\s*`([^`\n]+)`")
_ERRORS = re.compile(r"##### Errors\s*\n(.*?)(?=\n#|\Z)", re.DOTALL)


@dataclass(frozen=True)
class Example:
    section: str  # "Domains" or "Users"
    title: str
    event: str
    request: dict[str, Any]
    reply: dict[str, Any]
    errors: tuple[str, ...] = field(default=())


@cache
def examples() -> tuple[Example, ...]:
    """Every documented event of the Domains and Users sections, in document order."""
    found: list[Example] = []
    section = ""
    for block in re.split(r"^(?=###[^#])|^(?=####[^#])", ORIGINAL_DOC.read_text(), flags=re.MULTILINE):
        heading = block.split("\n", 1)[0]
        if heading.startswith("### "):
            section = heading[4:].strip()
            continue
        if not heading.startswith("#### ") or section not in ("Domains", "Users"):
            continue
        event = _EVENT_VALUE.search(block)
        request = _REQUEST.search(block)
        if event is None or request is None or not request.group(1):
            continue  # the document's trailing empty template
        reply = _JSON_BLOCK.search(block)
        assert reply is not None, f"no reply example for {event.group(1)}"
        errors_block = _ERRORS.search(block)
        errors: list[str] = []
        for line in (errors_block.group(1) if errors_block else "").splitlines():
            text = line.strip()
            if text.startswith("* ") and text[2:] not in errors:
                errors.append(text[2:])
        found.append(
            Example(
                section=section,
                title=heading[5:].strip(),
                event=event.group(1),
                request=json.loads(request.group(1)),
                reply=json.loads(reply.group(1)),
                errors=tuple(errors),
            )
        )
    return tuple(found)


def example(event: str) -> Example:
    [match] = [item for item in examples() if item.event == event]
    return match


def documented_errors() -> dict[str, tuple[str, ...]]:
    return {item.event: item.errors for item in examples()}


# --- shapes --------------------------------------------------------------------------------------


def _is_id_map(value: dict[str, Any]) -> bool:
    return bool(value) and all(key.isdigit() for key in value)


def _json_type(value: Any) -> str:
    # bool before int: True is an int to Python, not to a JSON client.
    for name, kind in (("bool", bool), ("int", int), ("str", str), ("dict", dict), ("list", list)):
        if isinstance(value, kind):
            return name
    return "null" if value is None else type(value).__name__


def _merged_template(items: list[Any], where: str) -> tuple[Any, set[str]]:
    """One template for the values of a documented map, and the keys only some values have."""
    first = items[0]
    if not isinstance(first, dict) or _is_id_map(first):
        return first, set()
    every = set(first)
    union = set(first)
    for item in items[1:]:
        every &= set(item)
        union |= set(item)
    optional = union - every
    assert optional <= OPTIONAL_KEYS, f"{where}: documented values disagree on keys {sorted(optional)}"
    template = {}
    for item in items:
        for key, value in item.items():
            template.setdefault(key, value)
    return template, optional


def assert_shape(
    actual: Any,
    documented: Any,
    *,
    ids: dict[int, int] | None = None,
    extra: frozenset[str] = frozenset(),
    optional: frozenset[str] = OPTIONAL_KEYS,
    where: str = "reply",
) -> None:
    """``actual`` has exactly the keys and JSON types of ``documented``, recursively.

    Maps keyed by ids (every key a decimal string) must be non-empty maps keyed by ids whose values
    all look like the documented values, each ``"id"`` equal to its key. ``ids`` maps ids used in
    the documented request to the real ones sent: where the documented reply has such an id (as a
    map key or an ``"id"`` value), the reply must have the real one. ``extra`` keys may be present
    in any object besides the documented ones (extensions).
    """
    ids = ids or {}
    if isinstance(documented, dict) and _is_id_map(documented):
        assert isinstance(actual, dict), f"{where}: expected a map, got {actual!r}"
        assert actual, f"{where}: expected a non-empty map"
        assert all(key.isdigit() and int(key) > 0 for key in actual), f"{where}: keys must be ids: {list(actual)}"
        template, only_some = _merged_template(list(documented.values()), where)
        for key, value in actual.items():
            # The merged template stands for every value: none of its ids is anyone's in particular.
            assert_shape(value, template, extra=extra, optional=optional | only_some, where=f"{where}[{key}]")
            if isinstance(value, dict) and "id" in value:
                assert value["id"] == int(key), f"{where}[{key}]: id {value['id']!r} differs from its key"
        for key, value in documented.items():
            if int(key) in ids:
                real = str(ids[int(key)])
                assert real in actual, f"{where}: expected the id {real} (documented as {key}), got {list(actual)}"
                assert_shape(actual[real], value, ids=ids, extra=extra, optional=optional, where=f"{where}[{real}]")
        return
    if isinstance(documented, dict):
        assert isinstance(actual, dict), f"{where}: expected an object, got {actual!r}"
        missing = set(documented) - set(actual) - optional
        unexpected = set(actual) - set(documented) - extra
        assert not missing, f"{where}: missing keys {sorted(missing)} in {actual!r}"
        assert not unexpected, f"{where}: unexpected keys {sorted(unexpected)} in {actual!r}"
        for key, value in documented.items():
            if key in actual:
                assert_shape(actual[key], value, ids=ids, extra=extra, where=f"{where}.{key}")
        if isinstance(documented.get("id"), int) and documented["id"] in ids:
            assert actual["id"] == ids[documented["id"]], f"{where}.id: expected {ids[documented['id']]}"
        return
    assert _json_type(actual) == _json_type(documented), (
        f"{where}: expected a {_json_type(documented)} like {documented!r}, got {actual!r}"
    )


def replace_ids(request: dict[str, Any], ids: dict[int, int]) -> dict[str, Any]:
    """The documented request's ``data`` with its ids replaced (every id the map knows must be there)."""
    data = dict(request["data"])
    data.pop("token", None)
    if "id" in data:
        assert data["id"] in ids, f"no object made for the documented id {data['id']}"
        data["id"] = ids[data["id"]]
    return data
