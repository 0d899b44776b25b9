"""Plain-text renderings of feature store results, shared by the magics and the CLI."""

from __future__ import annotations

from ..text_table import render_table
from .definitions import format_ttl


def materialize_text(out: dict) -> str:
    if out.get("captured"):
        return f"captured: {out['summary']} (reproduce run: not applied)"
    if out.get("up_to_date"):
        return f"{out['view']} v{out['version']} is up to date (until {out['end']})"
    return (
        f"materialized {out['view']} v{out['version']}: {out['rows']} rows in "
        f"{out['files']} parquet partition(s), {out['online_rows']} online rows, "
        f"{out['start']} .. {out['end']} in {out['seconds']} s"
    )


def describe_text(info: dict) -> str:
    """A readable description of a view (shared by the magic and the CLI)."""
    lines = [
        f"{info['name']} v{info['version']} (latest v{info['latest_version']})  owner "
        f"{info['owner']}  visibility {info['visibility']}  ttl {format_ttl(info['ttl_seconds'])}",
        f"entities: {', '.join(info['entities'])}  join keys: {', '.join(info['join_keys'])}",
    ]
    if info["description"]:
        lines.append(f"description: {info['description']}")
    if info["tags"]:
        lines.append(f"tags: {', '.join(info['tags'])}")
    stats = (info.get("statistics") or {}).get("features", {})
    rows = []
    for f in info["features"]:
        s = stats.get(f["name"], {})
        rows.append(
            {
                "feature": f["name"],
                "type": f["dtype"],
                "nulls": s.get("nulls"),
                "min": _num(s.get("min")),
                "mean": _num(s.get("mean")),
                "max": _num(s.get("max")),
                "distinct": s.get("distinct"),
            }
        )
    lines += [
        "",
        render_table(rows, ["feature", "type", "nulls", "min", "mean", "max", "distinct"]),
    ]
    fresh = info["freshness"]
    lines += [
        "",
        f"freshness: latest event {fresh['latest_event_time'] or '-'}, last "
        f"materialized {fresh['last_materialized_at'] or '-'}, last push "
        f"{fresh['last_push_at'] or '-'}",
        f"offline: {fresh['offline_rows']} rows in {fresh['offline_files']} files; "
        f"online: {fresh['online_entities']} entities",
    ]
    lines.append(
        "versions: "
        + ", ".join(f"v{v['version']} ({v['created_at'][:19]})" for v in info["versions"])
    )
    used = ", ".join(f"{u['consumer']} (v{u['version']})" for u in info["used_by"])
    lines.append(f"used by: {used or '-'}")
    return "\n".join(lines)


def _num(value):
    return None if value is None else f"{value:.4g}"
