"""One grammar for the two text doors: ``jupyter mlinfra ...`` and ``%mlinfra ...``.

Each operation's words (subcommand, positional arguments, options, their help) are defined
once here; the CLI (``jupyter_mlinfra.cli``) and the magics (``jupyter_mlinfra.kernel``)
build their argument parsers from these definitions, so the same operation is spelled the
same way in a terminal and in a notebook cell. An option marked ``doors={"cli"}`` exists in
one door only (``--json`` prints for a terminal; a magic returns the value instead).
Old spellings stay as aliases where users may have them in notebooks (``%mlinfra schedule``
is ``%mlinfra job create``, ``--cron`` is ``--schedule``, ``%mlinfra jobs`` is ``%mlinfra job
list``). Plain argparse: no Jupyter import.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

CLI, MAGIC = "cli", "magic"
BOTH = frozenset({CLI, MAGIC})
VISIBILITIES = ("private", "team", "public")


@dataclass(frozen=True)
class Arg:
    """One positional argument or option: ``parser.add_argument(*flags, **kwargs)``."""

    flags: tuple[str, ...]
    kwargs: dict[str, Any] = field(default_factory=dict)
    doors: frozenset[str] = BOTH
    exclusive: str | None = None  # arguments with the same name exclude each other


def arg(
    *flags: str, doors: Iterable[str] = BOTH, exclusive: str | None = None, **kwargs: Any
) -> Arg:
    return Arg(tuple(flags), kwargs, frozenset(doors), exclusive)


@dataclass(frozen=True)
class Operation:
    """An operation's words: ``words`` as typed after ``jupyter mlinfra`` / ``%mlinfra``."""

    words: tuple[str, ...]
    help: str
    args: tuple[Arg, ...]

    @property
    def name(self) -> str:
        return " ".join(self.words)

    def add_arguments(self, parser: argparse.ArgumentParser, door: str) -> None:
        groups: dict[str, Any] = {}
        for a in self.args:
            if door not in a.doors:
                continue
            target: Any = parser
            if a.exclusive:
                if a.exclusive not in groups:
                    groups[a.exclusive] = parser.add_mutually_exclusive_group()
                target = groups[a.exclusive]
            target.add_argument(*a.flags, **a.kwargs)


def op(*words: str, help: str, args: Iterable[Arg | Iterable[Arg]] = ()) -> Operation:
    flat: list[Arg] = []
    for a in args:
        flat.extend([a] if isinstance(a, Arg) else a)
    return Operation(tuple(words), help, tuple(flat))


# -- shared pieces --------------------------------------------------------------------------
PARAMETERS = (
    arg(
        "-p",
        "--parameter",
        nargs=2,
        action="append",
        metavar=("NAME", "VALUE"),
        help="parameter (typed like papermill: int, float, bool, None or string)",
    ),
    arg(
        "-r",
        "--raw-parameter",
        nargs=2,
        action="append",
        metavar=("NAME", "VALUE"),
        help="parameter kept as a string",
    ),
)
RUN_OPTIONS = (
    arg("--priority", type=int, help="higher runs first (default 0)"),
    arg("--cpus", type=float, help="CPUs the run needs (default 1)"),
    arg("--memory", help="memory the run needs, e.g. 2G"),
    arg("--retries", type=int, help="retries after a failure or time-out"),
    arg(
        "--retry-backoff",
        type=float,
        help="seconds before the first retry (doubling each time; default 30)",
    ),
    arg("--timeout", type=float, help="seconds before the run is killed"),
    arg("--tag", action="append", dest="tags", help="tag (repeatable)"),
    arg("--kernel", dest="kernel_name", help="kernel name (default: the notebook's)"),
)
RUN_VISIBILITY = arg(
    "--visibility",
    choices=VISIBILITIES,
    help="who may read the runs, their output and log (default team; a job's runs have the job's)",
)
JSON = arg("--json", action="store_true", help="print as JSON", doors={CLI})
RUN_ID = arg("run_id", help="run id (or a unique prefix)")

# -- jobs -----------------------------------------------------------------------------------
RUN = op(
    "run",
    help="run a notebook (or a job) as a job run",
    args=[
        arg("notebook", nargs="?", help="notebook path (relative to the current folder)"),
        arg("--job", help="run this job (and its downstream jobs) instead"),
        PARAMETERS,
        RUN_OPTIONS,
        RUN_VISIBILITY,
        arg(
            "--wait",
            action="store_true",
            help="wait for the end (CLI: exit code 0 only when the run succeeded)",
        ),
        JSON,
    ],
)

