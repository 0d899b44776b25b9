"""Build the verify corpus: small notebooks in the style of the ones found in the wild.

    .venv/bin/python tests/notebooks/corpus/build_corpus.py [name ...]

Each notebook below is written, executed once with the project's runner (papermill over
nbclient, with provenance recording on) in a scratch folder, and saved here with its outputs
and its execution log in the metadata (as the JupyterLab side panel saves it), so
``provenance.verify`` and ``provenance.check`` both have something to work on.

The scratch folder holds what the author had at hand and the repository does not:
``data/train.csv`` (never committed) and a small HTTP server on 127.0.0.1:47311 (closed
afterwards). Notebooks that use them verify to a clear error. Cells whose first line is
``# build-only`` run during the build and are then deleted, as a user deletes a cell after
running it: the saved notebook depends on state no cell produces any more.

The committed data the notebooks read lives in ``data/`` next to them (written here too).
"""

from __future__ import annotations

import hashlib
import http.server
import shutil
import sys
import tempfile
import threading
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
NETWORK_PORT = 47311  # closed when the tests run: "needs the network" fails fast
BUILD_ONLY = "# build-only"


def md(text: str) -> str:
    return "%%md\n" + text


NOTEBOOKS: dict[str, list[str]] = {}


def notebook(name: str, *cells: str) -> None:
    NOTEBOOKS[name] = list(cells)


# --- tutorial-like ----------------------------------------------------------------------------
notebook(
    "pandas_basics",
    md("# Pandas basics\nCreating a DataFrame, looking at it, grouping."),
    "import pandas as pd\nimport numpy as np",
    "df = pd.DataFrame({'city': ['Lyon', 'Paris', 'Lyon', 'Nice', 'Paris', 'Nice'],\n"
    "                   'temp': [12.5, 14.1, 11.9, 17.3, 13.8, 18.0],\n"
    "                   'rain_mm': [3, 0, 7, 1, 2, 0]})\ndf.head()",
    "df.describe()",
    "df.dtypes",
    "df.groupby('city')['temp'].mean().round(2)",
    "df['warm'] = df['temp'] > 13\ndf[df.warm]",
    "print(f'{len(df)} rows, {df.city.nunique()} cities')",
)

notebook(
    "pandas_read_csv_sales",
    md("# Monthly sales\nRead the sales export and summarise it."),
    "import pandas as pd",
    "sales = pd.read_csv('data/sales.csv', parse_dates=['date'])\nsales.shape",
    "sales.head(3)",
    "sales['month'] = sales['date'].dt.to_period('M')\n"
    "monthly = sales.groupby('month')['amount'].sum()\nmonthly",
    "pd.pivot_table(sales, index='region', columns='product', values='amount',\n"
    "               aggfunc='sum').round(1)",
    "best = monthly.idxmax()\nprint('best month:', best, 'total', round(monthly.max(), 2))",
)

notebook(
    "numpy_arrays",
    md("## NumPy arrays\nShapes, broadcasting and a seeded generator."),
    "import numpy as np\nrng = np.random.default_rng(42)",
    "a = np.arange(12).reshape(3, 4)\na",
    "a.T @ a",
    "b = rng.normal(size=(3, 4)).round(3)\nb",
    "(a + b).mean(axis=0)",
    "np.where(a % 2 == 0, a, -1)",
    "print(a.dtype, a.shape, a.strides)",
)

notebook(
    "numpy_linear_algebra",
    "import numpy as np\nnp.set_printoptions(precision=4, suppress=True)",
    "A = np.array([[4., 1., 0.], [1., 3., 1.], [0., 1., 2.]])\nb = np.array([1., 2., 3.])",
    "x = np.linalg.solve(A, b)\nx",
    "np.allclose(A @ x, b)",
    "w, v = np.linalg.eigh(A)\nw",
    "np.linalg.norm(v, axis=0)",
    "np.linalg.cond(A)",
)

notebook(
    "matplotlib_line_plot",
    md("# Plotting a function"),
    "import numpy as np\nimport matplotlib.pyplot as plt\n%matplotlib inline",
    "x = np.linspace(0, 2 * np.pi, 50)\ny = np.sin(x)",
    "fig, ax = plt.subplots(figsize=(3, 2), dpi=50)\nax.plot(x, y, label='sin')\n"
    "ax.plot(x, np.cos(x), label='cos')\nax.legend()\nax.set_title('trig')",
    "plt.figure(figsize=(3, 2), dpi=50)\nplt.scatter(x[::5], y[::5])\nplt.show()",
    "print('max', y.max().round(3))",
)

