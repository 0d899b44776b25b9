"""Run search answered by the database: every filter alone and combined gives exactly the
runs a plain Python filter gives, keyset pages walk every run once while runs are added, bad
paging input is a clear error, list rows are summaries; on SQLite and PostgreSQL."""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import event, insert, or_, select, text

from jupyter_mlinfra.core.errors import InvalidInput
from jupyter_mlinfra.core.jobs import runs as runs_module
from jupyter_mlinfra.core.jobs.runs import text_filter
from jupyter_mlinfra.core.jobs.states import ALL_STATES
from jupyter_mlinfra.core.jobs.tables import Run

T0 = datetime(2026, 3, 1, tzinfo=timezone.utc)
TAGS = ["night", "gpu", "baseline", "ablation"]
OWNERS = ["ann", "bob", "cyd"]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def search_jobs(request, jobs_ws, monkeypatch):
    if request.param == "sqlite":
        yield jobs_ws.service("jobs")
        return
    from jupyter_mlinfra.core.workspace import Workspace

    monkeypatch.setenv("MLINFRA_CATALOG_URL", request.getfixturevalue("pg_catalog_url"))
    ws = Workspace.open()
    ws.config.settings.root_dir = jobs_ws.config.settings.root_dir
    yield ws.service("jobs")
    ws.close()


def run_row(
    rng: random.Random, i: int, *, job_id=None, sweep_id=None, at: datetime | None = None
) -> dict:
    params = {"lr": rng.choice([0.1, 0.01, 0.001]), "depth": rng.randint(1, 4)}
    if rng.random() < 0.3:
        params["label"] = rng.choice(["a", "b"])
    return dict(
        id=uuid.uuid4().hex,
        job_id=job_id,
        owner=rng.choice(OWNERS),
        notebook=rng.choice(["train.ipynb", "etl/load.ipynb", "report.ipynb"]),
        cwd="/",
        snapshot_key=f"runs/{i}/input.ipynb",
        parameters=params,
        state=rng.choice(ALL_STATES),
        trigger=rng.choice(["manual", "schedule", "sweep"]),
        tags=rng.sample(TAGS, rng.randint(0, 3)),
        sweep_id=sweep_id,
        upstream_run_ids=[],
        progress={},
        history=[{"attempt": 1}],
        # every third run shares its time with the one before: ties are ordered by id
        created_at=at or (T0 + timedelta(minutes=i - (i % 3 == 2))),
        environment={"packages": [f"pkg{k}==1.0" for k in range(50)]},
        output_text=rng.choice(["loss is 0.5", "accuracy 0.91", "needle in the output", ""]),
        visibility="public",
        team="",
    )


def add_runs(jobs, rows: list[dict]) -> None:
    with jobs.ws.catalog.session() as s:
        s.add_all([Run(**row) for row in rows])  # through the ORM: its events index them


def expected(
    rows,
    *,
    state=None,
    job_id=None,
    owner=None,
    tag=None,
    sweep=None,
    parameters=None,
    q=None,
    since=None,
    until=None,
    trigger=None,
    notebook=None,
):
    out = []
    for r in rows:
        if state and r["state"] not in state.split(","):
            continue
        if job_id and r["job_id"] != job_id:
            continue
        if owner and r["owner"] != owner or trigger and r["trigger"] != trigger:
            continue
        tags = [tag] if isinstance(tag, str) else tag or []
        if any(t not in r["tags"] for t in tags) or sweep and r["sweep_id"] != sweep:
            continue
        if any(
            str(r["parameters"].get(k, object())) != str(v) for k, v in (parameters or {}).items()
        ):
            continue
        if q and q.lower() not in (r["notebook"] + " " + r["output_text"]).lower() and q != r["id"]:
            continue
        if notebook and notebook.lower() not in r["notebook"].lower():
            continue
        if since and r["created_at"] < since or until and r["created_at"] >= until:
            continue
        out.append(r)
    return [r["id"] for r in sorted(out, key=lambda r: (r["created_at"], r["id"]), reverse=True)]


