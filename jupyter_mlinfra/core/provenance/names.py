"""Static analysis of one cell: the global names it reads, binds, mutates and deletes.

Plain ``ast``, scope-aware:

- module-level statements are visited in evaluation order, so ``x = 1; print(x)`` reads no
  outside ``x`` while ``y = x; x = 2`` does;
- function parameters, comprehension variables, lambda arguments and class-body names are local
  to their scope and never count as reads of same-named globals;
- the body of a ``def`` (or lambda, or a method of a class) does not run when it is defined: the
  globals it reads, mutates or assigns (``global x``) are kept as *deferred* effects of the name
  it binds, and become effects of the cells that later use that name;
- in-place mutation is recognised from method calls known to mutate (``append``, ``update``,
  ``fit``...), calls with ``inplace=True`` or ``out=``, functions that mutate their first argument
  (``random.shuffle``, ``heapq.heappush``, ``np.fill_diagonal``, ``operator.setitem``...),
  subscript and attribute assignment or deletion, and augmented assignment (``x += ...`` mutates
  lists in place and rebinds numbers, so it counts as both);
- any other call that receives a name (as an argument, or as the object of a method call) *may*
  mutate it, unless the callee is known to be pure (``len``, ``print``, ``df.head``, ``np.mean``,
  ``.copy()``, ``.get``...): such names are in ``mutates`` and in ``assumed`` (a longer replay
  is acceptable, a wrong one is not). Calling a function of an imported module never changes the
  module itself;
- global random state is a pseudo-name per library (``<rng:random>``, ``<rng:numpy>``,
  ``<rng:torch>``, ``<rng:tensorflow>``): a seeding call binds it, a draw reads and mutates it,
  so a replay keeps the seeding cell and every earlier draw;
- files are pseudo-names too (``<file:data.csv>``): ``open(path, "w"/"r")``,
  ``Path.write_text/read_text``, pandas ``to_*/read_*``, numpy ``save/savez/load``,
  ``joblib.dump/load`` and ``torch.save/load`` with a literal path, or a name the kernel
  resolves (``<file?:name>``, see recording.py), bind (write), mutate (append) or read them;
- code whose effects cannot be followed statically (``exec``, ``eval``, ``globals()`` used other
  than with a literal key, ``%run``) is listed in ``unfollowed``.

Names of builtins are not reported as reads (unless the cell bound them itself earlier).
IPython syntax (``%magic``, ``!cmd``, ``%%cell_magic``) should be transformed to Python first
(the kernel recorder uses IPython's own transformer); :func:`python_source` is a small fallback
for sources read from a notebook.
"""

from __future__ import annotations

import ast
import builtins
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

BUILTIN_NAMES = frozenset(dir(builtins))

# Method names that change their receiver in place (lists, dicts, sets, files, pandas,
# scikit-learn estimators, torch modules...). Calls of other methods are treated as reads.
MUTATING_METHODS = frozenset("""
append extend insert remove pop clear sort reverse update setdefault popitem add discard
difference_update intersection_update symmetric_difference_update appendleft extendleft
popleft rotate fit partial_fit fit_transform set_params set_output train step zero_grad
load_state_dict register_buffer write writelines seek truncate close flush put put_nowait
send set_index_inplace fillna_ dropna_ rename_axis_ setflags resize itemset fill put_along_axis
sort_values_ __setitem__ __delitem__ __iadd__ setattr add_ sub_ mul_ div_ copy_ requires_grad_
""".split())

# Functions that mutate their first argument: ``random.shuffle(x)``, ``heapq.heappush(h, 1)``.
MUTATING_FUNCTIONS = frozenset("""
shuffle heappush heappop heapify heapreplace heappushpop insort insort_left insort_right
setattr delattr copyto place putmask put put_along_axis fill_diagonal at
setitem delitem iadd iand iconcat ifloordiv ilshift imod imul imatmul ior ipow irshift isub
itruediv ixor
""".split())