notebook(
    "matplotlib_subplots_hist",
    "import numpy as np\nimport matplotlib.pyplot as plt\nrng = np.random.default_rng(7)",
    "samples = {'normal': rng.normal(size=300), 'uniform': rng.uniform(-2, 2, 300),\n"
    "           'laplace': rng.laplace(size=300)}",
    "fig, axes = plt.subplots(1, 3, figsize=(5, 1.8), dpi=40, sharey=True)\n"
    "for ax, (name, s) in zip(axes, samples.items()):\n"
    "    ax.hist(s, bins=15)\n    ax.set_title(name)\nfig.tight_layout()",
    "{name: round(float(s.std()), 3) for name, s in samples.items()}",
)

notebook(
    "sklearn_iris_classifier",
    md("# Iris: a first classifier"),
    "from sklearn.datasets import load_iris\n"
    "from sklearn.model_selection import train_test_split\n"
    "from sklearn.linear_model import LogisticRegression\n"
    "from sklearn.metrics import accuracy_score, classification_report",
    "X, y = load_iris(return_X_y=True, as_frame=True)\nX.head()",
    "X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3,\n"
    "                                                    random_state=0, stratify=y)\n"
    "X_train.shape, X_test.shape",
    "clf = LogisticRegression(max_iter=500)\nclf.fit(X_train, y_train)",
    "pred = clf.predict(X_test)\naccuracy_score(y_test, pred)",
    "print(classification_report(y_test, pred))",
)

notebook(
    "sklearn_regression_pipeline",
    "from sklearn.datasets import make_regression\n"
    "from sklearn.pipeline import make_pipeline\n"
    "from sklearn.preprocessing import StandardScaler\n"
    "from sklearn.linear_model import Ridge\n"
    "from sklearn.model_selection import cross_val_score",
    "X, y = make_regression(n_samples=120, n_features=5, noise=4.0, random_state=1)",
    "model = make_pipeline(StandardScaler(), Ridge(alpha=1.0))\nmodel",
    "scores = cross_val_score(model, X, y, cv=5, scoring='r2')\nscores.round(4)",
    "print(f'R2 = {scores.mean():.4f} +/- {scores.std():.4f}')",
    "model.fit(X, y)\nmodel[-1].coef_.round(3)",
)

notebook(
    "sklearn_convergence_warning",
    md("Too few iterations: scikit-learn warns."),
    "from sklearn.datasets import load_breast_cancer\n"
    "from sklearn.linear_model import LogisticRegression",
    "X, y = load_breast_cancer(return_X_y=True)",
    "clf = LogisticRegression(max_iter=5).fit(X, y)",
    "round(clf.score(X, y), 4)",
)

notebook(
    "kmeans_clustering",
    "import numpy as np\nimport matplotlib.pyplot as plt\n"
    "from sklearn.datasets import make_blobs\nfrom sklearn.cluster import KMeans",
    "X, _ = make_blobs(n_samples=150, centers=3, random_state=3)",
    "km = KMeans(n_clusters=3, n_init=10, random_state=0).fit(X)\nnp.bincount(km.labels_)",
    "km.cluster_centers_.round(2)",
    "plt.figure(figsize=(2.5, 2.5), dpi=40)\nplt.scatter(X[:, 0], X[:, 1], c=km.labels_, s=4)\n"
    "plt.show()",
    "inertia = {k: round(KMeans(k, n_init=5, random_state=0).fit(X).inertia_, 1)\n"
    "           for k in range(1, 5)}\ninertia",
)

# --- training-like ------------------------------------------------------------------------------
notebook(
    "tqdm_training_loop",
    md("# Training loop with a progress bar"),
    "import numpy as np\nfrom tqdm import tqdm\nrng = np.random.default_rng(0)",
    "X = rng.normal(size=(200, 3))\ntrue_w = np.array([1.5, -2.0, 0.5])\n"
    "y = X @ true_w + rng.normal(scale=0.1, size=200)",
    "w = np.zeros(3)\nhistory = []\nbar = tqdm(range(60), desc='epochs')\nfor epoch in bar:\n"
    "    grad = 2 * X.T @ (X @ w - y) / len(y)\n    w -= 0.05 * grad\n"
    "    loss = float(np.mean((X @ w - y) ** 2))\n    history.append(loss)\n"
    "    bar.set_postfix(loss=f'{loss:.3f}')",
    "print('final loss', round(history[-1], 5))\nw.round(3)",
)