def walk(jobs, limit=7, between=None, **filters) -> list[str]:
    """Every page by cursor; ``between(n)`` runs after the n-th page."""
    ids, cursor, n = [], None, 0
    while True:
        page = jobs.list_runs(limit=limit, cursor=cursor, **filters)
        assert len(page["items"]) <= limit
        ids += [r["id"] for r in page["items"]]
        cursor = page["next_cursor"]
        n += 1
        if cursor is None:
            return ids
        if between:
            between(n)


def test_every_filter_alone_and_combined_matches_a_python_filter(search_jobs):
    jobs = search_jobs
    rng = random.Random(7)
    job = jobs.create_job("nightly", "ok.ipynb")
    rows = [
        run_row(
            rng,
            i,
            job_id=job["id"] if i % 4 == 0 else None,
            sweep_id="sweep1" if i % 5 == 0 else None,
        )
        for i in range(300)
    ]
    add_runs(jobs, rows)
    since, until = T0 + timedelta(minutes=40), T0 + timedelta(minutes=200)
    cases = [
        {},
        {"state": "succeeded"},
        {"state": "failed,running"},
        {"owner": "bob"},
        {"tag": "gpu"},
        {"tag": "nope"},
        {"sweep": "sweep1"},
        {"trigger": "schedule"},
        {"parameters": {"lr": 0.01}},
        {"parameters": {"lr": "0.01", "depth": "2"}},
        {"parameters": {"label": "a"}},
        {"q": "needle"},
        {"q": "ETL/"},
        {"notebook": "train"},
        {"since": since},
        {"until": until},
        {"since": since, "until": until},
        {"tag": "night", "state": "succeeded,failed", "parameters": {"depth": 3}},
        {"owner": "ann", "tag": "baseline", "since": since},
        {"sweep": "sweep1", "q": "accuracy", "until": until},
        {"tag": "gpu", "parameters": {"lr": 0.1, "label": "b"}, "owner": "cyd"},
    ]
    for case in cases:
        want = expected(rows, **case)
        got = walk(jobs, **case)
        assert got == want, case
        assert jobs.list_runs(**case)["total"] == len(want), case
    by_job = expected(rows, job_id=job["id"])
    assert walk(jobs, job="nightly") == by_job
    assert walk(jobs, job="nightly", tag="gpu", state="queued,succeeded") == expected(
        rows, job_id=job["id"], tag="gpu", state="queued,succeeded"
    )
    # the REST layer's text forms of times
    iso = since.isoformat().replace("+00:00", "Z")
    assert walk(jobs, since=iso) == expected(rows, since=since)
    assert walk(jobs, since=iso[:-1]) == expected(rows, since=since)  # no offset: UTC
    # offset paging still gives the same order
    page = jobs.list_runs(offset=20, limit=10)
    assert [r["id"] for r in page["items"]] == expected(rows)[20:30]
    assert page["next_cursor"] is not None


def test_combined_filters_match_a_python_filter_whichever_filter_the_search_starts_from(
    search_jobs,
):
    """The search starts from the index of its most selective filter (a job, a sweep, a
    state, an owner, a tag, a parameter, text matches): each choice gives the same runs."""
    jobs = search_jobs
    rng = random.Random(19)
    job = jobs.create_job("nightly", "ok.ipynb")
    rows = [
        run_row(
            rng,
            i,
            job_id=job["id"] if i % 3 == 0 else None,
            sweep_id="sweep1" if i % 7 == 0 else None,
        )
        for i in range(400)
    ]
    add_runs(jobs, rows)
    since, until = T0 + timedelta(minutes=30), T0 + timedelta(minutes=330)
    cases = [
        {"tag": ["gpu", "night"]},
        {"tag": ["gpu", "night", "baseline"], "owner": "ann"},
        {"state": "succeeded", "tag": "gpu", "parameters": {"depth": 2}, "since": since},
        {"state": "failed", "tag": "night", "parameters": {"lr": 0.1}, "until": until},
        {"state": "succeeded", "tag": ["gpu", "ablation"], "since": since, "until": until},
        {"q": "needle", "sweep": "sweep1"},
        {"q": "loss", "owner": "bob", "parameters": {"lr": 0.001, "depth": 1}},
        {"parameters": {"lr": 0.01, "depth": 3}, "state": "queued,succeeded,failed"},
        {"owner": "cyd", "state": "running", "trigger": "manual"},
        {"sweep": "sweep1", "tag": "gpu", "state": "succeeded"},
    ]
    for case in cases:
        want = expected(rows, **case)
        assert walk(jobs, limit=6, **case) == want, case
        page = jobs.list_runs(**case)
        assert page["total"] == len(want) and page["total_exact"], case
    for case in [
        {"q": "needle"},
        {"tag": "gpu", "state": "succeeded", "parameters": {"depth": 4}},
        {"q": "accuracy", "tag": "night"},
    ]:
        want = expected(rows, job_id=job["id"], **case)
        assert walk(jobs, limit=5, job="nightly", **case) == want, case
        assert jobs.list_runs(job="nightly", **case)["total"] == len(want), case


