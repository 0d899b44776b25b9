"""Sanitizers for verify: what changes from run to run in a notebook that did not change.

Each function takes the comparable text of a cell's outputs and returns it with one kind of
run-to-run noise replaced by a stable placeholder, leaving real content (values, counts,
messages, categories) as it was, so a real difference still shows. They are pure functions
and run on both sides of a comparison (the stored outputs and the re-run's).

- ``collapse_carriage_returns``: a terminal's view of ``\\r`` redraws (tqdm on stderr, pip):
  only the final state of each line is kept, however many intermediate frames were written;
- ``progress_timings``: tqdm's ``[elapsed<remaining, rate]`` block;
- ``timeit_runs``: ``%timeit``'s run and loop counts (they follow the measured speed);
- ``step_timings``: Keras' ``1s 12ms/step`` and ``ETA: 3s``;
- ``elapsed_durations``: a duration with a fraction (``took 2.31 s``, ``0.53 seconds``), as
  training loops print them (whole numbers of seconds are still compared);
- ``warning_locations``: the ``file.py:LINE:`` prefix of a printed warning and the library
  source line Python shows under it (both follow the install, not the notebook);
- ``widget_model_ids``: the random model ids of ipywidgets;
- ``logging_milliseconds``: ``logging``'s ``asctime`` writes ``12:04:05,123``; the comma
  becomes a dot, so the timestamp sanitizer takes the milliseconds with the rest;
- ``set_orders``: the order of the elements of a printed set (string hashing is randomized per
  process, so ``print({'a', 'b'})`` differs from run to run).

Image bytes never reach these functions: verify compares rich outputs by MIME type.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable

__all__ = [
    "collapse_carriage_returns",
    "progress_timings",
    "timeit_runs",
    "step_timings",
    "elapsed_durations",
    "warning_locations",
    "widget_model_ids",
    "logging_milliseconds",
    "set_orders",
    "OUTPUT_SANITIZERS",
    "sanitize_outputs",
]


def collapse_carriage_returns(text: str) -> str:
    """Keep what a terminal shows: on each line, the text after the last ``\\r``."""
    if "\r" not in text:
        return text
    text = text.replace("\r\n", "\n")
    lines = []
    for line in text.split("\n"):
        frames = [f for f in line.split("\r")]
        # a trailing "\r" (the bar about to be redrawn) leaves the last drawn frame visible
        while len(frames) > 1 and frames[-1] == "":
            frames.pop()
        lines.append(frames[-1])
    return "\n".join(lines)


# tqdm: "[00:01<00:02,  3.45it/s]", "[00:00<?, ?it/s]", "[01:02:03<00:00, 1.2s/it, loss=0.3]"
_PROGRESS_TIMING = re.compile(
    r"\[(?:\d+:)?\d{1,2}:\d{2}<(?:(?:\d+:)?\d{1,2}:\d{2}|\?),\s*"
    r"(?:\?|[\d.]+)\s*(?:[kMG]?(?:it|B|s)/s|s/(?:it|B)|[a-zA-Z]+/s)(?P<postfix>,[^\]\n]*)?\]"
)


def progress_timings(text: str) -> str:
    """tqdm's elapsed / remaining / rate become ``<progress>``; the postfix (metrics a training
    loop sets with ``set_postfix``) stays."""
    return _PROGRESS_TIMING.sub(lambda m: "[<progress>" + (m.group("postfix") or "") + "]", text)


# "1.23 µs ± 45.6 ns per loop (mean ± std. dev. of 7 runs, 1,000,000 loops each)"
_UNIT = r"\s?(?:ns|µs|μs|us|ms|s|min|h)"
_TIMEIT = re.compile(
    rf"(?:[\d.]+{_UNIT}\s±\s[\d.]+{_UNIT}|[\d.]+{_UNIT})\s+per loop "
    r"\(mean ± std\. dev\. of [\d,]+ runs?, [\d,]+ loops? each\)"
)
_TIMEIT_BEST = re.compile(rf"[\d,]+ loops?, best of \d+: [\d.]+{_UNIT} per loop")


def timeit_runs(text: str) -> str:
    """A ``%timeit`` line becomes ``<timeit>`` (mean, deviation, runs and loops all follow the
    machine's speed; ``-o`` results and ``-q`` keep theirs out of the output anyway)."""
    text = _TIMEIT.sub("<timeit>", text)
    return _TIMEIT_BEST.sub("<timeit>", text)


_STEP_TIMING = re.compile(r"\b\d+(?:m\s?\d+)?m?s \d+(?:\.\d+)?(?:ms|us|µs|μs|s)/(?:step|sample)\b")
_ETA = re.compile(r"\bETA: (?:\d+:)*\d+s?\b")


def step_timings(text: str) -> str:
    """Keras progress lines: ``32/32 ━━━━ 1s 12ms/step - loss: 0.41`` keeps the step count,
    the bar and the metrics; the time per epoch and per step become ``<step timing>``."""
    return _ETA.sub("ETA: <eta>", _STEP_TIMING.sub("<step timing>", text))


_ELAPSED = re.compile(
    r"(?<![\w.])\d+\.\d+\s?(?:s|sec|secs|seconds|ms|milliseconds|min|mins|"
    r"minutes)\b"
)


def elapsed_durations(text: str) -> str:
    """``took 2.31 s`` / ``in 0.53 seconds`` / ``12.5 ms``: a measured duration becomes
    ``<duration>``. Whole numbers (``5 seconds``, a setting more often than a measure) stay."""
    return _ELAPSED.sub("<duration>", text)


# "/path/to/site-packages/sklearn/linear_model/_logistic.py:469: ConvergenceWarning: lbfgs ..."
# "<ipython-input-3-abc>:2: UserWarning: ..." , "/tmp/ipykernel_41/2351.py:3: FutureWarning: ..."
_WARNING_HEADER = re.compile(
    r"^(?P<file>(?:[A-Za-z]:)?[^\s:][^:\n]*?|<[^>\n]+>):(?P<line>\d+): "
    r"(?P<category>\w*(?:Warning|Error)\w*): ",
    re.MULTILINE,
)


def warning_locations(text: str) -> str:
    """``<file>:<line>: Category: message``: the file and line number of a printed warning say
    where the library that warned is installed and which version it is; the category and the
    message are what the notebook shows. The source line Python prints under the header (an
    indented line such as ``  warnings.warn(``) goes too, for the same reason."""
    lines = text.split("\n")
    out: list[str] = []
    drop_source = False
    for line in lines:
        if drop_source:
            drop_source = False
            if line.startswith("  ") and line.strip():
                continue
        match = _WARNING_HEADER.match(line)
        if match:
            line = f"<file>:<line>: {match.group('category')}: " + line[match.end() :]
            drop_source = True
        out.append(line)
    return "\n".join(out)


_MODEL_ID = re.compile(r"(?<![0-9a-fA-F])[0-9a-f]{32}(?![0-9a-fA-F])")


def widget_model_ids(text: str) -> str:
    """ipywidgets' model ids (32 hex digits, new in every kernel) become ``<model id>``."""
    return _MODEL_ID.sub("<model id>", text)


_COMMA_MILLIS = re.compile(r"\b(\d{2}:\d{2}:\d{2}),(\d{3})\b")


def logging_milliseconds(text: str) -> str:
    """``2024-05-01 12:04:05,123`` (logging's default ``asctime``) becomes
    ``2024-05-01 12:04:05.123``, a timestamp like the others."""
    return _COMMA_MILLIS.sub(r"\1.\2", text)


_BRACED = re.compile(r"\{[^{}\n]*\}")


def _sorted_set(match: re.Match) -> str:
    literal = match.group(0)
    try:
        node = ast.parse(literal, mode="eval").body
    except SyntaxError:
        return literal
    if not isinstance(node, ast.Set):
        return literal  # a dict (its order is insertion order: a real difference) or code
    segments = [ast.get_source_segment(literal, elt) for elt in node.elts]
    items = [item for item in segments if item is not None]
    if len(items) < len(segments):
        return literal
    return "{" + ", ".join(sorted(item.strip() for item in items)) + "}"


def set_orders(text: str) -> str:
    """The elements of every printed set literal (one line, no nested braces) in sorted order.
    Dicts keep their order: theirs is insertion order, the same on every run."""
    if "{" not in text:
        return text
    return _BRACED.sub(_sorted_set, text)


OUTPUT_SANITIZERS: list[Callable[[str], str]] = [
    collapse_carriage_returns,  # first: the frames a terminal overwrote are gone
    progress_timings,
    timeit_runs,
    step_timings,
    elapsed_durations,
    warning_locations,
    widget_model_ids,
    logging_milliseconds,
    set_orders,
]


def sanitize_outputs(text: str) -> str:
    """All of the above, in order."""
    for sanitizer in OUTPUT_SANITIZERS:
        text = sanitizer(text)
    return text
