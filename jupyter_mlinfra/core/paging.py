"""One way to page a list, for every list the suite answers (REST and Python API alike).

A page is the envelope::

    {"items": [...], "total": 1234, "total_exact": true, "limit": 50, "offset": 0,
     "next_cursor": "WyJhIiwxXQ" | null}

Rows come in a stable, total order (each list names its sort key, unique per row); a
cursor is the sort key of the last row of a page (opaque to callers: base64url of a JSON
list), so the next page starts right after it whatever rows were added or removed meanwhile.
A list that gives its filters (``filter_scope``) binds its cursors to them: a cursor given
back with other filters, or to another list, is refused (``InvalidInput``, a 400) instead of
silently starting a page of one search from a row of another.
``offset`` pages work too (``offset`` and ``cursor`` together are refused). ``limit`` is
1..MAX_LIMIT: anything else is an ``InvalidInput`` naming the parameter, never clamped.

``page_rows`` pages a list already in memory (filtered by code), ``keyset`` adds the cursor's
condition to a SQLAlchemy statement (the database pages), ``bounded_count`` is the total of
a search that checks its filters row by row (exact when cheap, else a lower bound with
``total_exact`` false); ``walk`` pages through a paged function to a plain list (what the
Python API's list functions return).
"""

from __future__ import annotations

import base64
import hashlib
import json
from bisect import bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from .errors import InvalidInput, quote

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 1000
TOTAL_CAP = 1000  # lists whose total costs a lookup per row count exactly up to this
# A bounded total (``bounded_count``) checks at most COUNT_BUDGET rows of the index a search
# starts from (a few microseconds each: 2,000 keep a count near 10 ms)
COUNT_BUDGET = 2000
ENVELOPE_KEYS = ("items", "total", "total_exact", "limit", "offset", "next_cursor")


def page_int(name: str, value: Any, minimum: int, maximum: int | None) -> int:
    """An integer paging argument, checked: a 400 naming ``name`` otherwise."""
    if isinstance(value, bool):
        raise InvalidInput(f"{name} must be an integer, got {value!r}")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"{name} must be an integer, got {quote(value)}") from None
    if isinstance(value, float) and value != number:
        raise InvalidInput(f"{name} must be an integer, got {value!r}")
    if number < minimum or (maximum is not None and number > maximum):
        bound = f"between {minimum} and {maximum}" if maximum is not None else f">= {minimum}"
        raise InvalidInput(f"{name} must be {bound}, got {number}")
    return number