def test_totals_past_the_count_budget_are_lower_bounds_and_say_so(search_jobs, monkeypatch):
    """The count reads at most RUN_COUNT_BUDGET runs of the search's starting index: past
    that, total is what those held (a lower bound) with total_exact false; pages still
    reach every match."""
    from jupyter_mlinfra.core.jobs import runs

    monkeypatch.setattr(runs, "RUN_COUNT_BUDGET", 30)
    jobs = search_jobs
    rng = random.Random(23)
    rows = [run_row(rng, i, sweep_id="small" if i % 20 == 0 else None) for i in range(300)]
    add_runs(jobs, rows)
    case = {"tag": "gpu", "parameters": {"depth": 2}}
    want = expected(rows, **case)
    page = jobs.list_runs(**case)
    assert page["total_exact"] is False
    assert 0 < page["total"] < len(want)
    assert walk(jobs, limit=8, **case) == want
    # a search whose starting index holds fewer runs than the budget counts exactly
    small = {"sweep": "small", "state": "succeeded,failed,queued,running"}
    page = jobs.list_runs(**small)
    assert page["total"] == len(expected(rows, **small)) and page["total_exact"] is True


def test_a_cursor_continues_only_the_search_it_came_from(search_jobs):
    jobs = search_jobs
    rng = random.Random(29)
    add_runs(jobs, [run_row(rng, i) for i in range(60)])
    cursor = jobs.list_runs(limit=3, tag="gpu", state="failed,succeeded")["next_cursor"]
    assert cursor
    # the same search, however its filters are spelled, goes on
    same = jobs.list_runs(limit=3, tag=["gpu"], state=["succeeded", "failed"], cursor=cursor)
    assert same["items"]
    for other in [{"tag": "night"}, {}, {"tag": "gpu"}, {"tag": "gpu", "state": "failed"}]:
        with pytest.raises(InvalidInput, match="^cursor .* another search"):
            jobs.list_runs(limit=3, cursor=cursor, **other)
    # a cursor of another list
    jobs.create_job("a", "ok.ipynb")
    jobs.create_job("b", "ok.ipynb")
    job_cursor = jobs.list_jobs_page(limit=1)["next_cursor"]
    with pytest.raises(InvalidInput, match="^cursor"):
        jobs.list_runs(cursor=job_cursor)


def test_keyset_pages_walk_every_run_once_while_runs_are_added(search_jobs):
    jobs = search_jobs
    rng = random.Random(11)
    rows = [run_row(rng, i) for i in range(120)]
    add_runs(jobs, rows)
    added = []

    def more(n):
        batch = [run_row(rng, 1000 + n, at=datetime.now(timezone.utc)) for _ in range(3)]
        added.extend(batch)
        add_runs(jobs, batch)

    ids = walk(jobs, limit=9, between=more)
    assert len(ids) == len(set(ids)) == 120
    assert ids == expected(rows)
    assert len(added) > 10
    # a filtered walk too (ties and all), with new matching runs added meanwhile
    before = rows + added
    ids = walk(jobs, limit=4, between=more, tag="gpu")
    assert ids == expected(before, tag="gpu")


def test_list_rows_are_summaries(search_jobs):
    jobs = search_jobs
    rows = [run_row(random.Random(3), i) for i in range(3)]
    add_runs(jobs, rows)
    page = jobs.list_runs()
    assert page["total"] == 3 and page["total_exact"] and page["next_cursor"] is None
    for item in page["items"]:
        assert "environment" not in item and "history" not in item
        assert item["parameters"] == next(r for r in rows if r["id"] == item["id"])["parameters"]
    full = jobs.get_run(rows[0]["id"])
    assert full["environment"]["packages"][0] == "pkg0==1.0"


