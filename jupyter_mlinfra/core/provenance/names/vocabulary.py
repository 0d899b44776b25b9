"""What the analysis knows about callees: which change what they receive, which do not.

Tables only (no code): the analysis of calls (calls.py) reads them to tell a known mutation from a
possible one. Extend them here when a common library's call is misclassified.
"""

from __future__ import annotations

import builtins

BUILTIN_NAMES = frozenset(dir(builtins))

# Method names that change their receiver in place (lists, dicts, sets, files, pandas,
# scikit-learn estimators, torch modules...). Calls of other methods are treated as reads.
MUTATING_METHODS = frozenset(
    """
append extend insert remove pop clear sort reverse update setdefault popitem add discard
difference_update intersection_update symmetric_difference_update appendleft extendleft
popleft rotate fit partial_fit fit_transform set_params set_output train step zero_grad
load_state_dict register_buffer write writelines seek truncate close flush put put_nowait
send set_index_inplace fillna_ dropna_ rename_axis_ setflags resize itemset fill put_along_axis
sort_values_ __setitem__ __delitem__ __iadd__ setattr add_ sub_ mul_ div_ copy_ requires_grad_
""".split()
)

# Functions that mutate their first argument: ``random.shuffle(x)``, ``heapq.heappush(h, 1)``.
MUTATING_FUNCTIONS = frozenset(
    """
shuffle heappush heappop heapify heapreplace heappushpop insort insort_left insort_right
setattr delattr copyto place putmask put put_along_axis fill_diagonal at
setitem delitem iadd iand iconcat ifloordiv ilshift imod imul imatmul ior ipow irshift isub
itruediv ixor
""".split()
)

# Callees known not to change what they receive (builtins, and functions of common modules called
# as ``module.func``). A name passed to any other call may be mutated by it.
PURE_FUNCTIONS = frozenset(
    """
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
""".split()
)

PURE_METHODS = frozenset(
    """
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
""".split()
)

# Without the session's imports at hand, the usual aliases are taken for the usual modules.
CONVENTIONAL_MODULES = {
    "np": "numpy",
    "pd": "pandas",
    "plt": "matplotlib.pyplot",
    "sns": "seaborn",
    "random": "random",
    "math": "math",
    "os": "os",
    "torch": "torch",
    "tf": "tensorflow",
    "operator": "operator",
    "heapq": "heapq",
    "json": "json",
    "pickle": "pickle",
    "re": "re",
    "joblib": "joblib",
}


# Calls whose effects cannot be followed statically: the cell runs code the analysis never sees.
UNFOLLOWED_CALLS = frozenset({"exec", "eval", "globals", "vars", "locals", "__import__"})
