"""The execution log saved in a notebook's metadata: bounded, current session in full."""

import json

from jupyter_mlinfra.core.provenance.model import Execution, ExecutionLog, NotebookCell
from jupyter_mlinfra.core.provenance.savedlog import compact_log


def _log(session, specs, t0):
    execs = [
        Execution(
            seq=i + 1,
            cell_id=cid,
            source=src,
            session_id=session,
            notebook_path="/nb.ipynb",
            execution_count=i + 1,
            started_at=t0 + i,
            ended_at=t0 + i + 0.5,
            reads=frozenset(reads),
            binds=frozenset(binds),
        )
        for i, (cid, src, reads, binds) in enumerate(specs)
    ]
    return ExecutionLog(execs, notebook_path="/nb.ipynb", session_id=session)


CELLS = [
    NotebookCell(id="load", source="df = load()"),
    NotebookCell(id="fit", source="m = fit(df)"),
]


def test_current_session_in_full_earlier_ones_reduced_to_the_replays_of_current_cells():
    current = _log("now", [("load", "df = load()", [], ["df"]), ("junk", "x = 1", [], ["x"])], 2000)
    earlier = _log(
        "before",
        [
            ("load", "df = load()", [], ["df"]),
            ("plot", "plot(df)", ["df"], []),  # no current cell needs it
            ("gone", "tmp = 3", [], ["tmp"]),  # a deleted cell
            ("fit", "m = fit(df)", ["df"], ["m"]),
        ],
        1000,
    )
    out = compact_log(current, [earlier], CELLS, machine="box")
    assert [e["cell_id"] for e in out["executions"]] == ["load", "junk"]  # in full
    (kept,) = out["earlier_sessions"]
    assert kept["session_id"] == "before"
    assert [e["cell_id"] for e in kept["executions"]] == ["load", "fit"]
    assert out["dropped"] == {"executions": 2, "sessions": 0}
    assert out["machine"] == "box"
    # what `jupyter mlinfra check NB.ipynb` reads is still the current session
    assert len(ExecutionLog.from_dict(out).executions) == 2


def test_the_oldest_sessions_go_first_when_over_the_size_cap():
    current = _log("now", [("load", "df = load()", [], ["df"])], 5000)
    sessions = [
        _log(f"s{i}", [("load", "df = load()  # " + "x" * 400, [], ["df"])], 1000 * i)
        for i in range(1, 5)
    ]
    whole = compact_log(current, sessions, CELLS)
    assert [s["session_id"] for s in whole["earlier_sessions"]] == ["s4", "s3", "s2", "s1"]
    cap = len(json.dumps(whole, separators=(",", ":"))) - 300
    out = compact_log(current, sessions, CELLS, max_bytes=cap)
    assert [s["session_id"] for s in out["earlier_sessions"]] == ["s4", "s3", "s2"]
    assert out["dropped"] == {"executions": 1, "sessions": 1}
    assert len(json.dumps(out, separators=(",", ":"))) <= cap
    # a cap the current session alone exceeds: it is still kept in full, nothing else
    tiny = compact_log(current, sessions, CELLS, max_bytes=10)
    assert len(tiny["executions"]) == 1 and "earlier_sessions" not in tiny
    assert tiny["dropped"] == {"executions": 4, "sessions": 4}