def test_totals_are_capped_and_say_so(jobs, monkeypatch):
    from jupyter_mlinfra.core.jobs import runs

    monkeypatch.setattr(runs, "RUN_TOTAL_CAP", 5)
    add_runs(jobs, [run_row(random.Random(5), i) for i in range(8)])
    page = jobs.list_runs(limit=3)
    assert page["total"] == 5 and page["total_exact"] is False
    assert len(walk(jobs, limit=3)) == 8  # the cap bounds the count, not the pages
    assert jobs.list_runs(state=ALL_STATES[0], limit=3)["total"] <= 5


@pytest.mark.parametrize(
    "args, name",
    [
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"offset": -1}, "offset"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": "WzEsMl0"}, "cursor"),
        ({"since": "yesterday"}, "since"),
        ({"until": "2026-13-01"}, "until"),
    ],
)
def test_bad_paging_input_names_the_parameter(jobs, args, name):
    with pytest.raises(InvalidInput, match=f"^{name}"):
        jobs.list_runs(**args)


def test_offset_and_cursor_together_is_an_error(jobs):
    add_runs(jobs, [run_row(random.Random(1), i) for i in range(3)])
    cursor = jobs.list_runs(limit=1)["next_cursor"]
    with pytest.raises(InvalidInput, match="offset and cursor"):
        jobs.list_runs(cursor=cursor, offset=1)


def test_runs_made_before_the_search_tables_are_found_by_tag_and_parameter(tmp_path):
    """The 0011_run_search migration indexes the runs a catalog already has."""
    from alembic import command

    from jupyter_mlinfra.core.catalog import Catalog

    url = f"sqlite:///{tmp_path / 'old.db'}"
    old = Catalog(url)
    with old.engine.begin() as conn:
        command.upgrade(old._alembic_config(conn), "0009_runs_visibility")
        rows = [run_row(random.Random(2), i) for i in range(20)]
        conn.execute(insert(Run.__table__), rows)  # plain SQL: no ORM event
    old.engine.dispose()
    catalog = Catalog(url)
    catalog.ensure_schema()
    from sqlalchemy import func, select

    from jupyter_mlinfra.core.jobs.tables import RunParam, RunTag

    with catalog.read_session() as s:
        tagged = set(s.scalars(select(RunTag.run_id).where(RunTag.tag == "gpu")))
        assert tagged == {r["id"] for r in rows if "gpu" in r["tags"]}
        assert s.scalar(select(func.count()).select_from(RunParam)) == sum(
            len(r["parameters"]) for r in rows
        )


TEXTS = [
    "Ünïcode ÄRGER in der Straße",
    "100% done",
    "a_b c",
    "50%_off now",
    "KELVIN \u212a sign",
    "\u017fo long s",
    "İstanbul IST",
    "日本語のテキスト",
    'she said "hi" twice',
    "NEEDLE in the output",
    "back\\slash /etl/ path",
    "",
]
NOTEBOOKS = ["Über/plan.ipynb", "etl/load.ipynb", "train.ipynb", "50%/x_y.ipynb"]
TERMS = [
    "ärger",
    "ÄRGER",
    "Ärger",
    "ärGER",
    "straße",
    "STRASSE",
    "100%",
    "0%",
    "%",
    "_",
    "a_b",
    "a%b",
    "%_o",
    "0%_",
    "k",
    "\u212a",
    "kelvin \u212a",
    "kelvin k",
    "ſo",
    "so l",
    "İst",
    "ist",
    "IST",
    "日本語",
    "本語の",
    '"hi"',
    'said "',
    '"',
    "needle",
    "NEEDLE",
    "etl/",
    "ETL/",
    "\\sla",
    "über",
    "ÜBER/",
    "x_y",
    "%/x",
    "zzz",
    "ab",
    "a",
    " ",
]


def scan_ids(jobs, q: str) -> list[str]:
    """The runs the text scan (``lower(...) LIKE``, the search before the index) finds."""
    with jobs.ws.catalog.read_session() as s:
        return list(
            s.scalars(
                select(Run.id)
                .where(
                    or_(
                        Run.notebook.icontains(q, autoescape=True),
                        Run.output_text.icontains(q, autoescape=True),
                        Run.id == q,
                    )
                )
                .order_by(Run.created_at.desc(), Run.id.desc())
            )
        )