notebook(
    "tqdm_auto_widget",
    "from tqdm.auto import tqdm\nimport time",
    "total = 0\nfor i in tqdm(range(20)):\n    total += i * i",
    "total",
    "from tqdm.notebook import trange\nfor _ in trange(3, desc='folds'):\n    pass\nprint('done')",
)

notebook(
    "gradient_descent_numpy",
    "import numpy as np\nnp.random.seed(1)",
    "X = np.random.randn(100, 2)\ny = (X[:, 0] + X[:, 1] > 0).astype(float)",
    "def sigmoid(z):\n    return 1 / (1 + np.exp(-z))",
    "w, b = np.zeros(2), 0.0\nfor epoch in range(101):\n    p = sigmoid(X @ w + b)\n"
    "    w -= 0.5 * X.T @ (p - y) / len(y)\n    b -= 0.5 * float(np.mean(p - y))\n"
    "    if epoch % 25 == 0:\n"
    "        loss = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))\n"
    "        print(f'epoch {epoch:3d}  loss {loss:.4f}')",
    "accuracy = float(np.mean((sigmoid(X @ w + b) > 0.5) == y))\naccuracy",
)

notebook(
    "random_forest_importances",
    "import pandas as pd\nimport matplotlib.pyplot as plt\n"
    "from sklearn.datasets import load_wine\n"
    "from sklearn.ensemble import RandomForestClassifier",
    "data = load_wine(as_frame=True)\nX, y = data.data, data.target\nX.shape",
    "rf = RandomForestClassifier(n_estimators=30, random_state=0).fit(X, y)",
    "imp = pd.Series(rf.feature_importances_, index=X.columns).sort_values(ascending=False)\n"
    "imp.head(5).round(4)",
    "ax = imp.head(8).plot.barh(figsize=(3, 2))\nax.figure.set_dpi(40)",
    "print('train accuracy', rf.score(X, y))",
)

notebook(
    "train_test_eval_plots",
    "import numpy as np\nimport matplotlib.pyplot as plt\n"
    "from sklearn.datasets import load_digits\n"
    "from sklearn.model_selection import train_test_split\n"
    "from sklearn.tree import DecisionTreeClassifier\n"
    "from sklearn.metrics import confusion_matrix, ConfusionMatrixDisplay",
    "X, y = load_digits(return_X_y=True)\n"
    "Xtr, Xte, ytr, yte = train_test_split(X, y, random_state=4)",
    "tree = DecisionTreeClassifier(max_depth=6, random_state=0).fit(Xtr, ytr)\n"
    "round(tree.score(Xte, yte), 4)",
    "cm = confusion_matrix(yte, tree.predict(Xte))\ncm.diagonal()",
    "fig, ax = plt.subplots(figsize=(3, 3), dpi=40)\n"
    "ConfusionMatrixDisplay(cm).plot(ax=ax, colorbar=False)",
    "fig, axes = plt.subplots(1, 4, figsize=(3, 1), dpi=40)\n"
    "for ax, img in zip(axes, X[:4]):\n    ax.imshow(img.reshape(8, 8), cmap='gray')\n"
    "    ax.axis('off')",
)

notebook(
    "sklearn_grid_search",
    "from sklearn.datasets import load_iris\nfrom sklearn.svm import SVC\n"
    "from sklearn.model_selection import GridSearchCV\nimport pandas as pd",
    "X, y = load_iris(return_X_y=True)",
    "grid = GridSearchCV(SVC(), {'C': [0.1, 1, 10], 'kernel': ['linear', 'rbf']}, cv=3)\n"
    "grid.fit(X, y)\ngrid.best_params_",
    "res = pd.DataFrame(grid.cv_results_)[['param_C', 'param_kernel', 'mean_test_score']]\n"
    "res.sort_values('mean_test_score', ascending=False).head()",
    "round(grid.best_score_, 4)",
)

