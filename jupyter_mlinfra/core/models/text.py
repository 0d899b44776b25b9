"""Plain-text renderings shared by the magics and the CLI."""

from __future__ import annotations


def format_comparison(result: dict) -> str:
    lines = [f"compare {result['a']} -> {result['b']}"]
    if result["hyperparameters"]:
        lines.append("hyper-parameters:")
        lines += [f"  {k}: {v['a']!r} -> {v['b']!r}" for k, v in result["hyperparameters"].items()]
    if result["metrics"]:
        lines.append("metrics:")
        lines += [
            f"  {k}: {v['a']} -> {v['b']}"
            + (f" ({v['delta']:+.4g})" if v["delta"] is not None else "")
            for k, v in result["metrics"].items()
        ]
    if result["dependencies"]:
        lines.append("dependencies:")
        lines += [f"  {k}: {v['a']} -> {v['b']}" for k, v in result["dependencies"].items()]
    for role, d in result["data"].items():
        lines.append(
            f"data {role}: {'same' if d['same'] else 'changed: ' + ', '.join(d['differences'])}"
        )
    if result["code"]["parameters"]:
        lines.append(
            "run parameters: "
            + ", ".join(
                f"{k}: {v['a']!r} -> {v['b']!r}" for k, v in result["code"]["parameters"].items()
            )
        )
    lines.append(result["code"]["diff"] or "generating code: identical")
    return "\n".join(lines)


def format_reproduction(result: dict) -> str:
    lines = [
        f"reproduce {result['ref']}: "
        + ("REPRODUCED" if result["reproduced"] else "NOT REPRODUCED")
        + (
            f" ({result.get('executed_by')}, {result.get('duration')} s)"
            if result.get("duration") is not None
            else ""
        )
    ]
    if result.get("error"):
        lines.append(f"  {result['error']}")
    for key, m in result["metrics"].items():
        lines.append(
            f"  {key}: recorded {m['recorded']} reproduced {m['reproduced']} "
            f"{'ok' if m['within_tolerance'] else 'DIFFERS'}"
        )
    writes = result.get("captured_writes") or []
    lines.append(
        f"the re-run tried {len(writes)} write(s) to shared state, captured and not "
        "applied" + (":" if writes else "")
    )
    lines += [f"  {w['kind']}: {w['summary']}" for w in writes]
    return "\n".join(lines)