# Callees known not to change what they receive (builtins, and functions of common modules called
# as ``module.func``). A name passed to any other call may be mutated by it.
PURE_FUNCTIONS = frozenset("""
len print repr str int float bool complex bytes bytearray isinstance issubclass type id hash abs
round min max sum sorted reversed enumerate zip map filter list tuple set frozenset dict range
any all divmod pow format chr ord hex bin oct callable getattr hasattr dir iter display ascii
slice super object property staticmethod classmethod input help open
array asarray asanyarray ascontiguousarray zeros ones empty full arange linspace logspace mean
median std var nanmean nanstd nansum nanmin nanmax amin amax argmax argmin sqrt exp log log2
log10 log1p expm1 sin cos tan arcsin arccos arctan arctan2 tanh sinh cosh dot matmul vdot outer
inner cross concatenate stack vstack hstack dstack column_stack where unique sort argsort clip
floor ceil trunc rint cumsum cumprod diff gradient allclose isclose array_equal isnan isinf
isfinite percentile quantile histogram histogram2d corrcoef cov eye identity meshgrid tile
repeat reshape transpose squeeze expand_dims zeros_like ones_like full_like empty_like maximum
minimum fmax fmin add subtract multiply divide true_divide floor_divide power mod remainder
negative sign square absolute fabs einsum trace diag diagonal tril triu flip fliplr flipud roll
rot90 pad split array_split count_nonzero nonzero flatnonzero prod average polyfit polyval interp
digitize bincount searchsorted logical_and logical_or logical_not logical_xor norm inv det eig
eigh eigvals svd solve lstsq pinv matrix_rank qr cholesky ravel atleast_1d atleast_2d
atleast_3d broadcast_to shape ndim size copy deepcopy isscalar iscomplexobj result_type dtype
nan_to_num real imag angle conj round_ around fix hypot deg2rad rad2deg degrees radians
random_sample permutation choice
concat merge merge_asof to_datetime to_numeric to_timedelta get_dummies cut qcut isna isnull
notna notnull crosstab pivot_table date_range period_range timedelta_range melt wide_to_long
read_csv read_parquet read_json read_excel read_table read_pickle read_sql read_feather
read_html read_fwf json_normalize set_option get_option
figure subplots subplot plot scatter hist hist2d bar barh imshow title xlabel ylabel zlabel
legend show tight_layout savefig grid xlim ylim colorbar axhline axvline axhspan axvspan suptitle
close text annotate fill_between errorbar boxplot violinplot pie contour contourf xticks yticks
xscale yscale semilogx semilogy loglog step stem quiver streamplot pcolormesh matshow gca gcf
clf cla ion ioff pause draw subplots_adjust
histplot scatterplot lineplot barplot heatmap pairplot countplot kdeplot set_theme regplot
displot relplot catplot lmplot jointplot stripplot swarmplot pointplot ecdfplot rugplot
set_style set_context set_palette color_palette clustermap
train_test_split accuracy_score f1_score precision_score recall_score roc_auc_score
roc_curve precision_recall_curve auc confusion_matrix classification_report mean_squared_error
mean_absolute_error r2_score log_loss cross_val_score cross_validate cross_val_predict
silhouette_score adjusted_rand_score balanced_accuracy_score make_pipeline make_column_transformer
load_iris load_digits load_wine load_breast_cancer load_diabetes make_classification
make_regression make_blobs make_moons make_circles
dumps loads dump load save savez savez_compressed savetxt
sqrt ceil floor exp log log2 log10 isqrt gcd lcm factorial comb perm fsum prod sin cos tan pi
isclose isnan isinf radians degrees hypot atan2 dist trunc copysign
fmean geometric_mean harmonic_mean mode multimode stdev pstdev variance pvariance
join exists isfile isdir basename dirname splitext abspath realpath getcwd listdir getenv
walk relpath expanduser environ time perf_counter monotonic sleep now today fromtimestamp
strftime strptime compile match search fullmatch findall finditer sub subn escape
namedtuple Counter defaultdict OrderedDict deque partial reduce wraps lru_cache cache
chain product permutations combinations combinations_with_replacement islice groupby count
cycle accumulate starmap tee zip_longest itemgetter attrgetter methodcaller
dataclass field asdict astuple fields replace warn filterwarnings simplefilter
tqdm trange pformat pprint dedent indent wrap fill shorten
""".split())

PURE_METHODS = frozenset("""
copy get keys values items count index find rfind startswith endswith split rsplit splitlines
join strip lstrip rstrip lower upper title capitalize casefold replace format format_map
encode decode isdigit isalpha isalnum isspace islower isupper zfill center ljust rjust
partition rpartition
head tail describe info mean median mode std var sum min max abs round cumsum cumprod cummax
cummin prod to_numpy to_list tolist astype reshape ravel flatten transpose dot matmul any all
argmax argmin argsort unique nunique value_counts isna isnull notna notnull dropna fillna
groupby agg aggregate apply applymap map merge concat pivot pivot_table melt query filter
select_dtypes sort_values sort_index reset_index set_index rename drop drop_duplicates
duplicated corr cov quantile plot hist boxplot scatter bar barh to_csv to_dict to_json
to_string to_frame to_parquet to_pickle to_excel to_markdown to_html to_records to_series
predict predict_proba predict_log_proba decision_function transform inverse_transform
score get_params get_feature_names_out numpy item clip where mask equals isin between diff
pct_change shift rolling expanding resample ewm memory_usage nlargest nsmallest idxmax idxmin
squeeze explode stack unstack assign pipe interpolate replace combine combine_first corrwith
rank nunique first last sem skew kurt kurtosis describe dtypes isoformat strftime total_seconds
timestamp date hexdigest digest exists is_file is_dir glob rglob iterdir read_text read_bytes
with_suffix with_name with_stem joinpath resolve absolute relative_to match fullmatch search
findall finditer sub subn group groups groupdict span start end issubset issuperset isdisjoint
union intersection difference symmetric_difference conjugate real imag
all_equal nonzero searchsorted trace diagonal view swapaxes squeeze repeat take compress
get_loc get_level_values to_period to_timestamp tz_localize tz_convert
sample_weight keys_ get_figure get_xlim get_ylim get_legend savefig show
""".split())

# Without the session's imports at hand, the usual aliases are taken for the usual modules.
CONVENTIONAL_MODULES = {"np": "numpy", "pd": "pandas", "plt": "matplotlib.pyplot",
                        "sns": "seaborn", "random": "random", "math": "math", "os": "os",
                        "torch": "torch", "tf": "tensorflow", "operator": "operator",
                        "heapq": "heapq", "json": "json", "pickle": "pickle", "re": "re",
                        "joblib": "joblib"}

_UNFOLLOWED_CALLS = frozenset({"exec", "eval", "globals", "vars", "locals", "__import__"})
_UNFOLLOWED_MAGICS = frozenset({"run", "store", "autoreload", "aimport"})
# Shell escapes (``!cmd``, ``x = !cmd``, ``%%bash``): redirections name the files they read and
# write; a command that may write files it does not name in a redirection is unfollowed.
_SHELL_MAGICS = frozenset({"bash", "sh", "script", "system", "sx"})
_SHELL_WRITE = re.compile(r"(?:^|[^<>&\d])(>>?)\s*([^\s;|&<>()]+)")
_SHELL_READ = re.compile(r"(?:^|[^<])<\s*([^\s;|&<>()]+)")
_SHELL_TEE = re.compile(r"\btee\s+(-a\s+)?([^\s;|&<>()-][^\s;|&<>()]*)")
_SHELL_WRITERS = re.compile(
    r"(?:^|[;&|(]\s*|\s)(cp|mv|rm|ln|wget|curl|tar|unzip|gunzip|gzip|bunzip2|touch|sed\s+-i|"
    r"python3?|bash|sh|make|jupyter|papermill|git|kaggle|dvc|aws|gsutil|rsync|scp|dd|split)\b")