notebook(
    "pickle_model_save_load",
    "import joblib\nfrom sklearn.datasets import load_diabetes\n"
    "from sklearn.linear_model import LinearRegression",
    "X, y = load_diabetes(return_X_y=True)\nreg = LinearRegression().fit(X, y)",
    "joblib.dump(reg, 'model.joblib')",
    "loaded = joblib.load('model.joblib')\n(loaded.predict(X[:3]) - reg.predict(X[:3])).max()",
    "round(loaded.score(X, y), 5)",
)

notebook(
    "feature_engineering",
    "import pandas as pd\nimport numpy as np\nfrom sklearn.preprocessing import StandardScaler",
    "raw = pd.DataFrame({'age': [23, 45, 31, 52, 38], 'plan': ['a', 'b', 'a', 'c', 'b'],\n"
    "                    'spend': [10.0, 250.5, 42.1, np.nan, 88.8]})\nraw",
    "raw['spend'] = raw['spend'].fillna(raw['spend'].median())\n"
    "feats = pd.get_dummies(raw, columns=['plan'], dtype=int)\nfeats",
    "scaled = StandardScaler().fit_transform(feats[['age', 'spend']])\nscaled.round(3)",
    "feats.columns.tolist()",
)

# --- analysis-like ------------------------------------------------------------------------------
notebook(
    "pandas_timeseries",
    "import pandas as pd\nimport numpy as np",
    "idx = pd.date_range('2024-01-01', periods=90, freq='D')\n"
    "ts = pd.Series(np.sin(np.arange(90) / 7) * 10 + 50, index=idx).round(2)\nts.head()",
    "ts.resample('W').mean().head(6).round(2)",
    "ts.rolling(7).mean().dropna().iloc[:4].round(3)",
    "ts.idxmax(), ts.max()",
    "ts.resample('MS').agg(['min', 'max']).round(2)",
)

notebook(
    "pandas_merge_join",
    "import pandas as pd",
    "orders = pd.DataFrame({'order_id': [1, 2, 3, 4], 'cust': ['c1', 'c2', 'c1', 'c3'],\n"
    "                       'total': [20.0, 35.5, 12.0, 99.9]})\n"
    "customers = pd.DataFrame({'cust': ['c1', 'c2', 'c4'], 'name': ['Ana', 'Bo', 'Cy']})",
    "pd.merge(orders, customers, on='cust', how='left')",
    "pd.merge(orders, customers, on='cust', how='outer', indicator=True)",
    "orders.join(customers.set_index('cust'), on='cust', how='inner').total.sum()",
)

notebook(
    "pandas_missing_values",
    "import pandas as pd\nimport numpy as np",
    "df = pd.DataFrame({'a': [1, np.nan, 3, None], 'b': ['x', None, 'z', 'w'],\n"
    "                   'c': [np.nan] * 4})\ndf",
    "df.isna().sum()",
    "df.dropna(axis=1, how='all').fillna({'a': 0, 'b': 'missing'})",
    "df.info()",
)

notebook(
    "pandas_styling_html",
    "import pandas as pd",
    "df = pd.DataFrame({'model': ['lr', 'rf', 'gb'], 'auc': [0.81, 0.87, 0.89]})",
    "df.style.highlight_max(subset=['auc']).format({'auc': '{:.2f}'})",
    "from IPython.display import HTML, display\ndisplay(HTML(df.to_html(index=False)))",
    "print(df.to_string(index=False))",
)

notebook(
    "long_dataframe_display",
    "import pandas as pd\nimport numpy as np\npd.set_option('display.max_rows', 10)\n"
    "pd.set_option('display.max_columns', 6)",
    "wide = pd.DataFrame(np.arange(300).reshape(30, 10), columns=[f'col{i}' for i in range(10)])\n"
    "wide",
    "wide.T",
    "print(wide.shape)",
)

notebook(
    "file_roundtrip",
    md("Write and read back CSV, JSON and pickle files."),
    "import json, pickle\nimport pandas as pd",
    "df = pd.DataFrame({'k': list('abc'), 'v': [1, 2, 3]})\ndf.to_csv('out.csv', index=False)\n"
    "with open('meta.json', 'w') as f:\n    json.dump({'rows': len(df), 'cols': list(df)}, f)",
    "pd.read_csv('out.csv')",
    "json.load(open('meta.json'))",
    "pickle.dump(df, open('df.pkl', 'wb'))\npickle.load(open('df.pkl', 'rb')).equals(df)",
)

