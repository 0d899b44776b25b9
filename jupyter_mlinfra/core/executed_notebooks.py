"""Executed notebooks (the notebook hub): the output notebooks runs keep, found by notebook,
job, tag, parameter and text in their cells and outputs, read as ``.ipynb`` or HTML.

An executed notebook is a finished job run that kept an output notebook: plain runs, runs of
jobs, sweep runs and model reproduce runs (tagged ``mlinfra-reproduce``). Its id is the
run's. The search is the runs search (``jobs/runs.list_runs``): visibility as for runs, the
text of cells and outputs indexed once when the run ends (``Run.output_text``, written by
the run's attempt), never read from the notebooks on a query.
"""

from __future__ import annotations

import html
import re
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import quote as url_quote

from .errors import InvalidInput, NotFound, quote
from .jobs.states import FINAL_STATES
from .paging import page_int
from .shared_writes import REPRODUCE_TAG

FORMATS = ("ipynb", "html")
MEDIA_TYPES = {"ipynb": "application/x-ipynb+json", "html": "text/html; charset=utf-8"}
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def parse_parameters(values: str | list[str] | dict | None) -> dict[str, str] | None:
    """``["lr=0.1", "epochs=10"]`` (or one string, or a dict) -> ``{"lr": "0.1", ...}``; a
    value is compared with the run's parameter as text (``str(value)``)."""
    if not values:
        return None
    if isinstance(values, dict):
        return {str(k): str(v) for k, v in values.items()}
    out: dict[str, str] = {}
    for item in [values] if isinstance(values, str) else values:
        name, sep, value = str(item).partition("=")
        if not sep or not name.strip():
            raise InvalidInput(f"parameter filter {quote(item)} must be name=value")
        out[name.strip()] = value
    return out


def list_notebooks(
    ws,
    *,
    q: str | None = None,
    notebook: str | None = None,
    job: str | None = None,
    tag: str | list[str] | None = None,
    parameter: str | list[str] | dict | None = None,
    owner: str | None = None,
    limit: int | str | None = 50,
    offset: int | str | None = 0,
    cursor: str | None = None,
) -> dict:
    """One page of the executed notebooks this identity may read, newest first, in the list
    envelope ``{items, total, total_exact, limit, offset, next_cursor}``.

    ``q``: text in the cells and outputs (or the notebook path, or a run id); ``notebook``:
    text in the notebook path; ``job``: a job name or id; ``tag``: run tags (all held);
    ``parameter``: ``name=value`` (several: all must hold)."""
    if ws.remote is not None:  # remote mode: the service answers the same query
        wanted = parse_parameters(parameter) or {}
        return ws.remote.get(
            "notebooks",
            q=q,
            notebook=notebook,
            job=job,
            tag=tag,
            parameter=[f"{k}={v}" for k, v in wanted.items()] or None,
            owner=owner,
            limit=limit,
            offset=offset or None,
            cursor=cursor,
        )
    from .jobs.runs import list_runs

    page = list_runs(
        ws,
        job=job,
        state=sorted(FINAL_STATES),
        owner=owner,
        tag=tag,
        notebook=notebook,
        parameters=parse_parameters(parameter),
        q=q,
        limit=page_int("limit", 50 if limit in (None, "") else limit, 1, None),
        offset=page_int("offset", 0 if offset in (None, "") else offset, 0, None),
        cursor=cursor,
        has_output=True,
    )
    page["items"] = [notebook_summary(run) for run in page["items"]]
    return page


def notebook_summary(run: dict) -> dict:
    """An executed notebook as a list shows it, from its run's dict."""
    tags = list(run.get("tags") or [])
    model = None
    for t in tags:  # a reproduce run is tagged model:<name>:<version>
        if t.startswith("model:") and t.count(":") >= 2:
            name, _, version = t[len("model:") :].rpartition(":")
            model = {"name": name, "version": int(version) if version.isdigit() else version}
    run_id = run["id"]
    base = "/mlinfra/api"
    return {
        "id": run_id,
        "run_id": run_id,
        "kind": "reproduce" if REPRODUCE_TAG in tags else "job_run",
        "notebook": run["notebook"],
        "name": PurePosixPath(run["notebook"]).name,
        "job_id": run.get("job_id"),
        "job_name": run.get("job_name"),
        "owner": run.get("owner"),
        "state": run["state"],
        "trigger": run.get("trigger"),
        "parameters": run.get("parameters") or {},
        "tags": tags,
        "model": model,
        "metrics": run.get("metrics") or {},
        "created_at": run.get("created_at"),
        "started_at": run.get("started_at"),
        "finished_at": run.get("finished_at"),
        "duration_seconds": run.get("duration_seconds"),
        "error": _error_line(run.get("error")),
        "visibility": run.get("visibility"),
        "links": {
            "self": f"{base}/notebooks/{run_id}",
            "html": f"{base}/notebooks/{run_id}?format=html",
            "ipynb": f"{base}/notebooks/{run_id}?format=ipynb",
            "run": f"{base}/runs/{run_id}",
        },
    }


def _error_line(error: Any) -> str | None:
    if not error:
        return None
    if isinstance(error, dict):
        return f"{error.get('type', '')}: {error.get('message', '')}".strip(": ")[:300]
    return str(error)[:300]