def test_text_search_through_the_index_finds_what_the_scan_finds(search_jobs, monkeypatch):
    """``q`` answered by the text index (trigram FTS5 on SQLite, pg_trgm on PostgreSQL) gives
    exactly the runs the scan gives: non-ASCII text, LIKE wildcards kept literal, quotes,
    short terms, run ids; and the index follows runs whose text is written when they end."""
    jobs = search_jobs
    rng = random.Random(11)
    rows = []
    for i in range(120):
        row = run_row(rng, i)
        row.update(
            output_text=rng.choice(TEXTS) + " " + rng.choice(TEXTS), notebook=rng.choice(NOTEBOOKS)
        )
        rows.append(row)
    add_runs(jobs, rows)
    # a run's text is written when it ends (an UPDATE): the index follows it
    with jobs.ws.catalog.session() as s:
        s.get(Run, rows[0]["id"]).output_text = "late words quokka"
        s.get(Run, rows[1]["id"]).output_text = ""
        s.delete(s.get(Run, rows[2]["id"]))
    for q in [*TERMS, rows[3]["id"], rows[3]["id"][:8], "quokka", "LATE WORDS"]:
        want = scan_ids(jobs, q)
        assert walk(jobs, limit=25, q=q) == want, q
        assert jobs.list_runs(q=q)["total"] == len(want), q
    assert walk(jobs, q="quokka") == [rows[0]["id"]]
    assert walk(jobs, q=rows[3]["id"]) == [rows[3]["id"]]
    assert rows[2]["id"] not in scan_ids(jobs, "") and walk(jobs, q="needle")
    # the index is there and the search uses it
    if jobs.ws.catalog.backend == "sqlite":
        sent = statements(jobs, q="needle")
        assert any("MATCH" in st for st in sent) and not any("LIKE" in st for st in sent)
        # a term in more than TEXT_INDEX_MAX runs is scanned: the same runs
        monkeypatch.setattr(runs_module, "TEXT_INDEX_MAX", 3)
        assert any("LIKE" in st for st in statements(jobs, q="needle"))
        for q in ["needle", "ärger", "100%", "quokka"]:
            assert walk(jobs, limit=25, q=q) == scan_ids(jobs, q), q
    else:
        with jobs.ws.catalog.read_session() as s:
            s.execute(text("SET LOCAL enable_seqscan = off"))
            plan = " ".join(
                r[0]
                for r in s.execute(
                    text(
                        "EXPLAIN SELECT id FROM mlinfra_runs WHERE lower(output_text) "
                        "LIKE '%' || lower('needle') || '%'"
                    )
                )
            )
        assert "ix_mlinfra_runs_output_text_trgm" in plan, plan


def statements(jobs, **filters) -> list[str]:
    """The SQL statements one search sends."""
    sent: list[str] = []

    def record(conn, cursor, statement, *args):
        sent.append(statement)

    event.listen(jobs.ws.catalog.engine, "before_cursor_execute", record)
    try:
        jobs.list_runs(**filters)
    finally:
        event.remove(jobs.ws.catalog.engine, "before_cursor_execute", record)
    return sent


def test_runs_made_before_the_text_index_are_found_by_text(tmp_path):
    """The 0013_run_text_index migration indexes the text of the runs a catalog has."""
    from alembic import command

    from jupyter_mlinfra.core.catalog import Catalog

    url = f"sqlite:///{tmp_path / 'old.db'}"
    old = Catalog(url)
    with old.engine.begin() as conn:
        command.upgrade(old._alembic_config(conn), "0011_run_search")
        rng = random.Random(3)
        rows = [run_row(rng, i) for i in range(30)]
        conn.execute(insert(Run.__table__), rows)
    old.engine.dispose()

    class _Ws:  # what the search reads of a workspace
        catalog = Catalog(url)

    _Ws.catalog.ensure_schema()
    with _Ws.catalog.read_session() as s:
        for q in ["needle", "LOAD.ipy", "accuracy 0.9"]:
            found = set(s.scalars(select(Run.id).where(text_filter(_Ws, s, q))))
            assert found == {
                r["id"]
                for r in rows
                if q.lower() in (r["notebook"] + "\n" + r["output_text"]).lower()
            }, q
            assert found


