"""Reading runs: one run, the search over runs (filters answered by the database, keyset
pages), a run's output, input, log and artifacts, a sweep's results; and what is written to
a run from outside its attempt (cancellation, metrics and artifacts logged by its kernel)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import column, func, literal, literal_column, or_, select, table
from sqlalchemy.orm import Session, aliased, defer

from ..catalog.schema import utcnow
from ..errors import Conflict, InvalidInput, NotFound, quote
from ..identity import check_may_change, may_read, readable_clause
from ..paging import bounded_count, decode_cursor, encode_cursor, filter_scope, page_int
from ..tags import tag_terms
from ..times import parse as parse_time
from ..times import to_iso_z
from .definitions import find_job, job_names
from .states import ALL_STATES, ALL_TRIGGERS, FINAL_STATES, PENDING_STATES, RunState, run_to_dict
from .tables import Run, RunLogLine, RunMetric, RunParam, RunTag, Sweep, param_text

# Run search pages: at most MAX_PAGE rows; totals counted exactly up to RUN_TOTAL_CAP (a
# count costs a lookup per matching run: ~20 ms for 1,000 at 100,000 runs on SQLite).
MAX_PAGE = 1000
RUN_TOTAL_CAP = 1000


def find_run(s: Session, run_id: str) -> Run:
    run = s.get(Run, run_id)
    if run is None:
        raise NotFound(f"no run {run_id!r}")
    return run


def readable_run(ws, s: Session, run_id: str) -> Run:
    """The run, if this identity may read it (its visibility is its job's, kept in step by
    ``update_job``; a run without a job is "team" unless submitted otherwise); otherwise not
    found, so that run ids do not leak."""
    run = find_run(s, run_id)
    if not may_read(ws.identity, run.owner, run.visibility, run.team):
        raise NotFound(f"no run {run_id!r}")
    return run


def readable_runs(ws, stmt):
    """``stmt`` (a select of runs) narrowed to the runs this identity may read."""
    clause = readable_clause(ws.identity, Run.owner, Run.visibility, Run.team)
    return stmt if clause is None else stmt.where(clause)


def metrics_of(s: Session, run_ids: list[str]) -> dict[str, dict[str, float]]:
    """{run id: {metric: its last value}}."""
    out: dict[str, dict[str, float]] = {}
    for chunk_start in range(0, len(run_ids), 500):
        chunk = run_ids[chunk_start : chunk_start + 500]
        for run_id, name, value in s.execute(
            select(RunMetric.run_id, RunMetric.name, RunMetric.value)
            .where(RunMetric.run_id.in_(chunk))
            .order_by(RunMetric.id)
        ):
            out.setdefault(run_id, {})[name] = value
    return out


def get_run(ws, run_id: str) -> dict:
    with ws.catalog.read_session() as s:
        run = readable_run(ws, s, run_id)
        names = job_names(ws, s, [run.job_id] if run.job_id else [])
        out = run_to_dict(
            run,
            job_name=names.get(run.job_id) if run.job_id else None,
            metrics=metrics_of(s, [run.id]).get(run.id, {}),
        )
        out["metric_history"] = [
            {"name": m.name, "value": m.value, "step": m.step, "logged_at": to_iso_z(m.logged_at)}
            for m in s.scalars(
                select(RunMetric).where(RunMetric.run_id == run.id).order_by(RunMetric.id)
            )
        ]
    out["artifacts"] = run_artifacts(ws, run_id)
    return out


def list_runs(
    ws,
    *,
    job: str | None = None,
    state: str | list[str] | None = None,
    owner: str | None = None,
    trigger: str | None = None,
    tag: str | list[str] | None = None,
    sweep: str | None = None,
    pipeline: str | None = None,
    notebook: str | None = None,
    parameters: dict | None = None,
    q: str | None = None,
    since: str | datetime | None = None,
    until: str | datetime | None = None,
    limit: int = 50,
    offset: int = 0,
    cursor: str | None = None,
    has_output: bool = False,
) -> dict:
    """One page of the runs this identity may read (see ``JobsService.list_runs``);
    ``has_output``: only runs that kept an output notebook (the notebook hub's)."""
    limit = page_int("limit", limit, 1, MAX_PAGE)
    offset = page_int("offset", offset, 0, None)
    if cursor and offset:
        raise InvalidInput("offset and cursor: give one or the other, not both")
    since_at, until_at = parse_time(since, "since"), parse_time(until, "until")
    # a cursor continues the search it came from: these filters, normalised
    scope = filter_scope(
        "runs",
        job=job,
        state=sorted(
            x for st in ([state] if isinstance(state, str) else state or []) for x in st.split(",")
        ),
        owner=owner,
        trigger=trigger,
        tag=sorted(tag_terms(tag)),
        sweep=sweep,
        pipeline=pipeline,
        notebook=notebook,
        parameters={str(k): param_text(v) for k, v in (parameters or {}).items()},
        q=q,
        since=since_at and since_at.isoformat(),
        until=until_at and until_at.isoformat(),
        has_output=has_output,
    )
    after = _decode_cursor(cursor, scope) if cursor else None
    with ws.catalog.read_session() as s:
        conditions = []  # on the run's own columns
        drivers: list[_Driver] = []  # filters that can be where the search starts
        clause = readable_clause(ws.identity, Run.owner, Run.visibility, Run.team)
        if clause is not None:
            conditions.append(clause)
        if job:
            job_id = find_job(ws, s, job).id
            conditions.append(Run.job_id == job_id)
            drivers.append(_Driver.of_runs(Run.job_id == job_id))
        if sweep:
            conditions.append(Run.sweep_id == sweep)
            drivers.append(_Driver.of_runs(Run.sweep_id == sweep))
        if state:
            states = [state] if isinstance(state, str) else list(state)
            states = [x for st in states for x in st.split(",") if x]
            bad = [x for x in states if x not in ALL_STATES]
            if bad:
                raise InvalidInput(f"unknown state {bad[0]!r}: choose from {', '.join(ALL_STATES)}")
            conditions.append(Run.state.in_(states))
            if len(set(states)) == 1:
                drivers.append(_Driver.of_runs(Run.state == states[0]))
        if owner:
            conditions.append(Run.owner == owner)
            drivers.append(_Driver.of_runs(Run.owner == owner))
        if trigger:
            if trigger not in ALL_TRIGGERS:
                raise InvalidInput(
                    f"unknown trigger {trigger!r}: choose from {', '.join(ALL_TRIGGERS)}"
                )
            conditions.append(Run.trigger == trigger)
        if has_output:
            conditions.append(Run.output_key.is_not(None))
        if pipeline:
            conditions.append(Run.pipeline_id == pipeline)
        if notebook:
            conditions.append(Run.notebook.icontains(notebook, autoescape=True))
        text_ids = None
        if q:
            text_ids = text_index_ids(ws, s, q)
            if text_ids is None:
                conditions.append(_text_scan(q, ws.catalog.backend))
            else:
                conditions.append(Run.id.in_(text_ids))
                drivers.append(_Driver.of_runs(Run.id.in_(text_ids), size=len(text_ids)))
        for term in tag_terms(tag):  # several: every one held
            drivers.append(_Driver.of_side(RunTag, lambda t, term=term: t.tag == term))
        for name, value in (parameters or {}).items():
            value_text = param_text(value)
            drivers.append(
                _Driver.of_side(
                    RunParam, lambda t, n=name, v=value_text: (t.name == n) & (t.value_text == v)
                )
            )
        driver = _choose(s, drivers, ws.catalog.backend)
        # the search starts from the driver's index, newest first; every other filter is a
        # check per run met there (a run's own columns, or an EXISTS on the side tables,
        # whose primary keys start with the run id)
        stmt = driver.select()
        if driver.table is not Run:
            stmt = stmt.join(Run, Run.id == driver.id_col)
        stmt = stmt.where(*conditions)
        for other in drivers:
            if other is not driver and other.table is not Run:
                side = aliased(other.table)
                stmt = stmt.where(
                    select(side.run_id)
                    .where(side.run_id == Run.id, other.condition_on(side))
                    .exists()
                )
        at_col, id_col = driver.at_col, driver.id_col
        if since_at is not None:
            stmt = stmt.where(at_col >= since_at)
        if until_at is not None:
            stmt = stmt.where(at_col < until_at)
        # PostgreSQL answers a text search from its trigram indexes (not in page order): its
        # count is left to the planner, capped but not bounded by the driver's runs
        bounded = not (q and text_ids is None and ws.catalog.backend == "postgresql")
        total, total_exact = _count(s, stmt, driver, since_at, until_at, bounded)
        if after is not None:
            at, last_id = after
            # "created_at <= at" is an index range; the OR only sorts out the ties
            stmt = stmt.where(at_col <= at, or_(at_col < at, id_col < last_id))
        # the page's ids first (from indexes alone), then those rows (wide: read only 50)
        ids = list(
            s.scalars(
                stmt.with_only_columns(id_col)
                .order_by(at_col.desc(), id_col.desc())
                .limit(limit + 1)
                .offset(offset if after is None else 0)
            )
        )
        more = len(ids) > limit
        ids = ids[:limit]
        found = {
            r.id: r
            for r in s.scalars(
                select(Run)
                .where(Run.id.in_(ids))
                .options(defer(Run.environment), defer(Run.output_text), defer(Run.history))
            )
        }
        rows = [found[i] for i in ids]
        names = job_names(ws, s, [r.job_id for r in rows if r.job_id])
        metrics = metrics_of(s, [r.id for r in rows])
        items = [
            run_to_dict(
                r, job_name=names.get(r.job_id), metrics=metrics.get(r.id, {}), summary=True
            )
            for r in rows
        ]
    return {
        "items": items,
        "total": total,
        "total_exact": total_exact,
        "limit": limit,
        "offset": offset if after is None else 0,
        "next_cursor": _encode_cursor(rows[-1], scope) if more else None,
    }


class _Driver:
    """Where a run search starts: an index whose rows are one filter's runs in (creation
    time, id) order - the runs table's indexes by job, sweep, state or owner
    (``ix_mlinfra_runs_*_created``), the tag or parameter side tables' indexes, or the runs
    a text search found - so a page reads its rows newest first from that index and checks
    the other filters per run met."""

    def __init__(self, table, condition, size: int | None = None, make=None):
        self.table, self.condition, self.size, self.make = table, condition, size, make
        if table is Run:
            self.at_col, self.id_col = Run.created_at, Run.id
        else:
            self.at_col, self.id_col = table.created_at, table.run_id

    @classmethod
    def of_runs(cls, condition, size: int | None = None) -> _Driver:
        return cls(Run, condition, size)

    @classmethod
    def of_side(cls, table, make) -> _Driver:
        """A tag or parameter filter: ``make(table or alias)`` is its condition."""
        return cls(table, make(table), make=make)

    def condition_on(self, alias):
        """This (side-table) driver's condition on an alias of its table."""
        return self.make(alias)

    def select(self):
        return select(self.id_col).select_from(self.table).where(self.condition)

    def estimate(self, s: Session) -> int:
        """How many rows this driver reads for the whole search, up to DRIVER_PROBE."""
        if self.size is not None:
            return self.size
        probe = select(literal(1)).select_from(self.table).where(self.condition)
        return s.scalar(select(func.count()).select_from(probe.limit(DRIVER_PROBE).subquery())) or 0


# The driver of a search is the filter with the fewest runs, each counted from its index up
# to DRIVER_PROBE (an index-only count: about a millisecond for 10,000 entries); a
# search that meets no filter with an index starts from the runs' creation-time index.
DRIVER_PROBE = 10_000
# The total counts the matching runs exactly when that costs at most RUN_COUNT_BUDGET runs
# read from the driver's index (each checked against the other filters); beyond, it is the
# count among the newest RUN_COUNT_BUDGET runs of the driver: a lower bound, total_exact
# false. And at most RUN_TOTAL_CAP matches are counted (total_exact false past it). (A run
# met costs a few microseconds: an index entry, the run's search index entry by id, one
# primary-key lookup per other tag or parameter; 2,000 keep the count near 10 ms.)
RUN_COUNT_BUDGET = 2000


def _choose(s: Session, drivers: list[_Driver], backend: str) -> _Driver:
    if not drivers:
        return _Driver.of_runs(literal(True))
    if len(drivers) == 1:
        return drivers[0]
    sized = [(d.estimate(s), i, d) for i, d in enumerate(drivers)]
    return min(sized, key=lambda t: (t[0], t[1]))[2]


def _count(
    s: Session, stmt, driver: _Driver, since_at, until_at, bounded: bool = True
) -> tuple[int, bool]:
    """The search's total (see RUN_COUNT_BUDGET and RUN_TOTAL_CAP) and whether it is
    exact: the count reads at most RUN_COUNT_BUDGET runs from the driver's index."""
    window = driver.select().with_only_columns(driver.at_col)
    if since_at is not None:
        window = window.where(driver.at_col >= since_at)
    if until_at is not None:
        window = window.where(driver.at_col < until_at)
    return bounded_count(
        s,
        stmt,
        window,
        [driver.at_col, driver.id_col],
        descending=True,
        bounded=bounded,
        budget=RUN_COUNT_BUDGET,
        cap=RUN_TOTAL_CAP,
    )


# SQLite's run text index (migration 0013_run_text_index): a trigram FTS5 table over the
# runs' notebook path and text lowered by SQLite's lower(), keyed by the rows of _TEXT_ROWS.
# The matching run ids are read once (at most TEXT_INDEX_MAX + 1); a term in more runs is
# searched by the scan instead: sorting that many matches by time costs more than scanning
# runs newest first, which meets them soon. (20,000 runs, one page and its total: a term in 99
# runs 20-30 ms by the index against 150-390 ms scanned; a term in nearly every run 260 ms if
# all its matches were sorted, 35-55 ms scanned.)
_TEXT_ROWS = table("mlinfra_run_text_rows", column("rid"), column("run_id"))
_TEXT_INDEX = table("mlinfra_run_text", column("rowid"))
_TRIGRAM = 3
TEXT_INDEX_MAX = 5000


def text_filter(ws, s: Session, q: str):
    """Runs whose notebook path or text (cells and outputs) holds ``q``, case-insensitively
    (ASCII letters, as SQL ``lower`` does on SQLite), with ``%`` and ``_`` literal; or whose id
    is ``q``. On SQLite, terms of 3 characters or more found in at most ``TEXT_INDEX_MAX``
    runs are looked up in the trigram index (the same runs as the scan: it indexes the same
    lowered text, case-sensitively); on PostgreSQL the scan's expressions are what the pg_trgm
    indexes cover. Shorter or very common terms scan."""
    ids = text_index_ids(ws, s, q)
    if ids is not None:
        return Run.id.in_(ids)
    return _text_scan(q, ws.catalog.backend)


def _text_scan(q: str, backend: str = "sqlite"):
    if backend == "postgresql":
        # lower(column) LIKE lower(pattern): the expressions of the pg_trgm GIN indexes of
        # migration 0013 (SQLAlchemy's icontains is ILIKE there, which they do not serve)
        pattern = "%" + q.replace("/", "//").replace("%", "/%").replace("_", "/_") + "%"
        needle = func.lower(literal(pattern))
        return or_(
            func.lower(Run.notebook).like(needle, escape="/"),
            func.lower(Run.output_text).like(needle, escape="/"),
            Run.id == q,
        )
    return or_(
        Run.notebook.icontains(q, autoescape=True),
        Run.output_text.icontains(q, autoescape=True),
        Run.id == q,
    )


def text_index_ids(ws, s: Session, q: str) -> list[str] | None:
    """The ids of the runs ``text_filter`` matches, when the trigram index answers (SQLite,
    a term of 3 characters or more in at most TEXT_INDEX_MAX runs; ``q`` itself is in the
    list, for a search by run id); None when the term is to be scanned for."""
    if ws.catalog.backend == "sqlite" and len(q) >= _TRIGRAM:
        phrase = literal('"') + func.replace(func.lower(literal(q)), '"', '""') + literal('"')
        matches = (
            select(_TEXT_INDEX.c.rowid)
            .where(literal_column(_TEXT_INDEX.name).op("MATCH")(phrase))
            .limit(TEXT_INDEX_MAX + 1)
        )
        # read once (the page and its total both use them)
        found = list(s.scalars(select(_TEXT_ROWS.c.run_id).where(_TEXT_ROWS.c.rid.in_(matches))))
        if len(found) <= TEXT_INDEX_MAX:
            return [*found, q]
    return None


def _encode_cursor(run: Run, scope: str) -> str:
    return encode_cursor([run.created_at.isoformat(), run.id], scope)


def _decode_cursor(cursor: str, scope: str) -> tuple[datetime, str]:
    """The (created_at, id) of the last row of a page, from its ``next_cursor`` (a cursor of
    a search with other filters is refused)."""
    at, run_id = decode_cursor(cursor, 2, scope)
    try:
        when = datetime.fromisoformat(str(at))
    except ValueError:
        when = None
    if when is None or when.tzinfo is None or not isinstance(run_id, str):
        raise InvalidInput(
            f"cursor {quote(cursor[:80])} is not a next_cursor this server "
            f"gave; start again without one"
        )
    return when, run_id


def run_output(ws, run_id: str) -> bytes:
    with ws.catalog.read_session() as s:
        run = readable_run(ws, s, run_id)
        key = run.output_key
    if not key or not ws.artifacts.exists(key):
        raise NotFound(f"run {run_id} has no output notebook yet (state {run.state})")
    return ws.artifacts.get(key)


def run_input(ws, run_id: str) -> bytes:
    with ws.catalog.read_session() as s:
        key = readable_run(ws, s, run_id).snapshot_key
    return ws.artifacts.get(key)


def run_log(ws, run_id: str, offset: int = 0, limit: int = 10_000) -> dict:
    with ws.catalog.read_session() as s:
        run = readable_run(ws, s, run_id)
        rows = list(
            s.scalars(
                select(RunLogLine)
                .where(RunLogLine.run_id == run_id, RunLogLine.id > int(offset))
                .order_by(RunLogLine.id)
                .limit(limit)
            )
        )
    return {
        "run_id": run_id,
        "state": run.state,
        "lines": [
            {"offset": r.id, "at": to_iso_z(r.at), "stream": r.stream, "text": r.text} for r in rows
        ],
        "next_offset": rows[-1].id if rows else int(offset),
    }


def run_artifact(ws, run_id: str, name: str, limit: int | None = None) -> dict:
    """One artifact a run saved, for its page's preview and download: {"name", "size",
    "data" (its bytes, the first ``limit`` of them when a limit is given), "truncated"}.
    Read only by who may read the run (else not found, like the run itself)."""
    with ws.catalog.read_session() as s:
        readable_run(ws, s, run_id)
    if limit is not None and limit < 1:
        raise InvalidInput(f"limit must be at least 1, got {limit}")
    key = f"runs/{run_id}/artifacts/{name}"
    if not name or not ws.artifacts.exists(key):
        raise NotFound(f"run {run_id} has no artifact {name[:200]!r}")
    size = ws.artifacts.stat(key).size
    if limit is None or limit >= size:
        data = ws.artifacts.get(key)
    else:
        with ws.artifacts.open(key) as fh:
            data = fh.read(limit)
    return {"name": name, "size": size, "data": data, "truncated": len(data) < size}


def run_artifacts(ws, run_id: str) -> list[dict]:
    with ws.catalog.read_session() as s:
        readable_run(ws, s, run_id)
    prefix = f"runs/{run_id}/artifacts"
    out = []
    for key in ws.artifacts.list(prefix):
        info = ws.artifacts.stat(key)
        out.append(
            {
                "name": key[len(prefix) + 1 :],
                "key": key,
                "size": info.size,
                "metadata": info.metadata,
            }
        )
    return out


def sweep_results(ws, sweep_id: str):
    """A pandas DataFrame, one row per run: run_id, state, the parameters, duration (s) and
    every logged metric (its last value)."""
    import pandas as pd

    columns, rows = sweep_rows(ws, sweep_id)
    return pd.DataFrame(rows, columns=columns)


def sweep_rows(ws, sweep_id: str) -> tuple[list[str], list[dict]]:
    """The rows of :func:`sweep_results` (dicts) and their columns, without pandas."""
    with ws.catalog.read_session() as s:
        if s.get(Sweep, sweep_id) is None:
            raise NotFound(f"no sweep {sweep_id!r}")
        runs = list(
            s.scalars(
                readable_runs(ws, select(Run))
                .where(Run.sweep_id == sweep_id)
                .order_by(Run.created_at, Run.id)
            )
        )
        metrics = metrics_of(s, [r.id for r in runs])
    param_names: list[str] = []
    metric_names: list[str] = []
    for r in runs:
        for k in r.parameters or {}:
            if k not in param_names:
                param_names.append(k)
        for k in metrics.get(r.id, {}):
            if k not in metric_names:
                metric_names.append(k)
    rows = []
    for r in runs:
        d = run_to_dict(r)
        row = {"run_id": r.id, "state": r.state}
        row.update({k: (r.parameters or {}).get(k) for k in param_names})
        row["duration"] = d["duration"] if r.state in FINAL_STATES else None
        row.update({k: metrics.get(r.id, {}).get(k) for k in metric_names})
        rows.append(row)
    return ["run_id", "state", *param_names, "duration", *metric_names], rows


def cancel_run(ws, run_id: str) -> dict:
    with ws.catalog.session() as s:
        run = readable_run(ws, s, run_id)
        check_may_change(ws.identity, run.owner, f"run {run.id}")
        if run.state in FINAL_STATES:
            raise Conflict(f"run {run_id} already ended ({run.state})")
        run.cancel_requested = True
        if run.state in PENDING_STATES:
            run.state = RunState.CANCELLED.value
            run.finished_at = utcnow()
            run.error = {"type": "Cancelled", "message": f"cancelled by {ws.user}"}
        s.flush()
        return run_to_dict(run)


def log_metric(ws, run_id: str, name: str, value: float, step: int | None = None) -> None:
    from .metric_writer import checked_metric  # the one check (the sqlite3 writer's too)

    name, number, step = checked_metric(name, value, step)
    with ws.catalog.session() as s:
        find_run(s, run_id)
        s.add(RunMetric(run_id=run_id, name=name, value=number, step=step, logged_at=utcnow()))


def log_artifact(ws, run_id: str, name: str, data: bytes, metadata: dict | None = None) -> dict:
    key = f"runs/{run_id}/artifacts/{name}"
    with ws.catalog.read_session() as s:
        find_run(s, run_id)
    return ws.artifacts.put(key, data, metadata=metadata).to_dict()