def get_notebook(ws, notebook_id: str) -> dict:
    """The executed notebook's metadata: its summary, plus ``cells`` and ``code_cells``
    (counted from the output notebook) and ``size_bytes``. NotFound for a run that is not
    readable, not finished or kept no output notebook."""
    import nbformat

    if ws.remote is not None:
        return ws.remote.get(f"notebooks/{_checked_id(notebook_id)}")
    data, run = _output(ws, notebook_id)
    out = notebook_summary(run)
    try:
        nb = nbformat.reads(data.decode("utf-8"), as_version=4)
        out["cells"] = len(nb.cells)
        out["code_cells"] = sum(1 for c in nb.cells if c.get("cell_type") == "code")
        out["kernel_name"] = (nb.metadata.get("kernelspec") or {}).get("name")
    except Exception:  # a notebook nbformat cannot read is still downloadable
        out["cells"] = out["code_cells"] = None
        out["kernel_name"] = None
    out["size_bytes"] = len(data)
    return out


def _output(ws, run_id: str) -> tuple[bytes, dict]:
    jobs = ws.service("jobs")
    run = jobs.get_run(run_id)  # NotFound when this identity may not read it
    if run["state"] not in FINAL_STATES or not run.get("output_key"):
        raise NotFound(
            f"no executed notebook {run_id!r} (run state {run['state']}; "
            "a run's output notebook is listed here once it has ended)"
        )
    return jobs.run_output(run_id), run


def check_format(fmt: str | None, default: str = "ipynb") -> str:
    fmt = (fmt or default).lower()
    if fmt not in FORMATS:
        raise InvalidInput(f"format must be ipynb or html, got {quote(fmt)}")
    return fmt


def notebook_document(ws, notebook_id: str, fmt: str | None = "ipynb") -> dict:
    """``{"data": bytes, "media_type", "filename"}`` of the executed notebook as ``ipynb``
    (its bytes as kept) or ``html`` (rendered by nbconvert)."""
    fmt = check_format(fmt)
    if ws.remote is not None:  # rendered by the service, as its REST door answers it
        notebook_id = _checked_id(notebook_id)
        meta = ws.remote.get(f"notebooks/{notebook_id}")
        return {
            "data": ws.remote.content(f"notebooks/{notebook_id}", format=fmt),
            "media_type": MEDIA_TYPES[fmt],
            "filename": download_name(meta["notebook"], notebook_id, fmt),
        }
    data, run = _output(ws, notebook_id)
    return render(data, fmt, notebook=run["notebook"], run_id=run["id"])


def _checked_id(notebook_id: str) -> str:
    if not isinstance(notebook_id, str) or not re.fullmatch(r"[0-9a-f]{32}", notebook_id):
        raise NotFound(f"no executed notebook {quote(notebook_id)}")
    return notebook_id


def run_output_document(ws, run_id: str, fmt: str | None = "ipynb") -> dict:
    """The same for any run's output notebook (also while the run is going: the partial
    output), as ``GET /runs/{id}/output?format=`` answers it."""
    fmt = check_format(fmt)
    jobs = ws.service("jobs")
    data = jobs.run_output(run_id)
    notebook = jobs.get_run(run_id)["notebook"]
    return render(data, fmt, notebook=notebook, run_id=run_id)


def render(data: bytes, fmt: str, *, notebook: str, run_id: str) -> dict:
    if fmt == "html":
        body = notebook_html(data, title=f"{PurePosixPath(notebook).name} (run {run_id[:12]})")
    else:
        body = data
    return {
        "data": body,
        "media_type": MEDIA_TYPES[fmt],
        "filename": download_name(notebook, run_id, fmt),
    }


def notebook_html(data: bytes, *, title: str) -> bytes:
    """The notebook as a standalone HTML page: nbconvert's ``basic`` template (no JavaScript
    of its own) with ``sanitize_html`` (scripts and event handlers in outputs and markdown
    are escaped, not run)."""
    import nbformat
    from nbconvert import HTMLExporter

    try:
        nb = nbformat.reads(data.decode("utf-8"), as_version=4)
    except Exception as exc:
        raise InvalidInput(f"the output notebook cannot be read ({type(exc).__name__})") from None
    body, _resources = HTMLExporter(template_name="basic", sanitize_html=True).from_notebook_node(
        nb
    )
    page = (
        '<!DOCTYPE html>\n<html>\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )
    return page.encode("utf-8")


def download_name(notebook: str, run_id: str, fmt: str) -> str:
    """``train-0123456789ab.html``: the notebook's stem (letters, digits, ``._-`` only) and
    the run id's first 12 characters."""
    stem = _UNSAFE.sub("_", PurePosixPath(str(notebook)).stem).strip("._") or "notebook"
    return f"{stem[:80]}-{run_id[:12]}.{fmt}"


def content_disposition(filename: str) -> str:
    """An ``attachment`` header value that is safe whatever the name (RFC 6266: an ASCII
    ``filename`` and the UTF-8 ``filename*``)."""
    ascii_name = _UNSAFE.sub("_", filename) or "download"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{url_quote(filename)}"