@pytest.mark.postgres
def test_postgresql_without_pg_trgm_rights_still_upgrades_and_searches(
    postgres_url, jobs_ws, monkeypatch
):
    """A catalog role that may not create the pg_trgm extension: the migration still
    succeeds (no text index) and text search scans, with the same results."""
    import sqlalchemy as sa

    from jupyter_mlinfra.core.workspace import Workspace

    name, role = f"mlinfra_{uuid.uuid4().hex[:10]}", f"plain_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(f"{postgres_url}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE ROLE {role} LOGIN NOSUPERUSER"))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))  # owned by the admin
    admin.dispose()
    db = sa.create_engine(f"{postgres_url}/{name}", isolation_level="AUTOCOMMIT")
    with db.connect() as conn:
        conn.execute(sa.text(f"GRANT ALL ON SCHEMA public TO {role}"))
    db.dispose()
    url = sa.engine.make_url(f"{postgres_url}/{name}").set(username=role, password=None)
    monkeypatch.setenv("MLINFRA_CATALOG_URL", url.render_as_string(hide_password=False))
    ws = Workspace.open()
    ws.config.settings.root_dir = jobs_ws.config.settings.root_dir
    try:
        jobs = ws.service("jobs")
        rng = random.Random(5)
        rows = [run_row(rng, i) for i in range(40)]
        add_runs(jobs, rows)
        with ws.catalog.read_session() as s:
            assert (
                s.scalar(
                    text(
                        "SELECT count(*) FROM pg_indexes WHERE indexname = "
                        "'ix_mlinfra_runs_output_text_trgm'"
                    )
                )
                == 0
            )
        for q in ["needle", "ETL/", "0.9"]:
            assert walk(jobs, q=q) == scan_ids(jobs, q) == expected(rows, q=q), q
    finally:
        ws.close()


@pytest.mark.postgres
def test_postgresql_knows_how_many_runs_a_parameter_value_has(jobs_ws, pg_catalog_url, monkeypatch):
    """PostgreSQL plans a parameter search from its real number of runs (migration
    0016_pg_param_statistics: statistics of the (name, value) pair). Taken as independent
    columns it guessed a few times too few, and a page of a two-parameter search then joined
    both parameters' whole sets instead of reading the newest runs of one and checking the
    other per run (20 ms against 4 ms at 100,000 runs)."""
    from jupyter_mlinfra.core.workspace import Workspace

    monkeypatch.setenv("MLINFRA_CATALOG_URL", pg_catalog_url)
    ws = Workspace.open()
    ws.config.settings.root_dir = jobs_ws.config.settings.root_dir
    try:
        jobs = ws.service("jobs")
        rng = random.Random(16)
        rows = []
        for i in range(6000):
            row = run_row(rng, i)
            row["environment"] = {}
            row["parameters"] = {
                "lr": rng.choice(["0.1", "0.01"]),
                "depth": rng.choice(["3", "5"]),
                "seed": str(rng.randint(0, 9)),
                "optimizer": rng.choice(["adam", "sgd"]),
            }
            rows.append(row)
        add_runs(jobs, rows)
        with ws.catalog.session() as s:
            s.execute(text("ANALYZE"))
        with ws.catalog.read_session() as s:
            actual = s.scalar(
                text(
                    "SELECT count(*) FROM mlinfra_run_params WHERE name = 'lr' AND value_text = '0.01'"
                )
            )
            plan = s.scalar(
                text(
                    "EXPLAIN (FORMAT JSON) SELECT run_id FROM mlinfra_run_params "
                    "WHERE name = 'lr' AND value_text = '0.01'"
                )
            )
        estimate = plan[0]["Plan"]["Plan Rows"]
        assert actual / 1.5 <= estimate <= actual * 1.5, (estimate, actual)
        # and the search's answers are the same as ever
        wanted = expected(rows, parameters={"lr": "0.01", "depth": "3"})
        assert walk(jobs, limit=50, parameters={"lr": "0.01", "depth": "3"}) == wanted
    finally:
        ws.close()