_NS_FUNCS = frozenset({"globals", "vars", "locals"})

# -- global random state ----------------------------------------------------------------------
RNG_LIBS = ("random", "numpy", "torch", "tensorflow")


def rng_name(lib: str) -> str:
    """The pseudo-name of a library's global random state (``<rng:numpy>``)."""
    return f"<rng:{lib}>"


def is_pseudo_name(name: str) -> bool:
    return name.startswith("<")


def file_path(name: str) -> str | None:
    """The path of a file pseudo-name (``<file:/abs/data.csv>``), else None."""
    return name[6:-1] if name.startswith("<file:") else None


def pseudo_label(name: str) -> str:
    """How a pseudo-name reads in a sentence."""
    path = file_path(name)
    if path is not None:
        try:
            rel = os.path.relpath(path)
            shown = rel if not rel.startswith("..") else path
        except ValueError:
            shown = path
        return f"the file `{shown}`"
    if name.startswith("<rng:"):
        lib = name[5:-1]
        return "Python's global random state" if lib == "random" else \
            f"{lib}'s global random state"
    return name


_SEEDERS = {
    "random.seed": ("random",), "random.setstate": ("random",),
    "numpy.random.seed": ("numpy",), "numpy.random.set_state": ("numpy",),
    "torch.manual_seed": ("torch",), "torch.random.manual_seed": ("torch",),
    "torch.cuda.manual_seed": ("torch",), "torch.cuda.manual_seed_all": ("torch",),
    "torch.set_rng_state": ("torch",), "tensorflow.random.set_seed": ("tensorflow",),
    "tensorflow.set_random_seed": ("tensorflow",),
}
# Helpers that seed every library at once (transformers, lightning, keras, accelerate...).
_SEED_ALL = frozenset({"set_seed", "seed_everything", "set_random_seed"})
_NUMPY_RNG_OBJECTS = frozenset({"default_rng", "Generator", "RandomState", "SeedSequence",
                                "PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64",
                                "BitGenerator", "get_state"})
_TORCH_DRAWS = frozenset({"rand", "randn", "randint", "randperm", "rand_like", "randn_like",
                          "randint_like", "normal", "bernoulli", "multinomial", "poisson",
                          "dropout", "random_split"})
_FIT_METHODS = frozenset({"fit", "fit_transform", "fit_predict", "partial_fit"})


# -- files ------------------------------------------------------------------------------------
_READ_FUNCS = frozenset({"read_csv", "read_parquet", "read_json", "read_excel", "read_pickle",
                         "read_feather", "read_table", "read_fwf", "read_hdf", "read_orc",
                         "read_stata", "read_sas", "read_spss", "read_xml"})
_WRITE_METHODS = frozenset({"to_csv", "to_parquet", "to_json", "to_excel", "to_pickle",
                            "to_feather", "to_hdf", "to_orc", "to_stata", "to_xml", "tofile"})
_NUMPY_WRITES = {"save": ".npy", "savez": ".npz", "savez_compressed": ".npz", "savetxt": ""}
_NUMPY_READS = frozenset({"load", "loadtxt", "genfromtxt", "fromfile"})
_PATH_CALLS = frozenset({"Path", "PurePath", "PosixPath", "WindowsPath"})


def _file_of(node: ast.AST | None, suffix: str = "") -> str | None:
    """The file pseudo-name of a path expression: a literal, ``Path("...")``,
    ``os.path.join("...", ...)`` of literals, or a name the kernel resolves later."""
    if node is None:
        return None
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value:
        path = node.value
        return f"<file:{path if path.endswith(suffix) else path + suffix}>"
    if isinstance(node, ast.Name):
        return f"<file?:{node.id}|{suffix}>"
    if isinstance(node, ast.Call) and len(node.args) >= 1:
        chain = _chain(node.func)
        if chain and chain[-1] in _PATH_CALLS and len(node.args) == 1:
            return _file_of(node.args[0], suffix)
        if chain and chain[-2:] == ["path", "join"] and all(
                isinstance(a, ast.Constant) and isinstance(a.value, str) for a in node.args):
            parts = [cast(str, cast(ast.Constant, a).value) for a in node.args]
            return _file_of(ast.Constant(os.path.join(*parts)), suffix)
    return None


def _arg(call: ast.Call, index: int, *names: str) -> ast.AST | None:
    if len(call.args) > index and not any(isinstance(a, ast.Starred)
                                          for a in call.args[:index + 1]):
        return call.args[index]
    for k in call.keywords:
        if k.arg in names:
            return k.value
    return None


def file_effects(call: ast.Call, modules: dict[str, str]
                 ) -> tuple[list[str], list[str], list[str]]:
    """(files read, files written, files appended to) by a call, as pseudo-names."""
    reads: list[str] = []
    writes: list[str] = []
    appends: list[str] = []
    func = call.func
    chain = _chain(func)
    last = chain[-1] if chain else (func.attr if isinstance(func, ast.Attribute) else None)
    if last is None:
        return reads, writes, appends
    root = chain[0] if chain else None
    qual = ".".join([modules[root], *chain[1:]]) if chain and root in modules else None

    def add(bucket: list[str], node: ast.AST | None, suffix: str = "") -> None:
        name = _file_of(node, suffix)
        if name:
            bucket.append(name)

    def by_mode(target: ast.AST | None, mode_node: ast.AST | None) -> None:
        mode = mode_node.value if isinstance(mode_node, ast.Constant) and \
            isinstance(mode_node.value, str) else "r"
        add(writes if ("w" in mode or "x" in mode) else
            appends if ("a" in mode or "+" in mode) else reads, target)

    if chain == ["open"] or qual in ("io.open", "builtins.open", "codecs.open"):
        by_mode(_arg(call, 0, "file", "filename"), _arg(call, 1, "mode"))
    elif last in _READ_FUNCS:
        add(reads, _arg(call, 0, "filepath_or_buffer", "path", "path_or_buf", "io"))
    elif last in _WRITE_METHODS and isinstance(func, ast.Attribute):
        add(writes, _arg(call, 0, "path_or_buf", "path", "excel_writer", "fname", "file"))
    elif last in ("read_text", "read_bytes") and isinstance(func, ast.Attribute):
        add(reads, func.value)
    elif last in ("write_text", "write_bytes") and isinstance(func, ast.Attribute):
        add(writes, func.value)
    elif last == "open" and isinstance(func, ast.Attribute) and isinstance(func.value, ast.Call):
        by_mode(func.value, _arg(call, 0, "mode"))  # Path("x").open("w")
    elif qual and qual.startswith("numpy."):
        if last in _NUMPY_WRITES:
            add(writes, _arg(call, 0, "file", "fname"), _NUMPY_WRITES[last])
        elif last in _NUMPY_READS:
            add(reads, _arg(call, 0, "file", "fname"))
    elif qual and qual.startswith(("joblib.", "torch.")):
        if last in ("dump", "save"):
            add(writes, _arg(call, 1, "filename", "f"))
        elif last == "load":
            add(reads, _arg(call, 0, "filename", "f"))
    return reads, writes, appends