JOB_CREATE = op(
    "job",
    "create",
    help="define a job from a notebook (on a schedule, after other jobs)",
    args=[
        arg("name"),
        arg("notebook"),
        PARAMETERS,
        RUN_OPTIONS,
        arg(
            "--schedule",
            "--cron",
            dest="schedule",
            metavar="CRON",
            help="cron expression, e.g. '0 6 * * 1-5'",
        ),
        arg("--timezone", help="IANA time zone of the schedule (default UTC)"),
        arg(
            "--catchup",
            choices=["none", "latest", "all"],
            help="runs after downtime (default latest)",
        ),
        arg("--depends-on", action="append", help="upstream job (repeatable)"),
        arg("--paused", action="store_true", help="create it paused"),
        arg(
            "--visibility",
            choices=VISIBILITIES,
            help="who may make their jobs depend on it (default team: your team)",
        ),
        arg("--description", default=""),
        JSON,
    ],
)
JOB_LIST = op("job", "list", help="list jobs", args=[arg("--tag"), JSON])
JOB_ACTIONS = {
    action: op("job", action, help=text, args=[arg("name"), JSON])
    for action, text in (
        ("show", "show a job with its next fire times"),
        ("pause", "pause a job's schedule"),
        ("resume", "resume a paused job"),
        ("delete", "delete a job (its runs stay)"),
    )
}

RUNS = op(
    "runs",
    help="list and search runs (or show one)",
    args=[
        arg("run_id", nargs="?", help="show this run"),
        arg("--job"),
        arg("--state"),
        arg("--trigger"),
        arg("--tag"),
        arg("--sweep"),
        arg("-q", "--search", dest="q", help="text in notebook path, cells and outputs"),
        PARAMETERS,
        arg("--limit", type=int, default=50),
        arg("--offset", type=int, default=0),
        arg("--cursor", help="the next page (the cursor the previous page printed)"),
        arg("--since", help="runs created at or after this time (ISO 8601)"),
        arg("--until", help="runs created before this time (ISO 8601)"),
        JSON,
    ],
)

SWEEP = op(
    "sweep",
    help="run a notebook over a parameter grid",
    args=[
        arg("notebook", nargs="?"),
        arg("--job"),
        arg(
            "-g",
            "--grid",
            nargs=2,
            action="append",
            metavar=("NAME", "V1,V2,..."),
            required=True,
            help="parameter values to sweep (product of all grids)",
        ),
        PARAMETERS,
        RUN_OPTIONS,
        RUN_VISIBILITY,
        arg("--wait", action="store_true", help="wait and show the results table"),
        JSON,
    ],
)

CANCEL = op("cancel", help="cancel a run (kills its kernel)", args=[RUN_ID, JSON])
RETRY = op("retry", help="run a finished run again", args=[RUN_ID, JSON])
LOG = op(
    "log",
    help="print a run's log",
    args=[RUN_ID, arg("-f", "--follow", action="store_true", help="follow until the run ends")],
)

JOBS_OPERATIONS = (
    RUN,
    JOB_CREATE,
    JOB_LIST,
    *JOB_ACTIONS.values(),
    RUNS,
    SWEEP,
    CANCEL,
    RETRY,
    LOG,
)

# Old magic spellings: the operation they are another name of.
MAGIC_ALIASES = {"schedule": JOB_CREATE, "jobs": JOB_LIST}


# -- provenance -----------------------------------------------------------------------------
# A magic's notebook is the one it runs in: PATH is optional there, required in a terminal.
NOTEBOOK = (
    arg("path", help="the notebook (.ipynb)", doors={CLI}),
    arg(
        "path", nargs="?", default=None, help="the notebook (default: this notebook)", doors={MAGIC}
    ),
)
SESSION = arg("--session", default=None, help="a kernel session id (default: the latest)")