def filter_scope(list_name: str, **filters: Any) -> str:
    """A short fingerprint of a list and the filters of a search over it, which its cursors
    carry (empty filters - None, "", [], {}, False - are left out: absent and empty agree)."""
    given = {k: v for k, v in filters.items() if v not in (None, "", [], {}, (), False)}
    raw = json.dumps([list_name, given], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.blake2b(raw.encode(), digest_size=6).hexdigest()


def encode_cursor(position: Sequence[Any], scope: str | None = None) -> str:
    """The cursor of a row: its sort key (JSON-able values) as base64url without padding;
    with ``scope`` (``filter_scope``), bound to that list and those filters."""
    data: Any = list(position) if scope is None else {"k": list(position), "f": scope}
    raw = json.dumps(data, separators=(",", ":"), default=str)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _not_ours(cursor: str) -> InvalidInput:
    return InvalidInput(
        f"cursor {quote(str(cursor)[:80])} is not a next_cursor this server gave; "
        f"start again without one"
    )


def decode_cursor(cursor: str, size: int | None = None, scope: str | None = None) -> list[Any]:
    """The sort key a cursor holds; a cursor this server did not give is a 400 naming it, and
    so is (with ``scope``) a cursor of another list or of the same list with other filters."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
    except (ValueError, TypeError, UnicodeDecodeError, RecursionError):
        raise _not_ours(cursor) from None
    if scope is not None:
        if not isinstance(data, dict) or set(data) != {"k", "f"}:
            raise _not_ours(cursor)
        if data["f"] != scope:
            raise InvalidInput(
                f"cursor {quote(str(cursor)[:80])} continues another search (other "
                f"filters, or another list): give a cursor back with the filters of the "
                f"page it came from, or start again without one"
            )
        data = data["k"]
    if (
        not isinstance(data, list)
        or (size is not None and len(data) != size)
        or not all(isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in data)
    ):
        raise _not_ours(cursor)
    return data


@dataclass(frozen=True)
class PageRequest:
    """``limit``, ``offset`` and ``cursor`` checked once (the same messages everywhere)."""

    limit: int = DEFAULT_LIMIT
    offset: int = 0
    cursor: str | None = None
    scope: str | None = None  # filter_scope of the list and its filters

    @classmethod
    def of(
        cls,
        limit: Any = None,
        offset: Any = None,
        cursor: str | None = None,
        scope: str | None = None,
    ) -> PageRequest:
        limit = DEFAULT_LIMIT if limit in (None, "") else page_int("limit", limit, 1, MAX_LIMIT)
        offset = 0 if offset in (None, "") else page_int("offset", offset, 0, None)
        if cursor and offset:
            raise InvalidInput("offset and cursor: give one or the other, not both")
        return cls(limit, offset, cursor or None, scope)

    def after(self, size: int | None = None) -> list[Any] | None:
        """The sort key of the row the page starts after (None: from the first row)."""
        return decode_cursor(self.cursor, size, self.scope) if self.cursor else None

    def cursor_of(self, position: Sequence[Any]) -> str:
        """The next_cursor of a page whose last row has this sort key."""
        return encode_cursor(position, self.scope)


def envelope(
    items: list,
    *,
    total: int,
    limit: int,
    offset: int = 0,
    next_cursor: str | None = None,
    total_exact: bool = True,
) -> dict:
    return {
        "items": items,
        "total": total,
        "total_exact": total_exact,
        "limit": limit,
        "offset": offset,
        "next_cursor": next_cursor,
    }


def page_rows(
    rows: Iterable[T],
    *,
    key: Callable[[T], tuple],
    limit: Any = None,
    offset: Any = None,
    cursor: str | None = None,
    item: Callable[[T], Any] | None = None,
    scope: str | None = None,
) -> dict:
    """One page of ``rows`` (any order: they are sorted by ``key``, ascending; the key must be
    unique per row and made of strings and numbers). ``item`` turns the page's rows into
    answers (only the page's: building an answer can cost a lookup)."""
    request = PageRequest.of(limit, offset, cursor, scope)
    keyed = sorted(((tuple(key(r)), i, r) for i, r in enumerate(rows)), key=lambda t: (t[0], t[1]))
    keys = [k for k, _, _ in keyed]
    start = request.offset
    after = request.after()
    if after is not None:
        try:
            start = bisect_right(keys, tuple(after))
        except TypeError:  # a cursor of another list (its key has other types)
            raise InvalidInput(
                f"cursor {quote((request.cursor or '')[:80])} is not a next_cursor "
                f"of this list; start again without one"
            ) from None
    chosen = keyed[start : start + request.limit]
    more = start + request.limit < len(keyed)
    convert = item or (lambda r: r)
    return envelope(
        [convert(r) for _, _, r in chosen],
        total=len(keyed),
        limit=request.limit,
        offset=request.offset,
        next_cursor=request.cursor_of(chosen[-1][0]) if more and chosen else None,
    )


def keyset(
    stmt,
    columns: Sequence[Any],
    after: Sequence[Any] | None,
    descending: bool | Sequence[bool] = False,
):
    """``stmt`` ordered by ``columns`` (all ascending, all descending, or one direction per
    column) and, with ``after`` (a decoded cursor), starting past that row: a row-value
    comparison written as ORs, which SQLite and PostgreSQL both answer from an index on the
    columns."""
    from sqlalchemy import and_, or_

    downs = (
        [bool(descending)] * len(columns)
        if isinstance(descending, bool)
        else [bool(d) for d in descending]
    )
    order = [c.desc() if down else c.asc() for c, down in zip(columns, downs)]
    stmt = stmt.order_by(*order)
    if after is None:
        return stmt
    if len(after) != len(columns):
        raise InvalidInput("cursor is not a next_cursor of this list; start again without one")
    terms = []
    for i, column in enumerate(columns):
        past = column < after[i] if downs[i] else column > after[i]
        terms.append(and_(*[columns[j] == after[j] for j in range(i)], past))
    # the first column's bound on its own too: an index range to start from (the ORs only
    # sort out the ties)
    start = columns[0] <= after[0] if downs[0] else columns[0] >= after[0]
    return stmt.where(start, or_(*terms))


def bounded_count(
    s,
    stmt,
    window,
    order: Sequence[Any],
    *,
    descending: bool = False,
    bounded: bool = True,
    budget: int = COUNT_BUDGET,
    cap: int | None = None,
    distinct: Any = None,
) -> tuple[int, bool]:
    """The total of the search ``stmt`` and whether it is exact, reading at most ``budget``
    rows of the index the search starts from.

    ``window`` selects that index's rows (the search's driving filter alone), ``order`` is
    the index's order (its first column bounds the window; the last one is what ``stmt``
    counts, unique per row). When the window holds more than ``budget`` rows, only the rows
    before the first one past the budget are counted: a lower bound, not exact. With ``cap``,
    at most ``cap`` matches are counted (``cap`` and not exact beyond). ``distinct``: count
    the distinct values of that column instead of rows. ``bounded`` False: an exact count,
    left to the planner (still capped)."""
    from sqlalchemy import func, select

    first = order[0]
    sort = [c.desc() if descending else c.asc() for c in order]
    # the first column's value of the window's row just past the budget (None: within it)
    floor = (
        s.scalar(window.with_only_columns(first).order_by(*sort).offset(budget).limit(1))
        if bounded
        else None
    )
    if floor is not None:  # count among the rows before it only
        stmt = stmt.where(first > floor if descending else first < floor)
    counted = stmt.with_only_columns(order[-1] if distinct is None else distinct).order_by(None)
    if distinct is not None:
        counted = counted.distinct()
    if cap is not None:
        if bounded:  # in the index's order: its range before the floor, nothing else
            counted = counted.order_by(*sort)
        counted = counted.limit(cap + 1)
    total = s.scalar(select(func.count()).select_from(counted.subquery())) or 0
    if cap is not None and total > cap:
        return cap, False
    return total, floor is None


def walk(fetch: Callable[..., dict], /, limit: int | None = None, **filters: Any) -> list:
    """Every row of a paged list, page by page (cursor to cursor), as one list; at most
    ``limit`` rows when given."""
    out: list = []
    cursor = None
    while True:
        size = MAX_LIMIT if limit is None else max(1, min(MAX_LIMIT, limit - len(out)))
        page = fetch(**filters, limit=size, cursor=cursor)
        filters.pop("offset", None)  # the first page skips them; the cursor carries on
        out.extend(page["items"])
        cursor = page.get("next_cursor")
        if not cursor or (limit is not None and len(out) >= limit):
            return out if limit is None else out[:limit]