def _rng_effect(qual: str | None, last: str, call: ast.Call,
                modules: dict[str, str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(libraries whose global random state the call seeds, libraries it draws from)."""
    if qual is not None:
        if qual in _SEEDERS:
            return _SEEDERS[qual], ()
        if last in _SEED_ALL:
            return RNG_LIBS, ()
        if qual.startswith("random.") and last not in ("Random", "SystemRandom"):
            return (), ("random",)
        if qual.startswith("numpy.random.") and last not in _NUMPY_RNG_OBJECTS:
            return (), ("numpy",)
        if qual.startswith("torch.") and (last in _TORCH_DRAWS or qual.startswith("torch.nn.")):
            return (), ("torch",)
        if qual.startswith(("tensorflow.random.", "tensorflow.keras.", "keras.")):
            return (), ("tensorflow",)
        if qual.startswith("sklearn.") and not last[:1].isupper() and \
                not any(k.arg == "random_state" for k in call.keywords):
            return (), ("numpy",)  # random_state=None draws from numpy's global generator
        return (), ()
    if last in _SEED_ALL:
        return RNG_LIBS, ()
    if last in _FIT_METHODS and any(q.startswith("sklearn") for q in modules.values()):
        return (), ("numpy",)
    return (), ()

_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef, ast.ListComp,
           ast.SetComp, ast.DictComp, ast.GeneratorExp)
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


@dataclass
class CellEffects:
    """What one execution of a cell does to the global namespace (statically)."""

    reads: set[str] = field(default_factory=set)
    binds: set[str] = field(default_factory=set)
    mutates: set[str] = field(default_factory=set)
    deletes: set[str] = field(default_factory=set)
    calls: set[str] = field(default_factory=set)  # global names called (f(...))
    # name bound to a function/class/lambda -> globals its body reads / mutates / assigns
    deferred_reads: dict[str, set[str]] = field(default_factory=dict)
    deferred_mutates: dict[str, set[str]] = field(default_factory=dict)
    deferred_binds: dict[str, set[str]] = field(default_factory=dict)
    deferred_unfollowed: dict[str, list[str]] = field(default_factory=dict)
    # names whose mutation is assumed (passed to a call not known to be pure); also in mutates
    assumed: set[str] = field(default_factory=set)
    # names passed to a pure call or iterated over: mutated only if they hold an iterator
    consumed: set[str] = field(default_factory=set)
    # names mutated through a path (``d["a"].append(1)``, ``obj.items[0] = 2``) or by an unknown
    # call: what their objects hold may have changed too
    deep: set[str] = field(default_factory=set)
    imports: dict[str, str] = field(default_factory=dict)  # name -> dotted module path
    star_imports: set[str] = field(default_factory=set)    # modules of ``from m import *``
    unfollowed: list[str] = field(default_factory=list)    # code whose effects are unknown
    syntax_error: bool = False


# -- IPython syntax fallback ---------------------------------------------------------------
_CELL_MAGIC_BODY_IS_PYTHON = {"time", "timeit", "capture", "prun", "debug"}
_LINE_MAGIC = re.compile(r"^(\s*)([%!].*)$")
_ASSIGN_MAGIC = re.compile(r"^(\s*)([A-Za-z_][\w, ]*)=\s*[%!].*$")


def python_source(source: str) -> str:
    """Best-effort Python from an IPython cell: line magics and shell escapes become ``pass``
    (``x = !ls`` keeps its assignment), a cell magic whose body is Python keeps the body."""
    lines = source.splitlines()
    if lines and lines[0].lstrip().startswith("%%"):
        name = lines[0].lstrip()[2:].split(None, 1)[0] if lines[0].strip() != "%%" else ""
        if name in _SHELL_MAGICS:
            return f"get_ipython().run_cell_magic({name!r}, '', {chr(10).join(lines[1:])!r})"
        if name not in _CELL_MAGIC_BODY_IS_PYTHON:
            return "pass"
        lines = lines[1:]
    out = []
    for line in lines:
        m = _ASSIGN_MAGIC.match(line)
        if m:
            command = line.split("=", 1)[1].strip()
            value = (f"get_ipython().getoutput({command[1:]!r})" if command.startswith("!")
                     else "None")
            out.append(f"{m.group(1)}{m.group(2).strip()} = {value}")
            continue
        m = _LINE_MAGIC.match(line)
        if m:
            escape = m.group(2)
            if escape.startswith("!"):
                out.append(f"{m.group(1)}get_ipython().system({escape.lstrip('!')!r})")
            else:
                out.append(f"{m.group(1)}pass")
            continue
        if line.rstrip().endswith("?") and not line.lstrip().startswith("#"):
            out.append("pass")  # help syntax: obj?
            continue
        out.append(line)
    return "\n".join(out)


def _parse(source: str) -> ast.Module:
    # top-level ``await`` is valid in a notebook cell
    return compile(source, "<cell>", "exec",
                   flags=ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, dont_inherit=True)


def analyze_source(source: str, modules: dict[str, str] | None = None) -> CellEffects:
    """Analyse a cell's Python source (IPython syntax is cleaned up first if needed).

    ``modules``: the names earlier cells bound by imports (``{"np": "numpy"}``), so that calls
    such as ``np.random.seed(0)`` or ``np.mean(a)`` are recognised."""
    try:
        tree = _parse(source)
    except (SyntaxError, ValueError):
        try:
            tree = _parse(python_source(source))
        except (SyntaxError, ValueError):
            return CellEffects(syntax_error=True)
    analyzer = _ModuleAnalyzer(CONVENTIONAL_MODULES if modules is None else modules)
    for stmt in tree.body:
        analyzer.visit(stmt)
    return analyzer.effects


def module_level_binds(source: str) -> set[str]:
    """Names a cell binds at module level (used to tell hidden state from notebook state)."""
    return analyze_source(source).binds


# -- helpers ---------------------------------------------------------------------------------
def _root_name(node: ast.AST) -> str | None:
    """``a`` for ``a``, ``a.b.c``, ``a[0].b``, ``a.b[1]``; None for anything else."""
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Starred)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _arg_names(args: ast.arguments) -> set[str]:
    names = {a.arg for a in args.posonlyargs + args.args + args.kwonlyargs}
    if args.vararg:
        names.add(args.vararg.arg)
    if args.kwarg:
        names.add(args.kwarg.arg)
    return names


def _enclosing_parts(node: ast.AST) -> Sequence[ast.AST]:
    """The parts of a scope node evaluated in the enclosing scope."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        parts = list(node.decorator_list) + list(node.args.defaults)
        parts += [d for d in node.args.kw_defaults if d is not None]
        return parts
    if isinstance(node, ast.Lambda):
        return list(node.args.defaults) + [d for d in node.args.kw_defaults if d is not None]
    if isinstance(node, ast.ClassDef):
        return list(node.decorator_list) + list(node.bases) + [k.value for k in node.keywords]
    if isinstance(node, _COMPREHENSIONS):
        return [node.generators[0].iter]
    return []


@dataclass
class CallEffects:
    """What one call may do to the names it receives and to global random state."""

    mutates: set[str] = field(default_factory=set)    # known mutations
    assumed: set[str] = field(default_factory=set)    # possible mutations (unknown callee)
    consumed: set[str] = field(default_factory=set)   # mutated only if they hold an iterator
    deep: set[str] = field(default_factory=set)       # mutated through a path (d["a"].append)
    seeds: tuple[str, ...] = ()                       # libraries whose global RNG it seeds
    draws: tuple[str, ...] = ()                       # libraries whose global RNG it draws from
    unfollowed: str | None = None


def _chain(node: ast.AST) -> list[str] | None:
    """``["np", "random", "seed"]`` for ``np.random.seed``; None unless a dotted name."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return parts[::-1]
    return None


def _passed(call: ast.Call) -> list[str]:
    """Global names whose objects a call receives (directly, or inside a literal container)."""
    out = []
    values = list(call.args) + [k.value for k in call.keywords]
    while values:
        v = values.pop()
        if isinstance(v, (ast.List, ast.Tuple, ast.Set)):
            values.extend(v.elts)
            continue
        if isinstance(v, ast.Dict):
            values.extend(v.values)
            continue
        root = _root_name(v)
        if root:
            out.append(root)
    return out


def _is_pure(name: str) -> bool:
    return name in PURE_FUNCTIONS or name[:1].isupper()  # constructors keep their arguments


def _method_effects(fx: CallEffects, root: str | None, last: str, call: ast.Call,
                    passed: list[str], inplace: bool) -> None:
    """A method called on an object (``root`` is the name it is reached from, if any)."""
    if last in MUTATING_METHODS or inplace:
        if root:
            fx.mutates.add(root)
    elif last in PURE_METHODS:
        fx.consumed.update(passed)
    elif last in MUTATING_FUNCTIONS and call.args:  # rng.shuffle(x), ufunc.at(a, ...)
        first = _root_name(call.args[0])
        if first:
            fx.mutates.add(first)
        if root:
            fx.assumed.add(root)
    else:
        if root:
            fx.assumed.add(root)
        fx.assumed.update(passed)


def call_effects(call: ast.Call, modules: dict[str, str]) -> CallEffects:
    """Classify a call: which received names it mutates (or may mutate), its effect on global
    random state, and whether it runs code the analysis cannot follow."""
    fx = CallEffects()
    func = call.func
    passed = _passed(call)
    inplace = False
    for k in call.keywords:
        if k.arg == "out":
            for v in (k.value.elts if isinstance(k.value, ast.Tuple) else [k.value]):
                root = _root_name(v)
                if root:
                    fx.mutates.add(root)
        elif k.arg == "inplace" and isinstance(k.value, ast.Constant) and k.value.value is True:
            inplace = True
    chain = _chain(func)
    if chain is None:
        if isinstance(func, ast.Attribute):  # df[cols].fillna(..., inplace=True), f().m(x)
            fx.seeds, fx.draws = _rng_effect(None, func.attr, call, modules)
            root = _root_name(func.value)
            _method_effects(fx, root, func.attr, call, passed, inplace)
            if root:
                fx.deep.add(root)
        else:  # fs[0](x), make()(x): the callee is unknown
            fx.assumed.update(passed)
        return fx
    root, last = chain[0], chain[-1]
    qual = ".".join([modules[root], *chain[1:]]) if root in modules else None
    fx.seeds, fx.draws = _rng_effect(qual, last, call, modules)
    if len(chain) == 1:  # f(x)
        if qual is None and last in _UNFOLLOWED_CALLS:
            fx.unfollowed = f"{last}()"
            fx.assumed.update(passed)
        elif last in MUTATING_FUNCTIONS and call.args:
            first = _root_name(call.args[0])
            if first:
                fx.mutates.add(first)
            fx.consumed.update(p for p in passed if p != first)
        elif _is_pure(last):
            fx.consumed.update(passed)
        else:
            fx.assumed.update(passed)
        return fx
    if root in modules:  # a function of an imported module (or a method of an imported object)
        if last in MUTATING_FUNCTIONS and call.args:
            first = _root_name(call.args[0])
            if first:
                fx.mutates.add(first)
        elif _is_pure(last) or last in PURE_METHODS:
            fx.consumed.update(passed)
        elif last in MUTATING_METHODS or inplace:
            fx.mutates.add(root)
        else:
            fx.assumed.update(passed)
        return fx
    _method_effects(fx, root, last, call, passed, inplace)
    if len(chain) > 2:  # obj.items.append(x)
        fx.deep.add(root)
    return fx


@dataclass
class _ScopeInfo:
    free: set[str]            # names read that are not local to the scope
    mutated: set[str]         # free names mutated in place inside the scope
    global_writes: set[str]   # names declared ``global`` and assigned
    unfollowed: list[str] = field(default_factory=list)


def _scope_info(node: ast.AST, modules: dict[str, str] | None = None) -> _ScopeInfo:
    """Free names of a function, lambda, class body or comprehension (nested scopes included)."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        params = _arg_names(node.args)
        body: list[ast.AST] = list(node.body)
        body += [a.annotation for a in node.args.args if a.annotation is not None]
    elif isinstance(node, ast.Lambda):
        params, body = _arg_names(node.args), [node.body]
    elif isinstance(node, ast.ClassDef):
        params, body = set(), list(node.body)
    else:  # comprehension
        comp: Any = node  # ListComp, SetComp, GeneratorExp or DictComp
        params = set()
        for gen in comp.generators:
            params |= {n.id for n in ast.walk(gen.target) if isinstance(n, ast.Name)}
        body = [comp.key, comp.value] if isinstance(comp, ast.DictComp) else [comp.elt]
        for i, gen in enumerate(comp.generators):
            if i:
                body.append(gen.iter)
            body.extend(gen.ifs)
    return _free_in(body, params, modules)


def _free_in(body: Sequence[ast.AST], params: set[str],
             modules: dict[str, str] | None = None) -> _ScopeInfo:
    modules = modules or {}
    local = set(params)
    declared_global: set[str] = set()
    loads: set[str] = set()
    mutated: set[str] = set()
    unfollowed: list[str] = []
    nested: list[ast.AST] = []
    stack = list(body)
    while stack:
        node = stack.pop()
        if isinstance(node, _SCOPES):
            nested.append(node)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                local.add(node.name)
            stack.extend(_enclosing_parts(node))
            continue
        if isinstance(node, ast.Global):
            declared_global.update(node.names)
        elif isinstance(node, ast.Nonlocal):
            local.update(node.names)  # bound in an enclosing function, not a global
        elif isinstance(node, ast.Name):
            if isinstance(node.ctx, ast.Load):
                loads.add(node.id)
            else:
                local.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if alias.name != "*":
                    local.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, ast.ExceptHandler) and node.name:
            local.add(node.name)
        elif isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
            local.add(node.name)
        elif isinstance(node, ast.Call):
            fx = call_effects(node, modules)
            mutated |= fx.mutates | fx.assumed
            for lib in fx.seeds + fx.draws:
                loads.add(rng_name(lib))
                mutated.add(rng_name(lib))
            if fx.unfollowed:
                unfollowed.append(fx.unfollowed)
            reads, writes, appends = file_effects(node, modules)
            loads.update(reads + appends)
            mutated.update(writes + appends)
        elif isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
            targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
            for t in targets:
                for sub in ast.walk(t):
                    if isinstance(sub, (ast.Subscript, ast.Attribute)):
                        root = _root_name(sub)
                        if root:
                            mutated.add(root)
                    if isinstance(node, ast.AugAssign) and isinstance(sub, ast.Name):
                        loads.add(sub.id)
        stack.extend(ast.iter_child_nodes(node))
    local -= declared_global

    def outside(name: str) -> bool:  # a global, or a file whose path is not a local name
        if name.startswith("<file?:"):
            return name[7:].split("|", 1)[0] not in local
        return name not in local

    free = {n for n in loads if outside(n)}
    mutated = {n for n in mutated if outside(n)}
    global_writes = set(declared_global)
    for inner in nested:
        info = _scope_info(inner, modules)
        free |= {n for n in info.free if n not in local}
        mutated |= {n for n in info.mutated if n not in local}
        global_writes |= info.global_writes
        unfollowed += info.unfollowed
    return _ScopeInfo(free=free - BUILTIN_NAMES | (free & declared_global),
                      mutated=mutated, global_writes=global_writes, unfollowed=unfollowed)


def _ns_call(node: ast.AST) -> bool:
    """``globals()`` / ``vars()`` / ``locals()`` (the module namespace at module level)."""
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            and node.func.id in _NS_FUNCS and not node.args and not node.keywords)