notebook(
    "pathlib_glob_reports",
    "from pathlib import Path",
    "reports = Path('reports')\nreports.mkdir(exist_ok=True)\n"
    "for month in ['2024-01', '2024-02', '2024-03']:\n"
    "    (reports / f'{month}.txt').write_text(f'report for {month}\\n')",
    "sorted(p.name for p in reports.glob('*.txt'))",
    "print((reports / '2024-02.txt').read_text())",
)

notebook(
    "text_processing",
    "import re\nfrom collections import Counter",
    "text = '''The quick brown fox jumps over the lazy dog. The dog sleeps;\n"
    "the fox runs. A fox, a dog, and the end.'''",
    "words = re.findall(r'[a-z]+', text.lower())\nlen(words)",
    "Counter(words).most_common(5)",
    "print(sorted(set(words))[:8])",
)

notebook(
    "dicts_and_sets",
    md("Iterating over dicts and sets."),
    "scores = {'alice': 91, 'bob': 78, 'carol': 85}\nfor name, s in scores.items():\n"
    "    print(f'{name:>6}: {s}')",
    "tags = {'nlp', 'vision', 'tabular', 'audio'}\nprint('tags:', tags)",
    "tags",
    "ids = {5, 3, 9, 1}\nfor i in ids:\n    print(i, end=' ')",
    "inverted = {v: k for k, v in scores.items()}\ninverted",
    "frozenset(['x', 'y', 'z'])",
)

notebook(
    "dates_and_times",
    "import datetime as dt\nimport time",
    "print('report generated at', dt.datetime.now())",
    "dt.date.today()",
    "start = time.time()\nsum(range(10000))",
    "dt.datetime(2024, 3, 1) + dt.timedelta(days=30)",
)

notebook(
    "object_reprs",
    "class Model:\n    def __init__(self, n):\n        self.n = n",
    "m = Model(3)\nm",
    "print(m)",
    "[Model(1), Model(2)]",
    "f = lambda x: x\nf",
    "m.n",
)

notebook(
    "numpy_float_formatting",
    "import numpy as np",
    "0.1 + 0.2",
    "np.float64(0.1) + np.float64(0.2)",
    "np.array([1e-10, 1.0, 123456.789])",
    "np.linspace(0, 1, 7)",
    "print(np.pi, np.e)",
    "np.mean([1, 2, 3, 4])",
)

notebook(
    "unicode_output",
    "print('température: 21 °C — ok ✓')",
    "print('日本語のテキスト')",
    "{'naïve': 1, 'café': 2}",
    "'αβγ'.upper()",
)

notebook(
    "rich_display_objects",
    "from IPython.display import Markdown, Latex, HTML, JSON, display",
    "display(Markdown('**bold** and _italic_'))",
    "Latex(r'$E = mc^2$')",
    "HTML('<b>hello</b>')",
    "display({'text/plain': 'custom', 'text/html': '<i>custom</i>'}, raw=True)",
)

notebook(
    "images_pil",
    "from PIL import Image, ImageDraw\nimport io\nfrom IPython.display import Image as IPImage",
    "img = Image.new('RGB', (24, 16), 'white')\nd = ImageDraw.Draw(img)\n"
    "d.rectangle([2, 2, 12, 10], fill='red')\nimg.size",
    "img",
    "buf = io.BytesIO()\nimg.save(buf, format='PNG')\nIPImage(buf.getvalue())",
    "img.getpixel((5, 5))",
)

# --- widgets, magics, shell -----------------------------------------------------------------------
notebook(
    "ipywidgets_slider",
    "import ipywidgets as widgets\nfrom IPython.display import display",
    "slider = widgets.IntSlider(value=5, min=0, max=10, description='k')\ndisplay(slider)",
    "slider.value",
    "@widgets.interact(x=(0, 10))\ndef square(x=3):\n    return x * x",
    "widgets.Dropdown(options=['a', 'b'], value='b')",
)

notebook(
    "ipywidgets_dashboard",
    "import ipywidgets as widgets",
    "out = widgets.Output()\nbtn = widgets.Button(description='Run')\n"
    "box = widgets.VBox([widgets.HTML('<b>Dashboard</b>'), btn, out])\nbox",
    "with out:\n    print('inside the output widget')",
    "len(box.children)",
    "widgets.FloatProgress(value=0.7, max=1.0)",
)

