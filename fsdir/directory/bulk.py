"""Names for ``Add_new_user`` with ``bulk``: the last run of digits counts up."""

from __future__ import annotations

import re

_LAST_DIGITS = re.compile(r"(\d+)(?!.*\d)")


def bulk_names(name: str, count: int) -> list[str]:
    """``"5000"`` → 5000, 5001…; ``"ext-100a"`` → ext-100a, ext-101a…; ``"007"`` → 007, 008…;
    a name without digits gets 1, 2… appended."""
    if count == 1:
        return [name]
    match = _LAST_DIGITS.search(name)
    if match is None:
        return [f"{name}{number}" for number in range(1, count + 1)]
    digits = match.group(1)
    start = int(digits)
    prefix, suffix = name[: match.start()], name[match.end() :]
    return [f"{prefix}{str(number).zfill(len(digits))}{suffix}" for number in range(start, start + count)]