def _literal_key(node: ast.Subscript) -> str | None:
    key = node.slice
    if isinstance(key, ast.Constant) and isinstance(key.value, str) and key.value.isidentifier():
        return key.value
    return None


class _ModuleAnalyzer(ast.NodeVisitor):
    """Visits module-level statements in evaluation order."""

    def __init__(self, modules: dict[str, str] | None = None) -> None:
        self.effects = CellEffects()
        self.modules: dict[str, str] = dict(modules or {})
        self._bound_here: set[str] = set()
        self._pending: _ScopeInfo | None = None  # a lambda's deferred effects, for its target

    # -- primitive effects --------------------------------------------------------------------
    def _read(self, name: str) -> None:
        if name in self._bound_here:
            return
        if name in BUILTIN_NAMES:
            return
        self.effects.reads.add(name)

    def _bind(self, name: str, module: str | None = None) -> None:
        self.effects.binds.add(name)
        self.effects.deletes.discard(name)
        self._bound_here.add(name)
        if module is not None:
            self.modules[name] = self.effects.imports[name] = module
        else:
            self.modules.pop(name, None)
            self.effects.imports.pop(name, None)

    def _mutate(self, name: str) -> None:
        self._read(name)
        self.effects.mutates.add(name)

    def _defer(self, name: str, info: _ScopeInfo) -> None:
        self.effects.deferred_reads[name] = set(info.free)
        if info.unfollowed:
            self.effects.deferred_unfollowed[name] = list(info.unfollowed)
        if info.mutated:
            self.effects.deferred_mutates[name] = set(info.mutated)
        if info.global_writes:
            self.effects.deferred_binds[name] = set(info.global_writes)

    def _target(self, target: ast.AST) -> None:
        if isinstance(target, ast.Name):
            self._bind(target.id)
            if self._pending is not None:
                self._defer(target.id, self._pending)
        elif isinstance(target, (ast.Tuple, ast.List)):
            for elt in target.elts:
                self._target(elt)
        elif isinstance(target, ast.Starred):
            self._target(target.value)
        elif isinstance(target, ast.Subscript) and _ns_call(target.value) \
                and _literal_key(target):
            self._bind(cast(str, _literal_key(target)))  # globals()["name"] = value
        elif isinstance(target, (ast.Subscript, ast.Attribute)):
            if isinstance(target, ast.Subscript):
                self.visit(target.slice)
            inner = target.value
            while isinstance(inner, (ast.Attribute, ast.Subscript)):
                if isinstance(inner, ast.Subscript):
                    self.visit(inner.slice)
                inner = inner.value
            root = _root_name(target)
            if root:
                self._mutate(root)
                if not isinstance(target.value, ast.Name):  # d["a"][0] = 1, obj.x.y = 2
                    self.effects.deep.add(root)
            else:
                self.visit(inner)

    # -- statements ------------------------------------------------------------------------
    def visit_Assign(self, node: ast.Assign) -> None:
        self._pending = _scope_info(node.value, self.modules) \
            if isinstance(node.value, ast.Lambda) else None
        self.visit(node.value)
        for target in node.targets:
            self._target(target)
        self._pending = None

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self.visit(node.annotation)
        if node.value is not None:
            self.visit(node.value)
            self._target(node.target)
        elif not isinstance(node.target, ast.Name):
            self.visit(node.target)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self.visit(node.value)
        if isinstance(node.target, ast.Name):
            name = node.target.id
            self._read(name)
            self._bind(name)
            self.effects.mutates.add(name)
        else:
            self._target(node.target)

    def visit_Delete(self, node: ast.Delete) -> None:
        for target in node.targets:
            if isinstance(target, ast.Name):
                self.effects.deletes.add(target.id)
                self.effects.binds.discard(target.id)
                self._bound_here.discard(target.id)
            elif isinstance(target, (ast.Tuple, ast.List)):
                self.visit_Delete(ast.Delete(targets=target.elts))
            else:
                self._target(target)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.asname:
                self._bind(alias.asname, alias.name)
            else:
                top = alias.name.split(".")[0]
                self._bind(top, top)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        for alias in node.names:
            if alias.name == "*":  # the names are caught by the namespace diff
                self.effects.star_imports.add(module)
            else:
                qual = f"{module}.{alias.name}" if module and not node.level else None
                self._bind(alias.asname or alias.name, qual)

    def _visit_def(self, node) -> None:
        for part in _enclosing_parts(node):
            self.visit(part)
        if node.returns is not None:
            self.visit(node.returns)
        self._defer(node.name, _scope_info(node, self.modules))
        self._bind(node.name)

    visit_FunctionDef = _visit_def
    visit_AsyncFunctionDef = _visit_def

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for part in _enclosing_parts(node):
            self.visit(part)
        # The class body runs now; its methods' bodies run later.
        methods = [s for s in node.body if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef))]
        others = [s for s in node.body if s not in methods]
        body = _free_in(others, set(), self.modules)
        for name in body.free:
            self._read(name)
        for name in body.mutated:
            self._mutate(name)
        deferred = _ScopeInfo(free=set(), mutated=set(), global_writes=set())
        for method in methods:
            for part in _enclosing_parts(method):
                self.visit(part)
            info = _scope_info(method, self.modules)
            deferred.unfollowed += info.unfollowed
            deferred.free |= info.free
            deferred.mutated |= info.mutated
            deferred.global_writes |= info.global_writes
        self._defer(node.name, deferred)
        self._bind(node.name)

    def visit_For(self, node) -> None:
        self.visit(node.iter)
        if isinstance(node.iter, ast.Name):  # iterating consumes an iterator
            self.effects.consumed.add(node.iter.id)
        self._target(node.target)
        for stmt in node.body + node.orelse:
            self.visit(stmt)

    visit_AsyncFor = visit_For

    def visit_With(self, node) -> None:
        for item in node.items:
            self.visit(item.context_expr)
            if item.optional_vars is not None:
                self._target(item.optional_vars)
        for stmt in node.body:
            self.visit(stmt)

    visit_AsyncWith = visit_With

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.type is not None:
            self.visit(node.type)
        if node.name:
            self._bind(node.name)
        for stmt in node.body:
            self.visit(stmt)
        if node.name:  # Python deletes the name at the end of the handler
            self.effects.binds.discard(node.name)
            self._bound_here.discard(node.name)

    def visit_Global(self, node: ast.Global) -> None:
        return

    def visit_MatchAs(self, node: ast.MatchAs) -> None:
        if node.pattern is not None:
            self.visit(node.pattern)
        if node.name:
            self._bind(node.name)

    def visit_MatchStar(self, node: ast.MatchStar) -> None:
        if node.name:
            self._bind(node.name)

    # -- expressions -------------------------------------------------------------------------
    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load):
            self._read(node.id)
        elif isinstance(node.ctx, ast.Store):
            self._bind(node.id)
        else:
            self.effects.deletes.add(node.id)

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        self.visit(node.value)
        self._target(node.target)

    def _inline_magic(self, node: ast.Call) -> bool:
        """``get_ipython().run_line_magic('time', 'x = f()')`` (what IPython makes of
        ``%time x = f()``): analyse the code the magic runs."""
        func = node.func
        if (isinstance(func, ast.Attribute) and func.attr in ("system", "getoutput")
                and isinstance(func.value, ast.Call) and isinstance(func.value.func, ast.Name)
                and func.value.func.id == "get_ipython" and len(node.args) == 1
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)):
            self._shell(node.args[0].value)
            return True
        if not (isinstance(func, ast.Attribute)
                and func.attr in ("run_line_magic", "run_cell_magic")
                and isinstance(func.value, ast.Call) and isinstance(func.value.func, ast.Name)
                and func.value.func.id == "get_ipython" and node.args
                and all(isinstance(a, ast.Constant) and isinstance(a.value, str)
                        for a in node.args)):
            return False
        args = [cast(str, cast(ast.Constant, a).value) for a in node.args]  # checked above
        name = args[0]
        if name in _UNFOLLOWED_MAGICS:
            self.effects.unfollowed.append(f"%{name}")
        if name in _SHELL_MAGICS:
            self._shell(args[-1])
            return True
        if name not in _CELL_MAGIC_BODY_IS_PYTHON:
            return True
        code = args[-1]
        if name == "timeit" or (name == "time" and func.attr == "run_line_magic"):
            code = re.sub(r"^\s*(-\w+(\s+\d+)?\s+)*", "", code) if name == "timeit" else code
        try:
            inner = ast.parse(code)
        except SyntaxError:
            return True
        for stmt in inner.body:
            self.visit(stmt)
        return True

    def _shell(self, command: str) -> None:
        """A shell command's files: ``> out`` / ``>> out`` / ``tee out`` write, ``< in``
        reads; a command that may write files it does not name that way is unfollowed."""
        def literal(path: str) -> bool:
            return not any(c in path for c in "{}$`*?~")

        for op, path in _SHELL_WRITE.findall(command):
            if not literal(path):
                self.effects.unfollowed.append(f"!{command.strip()[:40]}")
            elif op == ">>":
                self._mutate(f"<file:{path}>")
            else:
                self._bind(f"<file:{path}>")
        for append, path in _SHELL_TEE.findall(command):
            if literal(path):
                (self._mutate if append else self._bind)(f"<file:{path}>")
        for path in _SHELL_READ.findall(command):
            if literal(path):
                self._read(f"<file:{path}>")
        writer = _SHELL_WRITERS.search(command)
        if writer:
            self.effects.unfollowed.append(f"!{writer.group(1)}")

    def visit_Call(self, node: ast.Call) -> None:
        if self._inline_magic(node):
            return
        self.generic_visit(node)
        if isinstance(node.func, ast.Name):
            self.effects.calls.add(node.func.id)
        fx = call_effects(node, self.modules)
        for name in fx.mutates:
            self._mutate(name)
        for name in fx.assumed - fx.mutates:
            self._mutate(name)
            self.effects.assumed.add(name)
        self.effects.deep |= (fx.deep & (fx.mutates | fx.assumed)) | fx.assumed
        self.effects.consumed |= fx.consumed
        for lib in fx.draws:
            self._mutate(rng_name(lib))
        for lib in fx.seeds:
            self._bind(rng_name(lib))
        if fx.unfollowed:
            self.effects.unfollowed.append(fx.unfollowed)
        reads, writes, appends = file_effects(node, self.modules)
        for name in reads:
            self._read(name)
        for name in appends:
            self._mutate(name)
        for name in writes:
            self._bind(name)

    def visit_Subscript(self, node: ast.Subscript) -> None:
        if isinstance(node.ctx, ast.Load) and _ns_call(node.value) and _literal_key(node):
            self._read(cast(str, _literal_key(node)))  # globals()["name"]
            return
        self.generic_visit(node)

    def visit_Compare(self, node: ast.Compare) -> None:
        # "name" in globals(): a read of the name, not code the analysis cannot follow
        if (len(node.ops) == 1 and isinstance(node.ops[0], (ast.In, ast.NotIn))
                and _ns_call(node.comparators[0]) and isinstance(node.left, ast.Constant)
                and isinstance(node.left.value, str)):
            self._read(node.left.value)
            return
        self.generic_visit(node)

    def visit_Lambda(self, node: ast.Lambda) -> None:
        for part in _enclosing_parts(node):
            self.visit(part)
        # The body runs later; when the lambda is assigned, _target defers its reads.
        if self._pending is None:
            for name in _scope_info(node, self.modules).free:
                self._read(name)

    def _visit_comprehension(self, node) -> None:
        self.visit(node.generators[0].iter)
        if isinstance(node.generators[0].iter, ast.Name):
            self.effects.consumed.add(node.generators[0].iter.id)
        info = _scope_info(node, self.modules)
        self.effects.unfollowed += info.unfollowed
        for name in info.free:
            self._read(name)
        for name in info.mutated:
            self._mutate(name)
        # Walrus targets inside a comprehension bind in the enclosing (module) scope.
        for sub in ast.walk(node):
            if isinstance(sub, ast.NamedExpr) and isinstance(sub.target, ast.Name):
                self._bind(sub.target.id)

    visit_ListComp = _visit_comprehension
    visit_SetComp = _visit_comprehension
    visit_DictComp = _visit_comprehension
    visit_GeneratorExp = _visit_comprehension
