"""Who is acting, and the one rule of who may change and who may read what.

An :class:`Identity` is a user name, the user's teams and roles. It comes from whoever
authenticated the caller, never from a setting the caller chooses:

- kernel, CLI, plain Python (one person, one machine): the OS user (or the ``user`` setting);
  teams and roles from the ``teams`` / ``roles`` mappings of the configuration;
- a Jupyter server whose identity provider names users (JupyterHub): the Jupyter user, whose
  groups are teams, plus the ``teams`` / ``roles`` mappings of the *server's* configuration.

The rule every capability applies (models, aliases, jobs, runs, feature views, entities):

- **change** (update, archive, delete, register a new version, move a protected alias, cancel):
  the owner, or a role that allows it (``admin``);
- **read** (runs, their outputs and logs; feature views): by the thing's visibility:
  ``private`` the owner only, ``team`` the members of the owner's team (recorded when the
  thing was created), ``public`` everyone; a role that allows reading (``admin``, ``auditor``)
  reads everything. Something a user may not read is answered as not found, so its id does not
  leak.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .errors import InvalidInput, PermissionDenied

VISIBILITIES = ("private", "team", "public")
DEFAULT_VISIBILITY = "team"

# role -> what it allows beyond one's own things
ROLES: dict[str, frozenset[str]] = {
    "admin": frozenset({"change", "read"}),
    "auditor": frozenset({"read"}),
}
GROUP_PREFIX = "group:"  # a key of the ``roles`` mapping that names a group, not a user


@dataclass(frozen=True)
class Identity:
    user: str
    teams: tuple[str, ...] = ()  # the first one is recorded on what the user creates
    roles: frozenset[str] = field(default_factory=frozenset)

    @property
    def team(self) -> str:
        return self.teams[0] if self.teams else ""

    def allows(self, permit: str) -> bool:
        return any(permit in ROLES.get(role, ()) for role in self.roles)

    @classmethod
    def resolve(cls, settings: Any, user: str, groups: Iterable[str] = ()) -> Identity:
        """``user`` with the authenticated ``groups`` (JupyterHub's), completed by the
        ``teams`` and ``roles`` mappings of ``settings`` (an :class:`MLInfra`)."""
        groups = sorted({str(g) for g in groups or () if g})
        role_map = dict(getattr(settings, "roles", None) or {})
        roles: set[str] = set(_as_list(role_map.get(user)))
        role_groups = set()
        for group in groups:
            granted = _as_list(role_map.get(GROUP_PREFIX + group))
            if granted:
                role_groups.add(group)
                roles.update(granted)
        teams = list(_as_list((getattr(settings, "teams", None) or {}).get(user)))
        # groups that only grant a role (e.g. "mlinfra-admins") are not teams
        teams += [g for g in groups if g not in role_groups]
        return cls(
            user=user,
            teams=tuple(dict.fromkeys(t for t in teams if t)),
            roles=frozenset(r for r in roles if r),
        )


def _as_list(value: Any) -> list[str]:
    if not value:
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


def check_visibility(visibility: str) -> str:
    if visibility not in VISIBILITIES:
        raise InvalidInput(
            f"visibility must be one of {', '.join(VISIBILITIES)}, got {str(visibility)[:50]!r}"
        )
    return visibility


def check_may_change(identity: Identity, owner: str, what: str, action: str = "change") -> None:
    """Raise PermissionDenied unless ``identity`` owns ``what`` or has a role that allows
    changing other users' things."""
    if owner == identity.user or identity.allows("change"):
        return
    raise PermissionDenied(
        f"{what} belongs to {owner}; only its owner (or an admin) can {action} it"
    )


def may_read(identity: Identity, owner: str, visibility: str | None, team: str | None) -> bool:
    if owner == identity.user or visibility == "public" or identity.allows("read"):
        return True
    return visibility == "team" and bool(team) and team in identity.teams


def readable_clause(identity: Identity, owner_col, visibility_col, team_col):
    """The SQL condition matching the rows :func:`may_read` lets ``identity`` read (``None``
    when it reads everything)."""
    if identity.allows("read"):
        return None
    from sqlalchemy import and_, or_

    conditions = [owner_col == identity.user, visibility_col == "public"]
    if identity.teams:
        conditions.append(and_(visibility_col == "team", team_col.in_(identity.teams)))
    return or_(*conditions)
