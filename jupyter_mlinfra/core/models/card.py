"""Rich notebook display of models: a model card and a version card (plain HTML strings)."""

from __future__ import annotations

from html import escape
from typing import Any

_STYLE = (
    "<style>.mlinfra-card{font-family:var(--jp-ui-font-family,sans-serif);"
    "font-size:13px;max-width:980px}.mlinfra-card table{border-collapse:collapse;"
    "margin:4px 0 10px}.mlinfra-card th,.mlinfra-card td{border:1px solid #ddd;"
    "padding:3px 8px;text-align:left;vertical-align:top}.mlinfra-card th{background:"
    "#f4f4f4}.mlinfra-card .tag{display:inline-block;background:#e8eefc;border-radius:3px;"
    "padding:0 5px;margin:1px}.mlinfra-card .alias{background:#e3f5e1}.mlinfra-card "
    ".dirty{color:#b00020}</style>"
)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return escape(str(value))


def _tags(tags: dict) -> str:
    return " ".join(
        f'<span class="tag">{escape(k)}={escape(str(v))}</span>' for k, v in sorted(tags.items())
    )


def _lineage(version) -> str:
    code = version.code or {}
    items = []
    if code.get("notebook_path"):
        items.append(f"notebook <code>{escape(code['notebook_path'])}</code>")
    if code.get("replay"):
        items.append(
            f"{len(code['replay'])} cell(s) in replay order "
            f"({escape(str(code.get('replay_origin')))})"
        )
    git = code.get("git")
    if git:
        items.append(f"git {escape(git['commit'][:10])}{' (dirty)' if git.get('dirty') else ''}")
    if version.run_id:
        items.append(f"job run <code>{escape(version.run_id)}</code>")
    for d in version.data:
        label = d.get("uri") or (
            f"{d.get('rows')} rows, sha256 {str(d.get('content_sha256', ''))[:12]}"
        )
        lineage = d.get("lineage")
        if lineage:
            # the feature store's training-frame lineage: {"views": [{"name", "version"}...]}
            views = lineage.get("views") if isinstance(lineage, dict) else None
            named = ", ".join(
                f"{v.get('name')}@{v.get('version')}" for v in views or [] if isinstance(v, dict)
            )
            label += f"; feature views {named or str(lineage)[:200]}"
        items.append(f"{escape(d['role'])} data: {escape(str(label))}")
    return "<ul>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>" if items else ""


def version_card_html(version) -> str:
    d = version.definition or {}
    rows = [
        ("model", f"<b>{escape(version.name)}</b> version {version.version}"),
        (
            "class",
            f"<code>{escape(str(d.get('module')))}.{escape(str(d.get('class')))}"
            f"</code> ({escape(str(d.get('distribution')))} "
            f"{escape(str(d.get('library_version')))})",
        ),
        ("owner", escape(version.owner)),
        ("created", escape(version.created_at.isoformat() if version.created_at else "")),
        ("status", escape(version.status)),
        (
            "aliases",
            " ".join(f'<span class="tag alias">@{escape(a)}</span>' for a in version.aliases)
            or "-",
        ),
        ("tags", _tags(version.tags) or "-"),
    ]
    if not version.clean:
        rows.append(
            (
                "clean",
                '<span class="dirty">no: ' + escape("; ".join(version.dirty_reasons)) + "</span>",
            )
        )
    if version.description:
        rows.append(("description", escape(version.description)))
    metrics = "".join(
        f"<tr><td>{escape(k)}</td><td>{_fmt(v)}</td></tr>"
        for k, v in sorted(version.metrics.items())
    )
    params = "".join(
        f"<tr><td>{escape(k)}</td><td>{_fmt(v)}</td></tr>"
        for k, v in sorted((d.get("hyperparameters") or {}).items())
    )
    artifacts = "".join(
        f"<tr><td>{escape(a['name'])}</td><td>{escape(a['kind'])}</td>"
        f"<td>{a['size']:,}</td><td><code>{a['sha256'][:12]}</code></td></tr>"
        for a in version.artifacts
    )
    html = [_STYLE, '<div class="mlinfra-card">', "<table>"]
    html += [f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows]
    html.append("</table>")
    if metrics:
        html.append(f"<b>Metrics</b><table><tr><th>metric</th><th>value</th></tr>{metrics}</table>")
    if params:
        html.append(
            f"<b>Hyper-parameters</b><table><tr><th>name</th><th>value</th></tr>{params}</table>"
        )
    lineage = _lineage(version)
    if lineage:
        html.append(f"<b>Lineage</b>{lineage}")
    if artifacts:
        html.append(
            "<b>Artifacts</b><table><tr><th>name</th><th>kind</th><th>bytes</th>"
            f"<th>sha256</th></tr>{artifacts}</table>"
        )
    html.append("</div>")
    return "".join(html)


class ModelCard:
    """What ``%mlinfra model show NAME`` displays: versions, aliases, metrics, lineage."""

    def __init__(self, described: dict) -> None:
        self.described = described

    def __repr__(self) -> str:
        from ..text_table import render_table

        d = self.described
        rows = [
            {
                "version": v.version,
                "status": v.status,
                "aliases": ",".join(v.aliases),
                "metrics": ", ".join(f"{k}={_fmt(val)}" for k, val in sorted(v.metrics.items())),
                "clean": v.clean,
                "created": v.created_at.isoformat()[:19],
            }
            for v in d["versions"]
        ]
        return f"model {d['name']} (owner {d['owner']}) {d['description']}\n" + render_table(
            rows, ["version", "status", "aliases", "metrics", "clean", "created"]
        )

    def _repr_html_(self) -> str:
        d = self.described
        versions = d["versions"]
        metric_names = sorted({k for v in versions for k in v.metrics})
        head = "".join(f"<th>{escape(m)}</th>" for m in metric_names)
        body = []
        for v in versions:
            cells = "".join(
                f"<td>{_fmt(v.metrics[m]) if m in v.metrics else ''}</td>" for m in metric_names
            )
            aliases = " ".join(f'<span class="tag alias">@{escape(a)}</span>' for a in v.aliases)
            clean = (
                ""
                if v.clean
                else ' <span class="dirty" title="'
                + escape("; ".join(v.dirty_reasons))
                + '">dirty</span>'
            )
            body.append(
                f"<tr><td>{v.version}</td><td>{escape(v.status)}{clean}</td>"
                f"<td>{aliases}</td>{cells}<td>{escape(v.owner)}</td>"
                f"<td>{escape(v.created_at.isoformat()[:19])}</td></tr>"
            )
        html = [
            _STYLE,
            '<div class="mlinfra-card">',
            f"<h3 style='margin:4px 0'>Model {escape(d['name'])}</h3>",
            f"<div>owner {escape(d['owner'])} · {len(versions)} version(s) · "
            f"{_tags(d['tags'])}</div>",
        ]
        if d["description"]:
            html.append(f"<p>{escape(d['description'])}</p>")
        html.append(
            "<b>Versions</b><table><tr><th>version</th><th>status</th><th>aliases</th>"
            f"{head}<th>owner</th><th>created</th></tr>{''.join(body)}</table>"
        )
        if versions:
            latest = versions[0]
            html.append(f"<b>Lineage of version {latest.version}</b>{_lineage(latest)}")
        html.append("</div>")
        return "".join(html)