notebook(
    "warnings_custom",
    "import warnings\nimport pandas as pd",
    "def clean(df):\n    n = int(df.isna().any(axis=1).sum())\n    if n:\n"
    "        warnings.warn(f'{n} rows dropped', UserWarning)\n    return df.dropna()",
    "clean(pd.DataFrame({'a': [1, None, 3]}))",
    "warnings.warn('this API is deprecated', FutureWarning)",
    "with warnings.catch_warnings():\n    warnings.simplefilter('ignore')\n"
    "    warnings.warn('hidden')\nprint('no warning shown')",
)

notebook(
    "timeit_magics",
    md("Timing with magics."),
    "import numpy as np\nx = np.arange(1000)",
    "%timeit x.sum()",
    "%timeit -n 10 -r 3 sum(range(100))",
    "%%time\ntotal = sum(i * i for i in range(20000))",
    "%time y = sorted(x[::-1])",
    "total",
)

notebook(
    "capture_magic",
    "%%capture captured\nprint('noisy output')\nimport warnings\nwarnings.warn('quiet')",
    "captured.stdout",
    "%%capture --no-stderr\nprint('hidden')",
    "print('visible')",
)

notebook(
    "shell_escapes",
    "!echo hello from the shell",
    "!printf 'a,b\\n1,2\\n' > tiny.csv\n!cat tiny.csv",
    "files = !ls *.csv\nfiles",
    "%%bash\necho from bash\nexpr 6 \\* 7",
    "import pandas as pd\npd.read_csv('tiny.csv')",
)

notebook(
    "logging_output",
    "import logging, sys\n"
    "logging.basicConfig(stream=sys.stderr, level=logging.INFO,\n"
    "                    format='%(asctime)s %(levelname)s %(name)s: %(message)s', force=True)\n"
    "log = logging.getLogger('pipeline')",
    "log.info('loading %d rows', 120)",
    "log.warning('column %r has nulls', 'price')",
    "log.debug('not shown')\n'ok'",
)

notebook(
    "exception_handled",
    "import traceback",
    "try:\n    {}['missing']\nexcept KeyError as e:\n    print('caught', repr(e))",
    "try:\n    int('x1')\nexcept ValueError:\n    traceback.print_exc()",
    "print('still running')",
)

notebook(
    "sys_exit_in_cell",
    "print('checking inputs')",
    "import sys\nok = False\nif not ok:\n    sys.exit('inputs missing: stopping here')",
    "print('after exit')",
)

# --- fail on purpose ------------------------------------------------------------------------------
notebook(
    "exception_mid_notebook",
    md("An analysis saved after a cell failed."),
    "import pandas as pd\ndf = pd.DataFrame({'a': [1, 2], 'b': [3, 4]})",
    "df['a'].sum()",
    "df['c']",
    "df['b'].sum()",
)

notebook(
    "missing_data_file",
    md("# Train a model on the exported training set"),
    "import pandas as pd\nfrom sklearn.linear_model import LinearRegression",
    "print('loading')",
    "train = pd.read_csv('data/train.csv')\ntrain.shape",
    "LinearRegression().fit(train[['x']], train['y']).coef_.round(3)",
)

notebook(
    "network_download",
    "import pandas as pd\nimport urllib.request",
    f"URL = 'http://127.0.0.1:{NETWORK_PORT}/data/sales.csv'",
    "with urllib.request.urlopen(URL, timeout=5) as resp:\n"
    "    raw = resp.read().decode()\nlen(raw.splitlines())",
    "df = pd.read_csv(URL)\ndf.shape",
)

notebook(
    "unseeded_random",
    md("Forgot to seed the generator."),
    "import numpy as np\nimport random",
    "np.random.rand(3)",
    "random.choice(['red', 'green', 'blue', 'yellow', 'cyan', 'magenta', 'black'])"
    " + str(random.randint(0, 10 ** 9))",
    "print('sample mean', np.random.normal(size=100).mean())",
)

notebook(
    "deleted_cell_hidden_state",
    md("A cell was deleted after it ran: `threshold` lives only in the kernel."),
    f"{BUILD_ONLY}\nthreshold = 0.5",
    "import numpy as np\nvalues = np.array([0.2, 0.7, 0.9, 0.4])",
    "(values > threshold).sum()",
    "print('above:', values[values > threshold])",
)