HISTORY = op(
    "history",
    help="the executions recorded for a notebook",
    args=[NOTEBOOK, SESSION, arg("--json", action="store_true", help="print JSON")],
)
CHECK = op(
    "check",
    help="stale, out-of-order, hidden-state, changed and unexecuted cells",
    args=[
        NOTEBOOK,
        SESSION,
        arg("--json", action="store_true", help="print the report as JSON"),
        arg("--strict", action="store_true", help="exit 1 when any hazard is found", doors={CLI}),
    ],
)
REPLAY = op(
    "replay",
    help="write the replay notebook of a cell or a name",
    args=[
        NOTEBOOK,
        arg("out", help="the replay notebook to write (.ipynb)"),
        arg("--cell", default=None, help="target cell id (default: the last execution)"),
        arg("--name", default=None, help="target global name instead of a cell"),
        SESSION,
        # the magic's old spelling: %mlinfra replay OUT --path NB
        arg("--path", dest="path_option", default=None, help=argparse.SUPPRESS, doors={MAGIC}),
    ],
)
VERIFY = op(
    "verify",
    help="re-run a notebook in a fresh kernel and compare outputs (CI)",
    args=[
        NOTEBOOK,
        arg("--replay", action="store_true", help="verify the replay of the history"),
        arg(
            "--cell",
            default=None,
            help="with --replay: the cell whose replay to verify (default: the last one)",
        ),
        arg("--json", action="store_true", help="print JSON"),
        arg("--rtol", type=float, default=1e-6, help="relative tolerance for numbers"),
        arg("--atol", type=float, default=1e-9, help="absolute tolerance for numbers"),
        arg("--ignore-stderr", action="store_true", help="do not compare stderr"),
        arg(
            "--sanitize",
            action="append",
            default=[],
            metavar="REGEX=REPLACEMENT",
            help="an extra sanitizer applied to both sides (repeatable)",
        ),
        arg(
            "--lax",
            action="store_true",
            help="compare only cells marked NBVAL_CHECK_OUTPUT (nbval's --nbval-lax); the others "
            "must still run without error",
        ),
        arg(
            "--timeout",
            type=float,
            default=None,
            help="seconds a cell may run before the run stops as 'timed out' (default: the "
            "verify_timeout_seconds setting, 600; 0: no limit)",
        ),
        arg(
            "--kernel",
            default=None,
            help="kernel name (default: the notebook's kernelspec, else python3)",
        ),
    ],
)

PROVENANCE_OPERATIONS = (HISTORY, CHECK, REPLAY, VERIFY)

# -- models ---------------------------------------------------------------------------------
# (``model register`` and ``model load`` take notebook variables: magics only; ``batch-predict``,
# ``dockerfile`` and ``serve`` work on files and ports: CLI only.)
TAGS = arg("--tag", action="append", default=[], metavar="K=V", help="tag (repeatable)")
MODEL_LIST = op(
    "model",
    "list",
    help="list models (search by name, tag, owner, metric)",
    args=[
        arg("query", nargs="?"),
        TAGS,
        arg("--owner"),
        arg(
            "--metric",
            action="append",
            default=[],
            metavar="EXPR",
            help="threshold such as 'auc>=0.9' (repeatable)",
        ),
        arg("--archived", action="store_true", help="include archived versions"),
        JSON,
    ],
)
MODEL_SHOW = op(
    "model",
    "show",
    help="a model with its versions, or one version (NAME:3, NAME@ALIAS)",
    args=[arg("ref"), JSON],
)
MODEL_ALIAS = op(
    "model",
    "alias",
    help="point NAME@ALIAS at a version",
    args=[
        arg("name"),
        arg("alias"),
        arg("version"),
        arg(
            "--protect",
            action="store_true",
            default=None,
            exclusive="protection",
            help="only the model's owner (or an admin) may move it",
        ),
        arg("--unprotect", action="store_true", exclusive="protection"),
    ],
)
MODEL_UNALIAS = op("model", "unalias", help="remove an alias", args=[arg("name"), arg("alias")])
MODEL_ARCHIVE = op(
    "model",
    "archive",
    help="archive a version (or --restore it)",
    args=[arg("ref"), arg("--restore", action="store_true")],
)
MODEL_UPDATE = op(
    "model",
    "update",
    help="set the description or tags of a model or version",
    args=[arg("name"), arg("--version", type=int), arg("--description"), TAGS],
)
MODEL_COMPARE = op(
    "model",
    "compare",
    help="hyper-parameters, metrics, dependencies, data and code diff of two versions",
    args=[arg("a"), arg("b"), JSON],
)
MODEL_REPRODUCE = op(
    "model",
    "reproduce",
    help="re-run a version's notebook in a fresh kernel and compare its metrics",
    args=[
        arg("ref"),
        arg("--tolerance", type=float, help="relative tolerance (default: setting)"),
        JSON,
    ],
)

MODEL_OPERATIONS = (
    MODEL_LIST,
    MODEL_SHOW,
    MODEL_ALIAS,
    MODEL_UNALIAS,
    MODEL_ARCHIVE,
    MODEL_UPDATE,
    MODEL_COMPARE,
    MODEL_REPRODUCE,
)


