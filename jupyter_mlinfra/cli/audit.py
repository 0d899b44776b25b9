"""``jupyter mlinfra audit``: who did what to shared state, and which changes were refused."""

from __future__ import annotations

import json

from ..core import audit
from ..core.text_table import render_table


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "audit",
        help="the audit log: alias moves, archives, deletes, cancels, job changes "
        "and refused changes (admins and auditors: everyone's; others: their own)",
    )
    p.add_argument("--user", help="entries of this user")
    p.add_argument(
        "--action",
        help="an action (models.alias, jobs.cancel ...) or a capability (models, jobs, features)",
    )
    p.add_argument("--target", help="text in the target (model, job, run id, feature view)")
    p.add_argument("--outcome", choices=audit.OUTCOMES)
    p.add_argument("--since", help="at or after this time (ISO 8601, UTC when no offset)")
    p.add_argument("--until", help="before this time (ISO 8601)")
    p.add_argument("--limit", type=int, default=50, help="entries per page (default 50)")
    p.add_argument("--cursor", help="the next_cursor a previous --json page gave")
    p.add_argument("--json", action="store_true", help="the page as JSON (the REST envelope)")
    p.set_defaults(handler=show)


def show(workspace, args) -> int:
    page = audit.query(
        workspace,
        user=args.user,
        action=args.action,
        target=args.target,
        outcome=args.outcome,
        since=args.since,
        until=args.until,
        limit=args.limit,
        cursor=args.cursor,
    )
    if args.json:
        print(json.dumps(page, indent=2))
        return 0
    rows = [
        {
            "at": e["at"],
            "user": e["user"],
            "action": e["action"],
            "target": e["target"],
            "outcome": e["outcome"],
            "detail": e["detail"],
        }
        for e in page["items"]
    ]
    if not rows:
        print("no audit entries")
        return 0
    print(render_table(rows, ["at", "user", "action", "target", "outcome", "detail"]))
    shown = len(rows)
    if page["next_cursor"]:
        print(f"\n{shown} of {page['total']} entries; next page: --cursor {page['next_cursor']}")
    return 0