notebook(
    "edited_after_run",
    md("A cell was edited after its outputs were saved."),
    "rate = 0.2",
    "print('tax:', 100 * rate)",
    "round(250 * rate, 2)",
)


EDITS = {  # notebook -> {cell index: source saved after the run (an edit never re-run)}
    "edited_after_run": {1: "rate = 0.25"},
}


def _cell_id(name: str, index: int) -> str:
    return hashlib.sha1(f"{name}:{index}".encode()).hexdigest()[:8]


def make_notebook(name: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.metadata["language_info"] = {"name": "python"}
    for i, source in enumerate(NOTEBOOKS[name]):
        if source.startswith("%%md\n"):
            cell = nbformat.v4.new_markdown_cell(source[5:])
        else:
            cell = nbformat.v4.new_code_cell(source)
        cell["id"] = _cell_id(name, i)
        nb.cells.append(cell)
    return nb


def write_committed_data(folder: Path) -> None:
    """data/sales.csv: 120 deterministic rows (date, region, product, amount)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(2024)
    n = 120
    df = pd.DataFrame(
        {
            "date": pd.date_range("2024-01-01", periods=n, freq="D").strftime("%Y-%m-%d"),
            "region": rng.choice(["north", "south", "east"], n),
            "product": rng.choice(["basic", "pro"], n),
            "amount": rng.gamma(2.0, 40.0, n).round(2),
        }
    )
    (folder / "data").mkdir(parents=True, exist_ok=True)
    df.to_csv(folder / "data" / "sales.csv", index=False)


def write_build_only_data(folder: Path) -> None:
    """What the author had and the repository does not: data/train.csv."""
    lines = ["x,y"] + [f"{x},{2 * x + 1}" for x in range(10)]
    (folder / "data" / "train.csv").write_text("\n".join(lines) + "\n")


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def build(names: list[str]) -> None:
    from jupyter_mlinfra.core.notebook_execution import execute_notebook
    from jupyter_mlinfra.core.provenance.model import ExecutionLog, attach_log

    write_committed_data(HERE)
    with tempfile.TemporaryDirectory(prefix="corpus-build-") as tmp:
        serve_root = Path(tmp) / "served"
        write_committed_data(serve_root)
        handler = lambda *a, **k: _Quiet(*a, directory=str(serve_root), **k)  # noqa: E731
        server = http.server.ThreadingHTTPServer(("127.0.0.1", NETWORK_PORT), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            for name in names:
                work = Path(tmp) / name
                shutil.copytree(HERE / "data", work / "data")
                write_build_only_data(work)
                records: list = []
                out = work / "executed.ipynb"
                try:
                    execute_notebook(
                        make_notebook(name),
                        out,
                        cwd=work,
                        kernel_name="python3",
                        execution_timeout=60,
                        notebook_path=f"{name}.ipynb",
                        provenance_sink=records.extend,
                    )
                except Exception as exc:  # a notebook that fails on purpose is saved so
                    print(f"  {name}: stopped at {type(exc).__name__}")
                nb = nbformat.read(out, as_version=4)
                _clean(nb, name)
                if records:
                    attach_log(
                        nb,
                        ExecutionLog(
                            executions=records,
                            notebook_path=f"{name}.ipynb",
                            session_id=records[0].session_id,
                        ),
                    )
                nbformat.write(nb, HERE / f"{name}.ipynb")
                print(f"built {name}")
        finally:
            server.shutdown()
            server.server_close()


def _clean(nb: nbformat.NotebookNode, name: str) -> None:
    """What papermill adds and a notebook saved from JupyterLab has not; build-only cells go,
    edits are applied."""
    nb.metadata.pop("papermill", None)
    kept = []
    for cell in nb.cells:
        meta = cell.get("metadata", {})
        meta.pop("papermill", None)
        meta.pop("execution", None)
        if "papermill-error-cell-tag" in meta.get("tags", []):
            continue
        if meta.get("tags") == []:
            meta.pop("tags")
        kept.append(cell)
    by_id = {c.get("id"): c for c in kept}
    for index, source in EDITS.get(name, {}).items():
        by_id[_cell_id(name, index)].source = source
    nb.cells = [c for c in kept if not "".join(c.source).startswith(BUILD_ONLY)]


if __name__ == "__main__":
    build(sys.argv[1:] or list(NOTEBOOKS))