# -- features -------------------------------------------------------------------------------
# (``frame`` and ``push`` read files in a terminal and variables in a notebook, ``apply`` runs
# a file: each door has its own words for those.)
VIEW = arg("name", help="the feature view")
FEATURE_LIST = op(
    "feature",
    "list",
    help="search the feature views you may see",
    args=[arg("text", nargs="*"), arg("--owner"), arg("--tag"), arg("--entity"), JSON],
)
FEATURE_DESCRIBE = op(
    "feature",
    "describe",
    help="schema, statistics, freshness, versions, used by",
    args=[VIEW, arg("--version", type=int), JSON],
)
FEATURE_ENTITIES = op("feature", "entities", help="list entities", args=[JSON])
FEATURE_ENTITY = op(
    "feature",
    "entity",
    help="register an entity",
    args=[
        arg("name"),
        arg("--join-key", action="append", dest="join_keys"),
        arg("--description", default=""),
    ],
)
FEATURE_MATERIALIZE = op(
    "feature",
    "materialize",
    help="compute a view into the offline and online stores",
    args=[VIEW, arg("--start"), arg("--end")],
)
FEATURE_ONLINE = op(
    "feature",
    "online",
    help="look up the latest feature values",
    args=[
        arg("features", nargs="+"),
        arg(
            "--key",
            action="append",
            required=True,
            metavar="COLUMN=VALUE",
            help="one entity row; repeat for several, comma-separate composite keys",
        ),
        JSON,
    ],
)
FEATURE_COMPACT = op(
    "feature", "compact", help="merge the small files pushes leave per partition", args=[VIEW]
)
FEATURE_SAMPLE = op(
    "feature",
    "sample",
    help="the most recent rows of the offline store",
    args=[VIEW, arg("-n", type=int, default=10)],
)
FEATURE_UPDATE = op(
    "feature",
    "update",
    help="change description, tags, visibility or TTL",
    args=[
        VIEW,
        arg("--description"),
        arg("--tag", action="append"),
        arg("--visibility", choices=VISIBILITIES),
        arg("--ttl"),
    ],
)
FEATURE_DELETE = op(
    "feature", "delete", help="delete a view and its data (owner only)", args=[VIEW]
)

FEATURE_OPERATIONS = (
    FEATURE_LIST,
    FEATURE_DESCRIBE,
    FEATURE_ENTITIES,
    FEATURE_ENTITY,
    FEATURE_MATERIALIZE,
    FEATURE_ONLINE,
    FEATURE_COMPACT,
    FEATURE_SAMPLE,
    FEATURE_UPDATE,
    FEATURE_DELETE,
)


def sanitizers(args: argparse.Namespace) -> list[tuple[str, str]]:
    """``--sanitize REGEX=REPLACEMENT`` pairs."""
    from .core.errors import InvalidInput

    out = []
    for item in getattr(args, "sanitize", None) or []:
        pattern, sep, replacement = item.partition("=")
        if not sep or not pattern:
            raise InvalidInput(f"--sanitize needs REGEX=REPLACEMENT, got {item!r}")
        out.append((pattern, replacement))
    return out


def run_options(args: argparse.Namespace) -> dict:
    """The run options given (``submit``/``sweep``/``create_job`` keywords)."""
    keys = (
        "priority",
        "cpus",
        "memory",
        "retries",
        "retry_backoff",
        "timeout",
        "tags",
        "kernel_name",
        "visibility",
    )
    return {k: getattr(args, k) for k in keys if getattr(args, k, None) is not None}


def parameters(args: argparse.Namespace) -> dict:
    """``-p NAME VALUE`` typed like papermill, ``-r NAME VALUE`` kept as strings."""
    from .core.jobs.validation import parse_cli_value

    out = {name: parse_cli_value(value) for name, value in getattr(args, "parameter", None) or []}
    out.update({name: value for name, value in getattr(args, "raw_parameter", None) or []})
    return out


def job_spec(args: argparse.Namespace) -> dict:
    """``create_job`` keywords from ``job create`` (``%mlinfra schedule``) arguments."""
    spec = run_options(args)
    spec["parameters"] = parameters(args)
    for key in ("schedule", "timezone", "catchup", "depends_on", "description", "visibility"):
        if getattr(args, key, None):
            spec[key] = getattr(args, key)
    if getattr(args, "paused", False):
        spec["active"] = False
    return spec


__all__ = [
    "Arg",
    "Operation",
    "arg",
    "op",
    "CLI",
    "MAGIC",
    "JOBS_OPERATIONS",
    "PROVENANCE_OPERATIONS",
    "MODEL_OPERATIONS",
    "FEATURE_OPERATIONS",
    "HISTORY",
    "CHECK",
    "REPLAY",
    "VERIFY",
    "sanitizers",
    "MAGIC_ALIASES",
    "RUN",
    "JOB_CREATE",
    "JOB_LIST",
    "JOB_ACTIONS",
    "RUNS",
    "SWEEP",
    "CANCEL",
    "RETRY",
    "LOG",
    "run_options",
    "parameters",
    "job_spec",
]
