"""Verify's sanitizers: run-to-run noise does not make a false mismatch, a real difference
still does. Each case compares a stored cell's outputs with a re-run's through verify's own
comparison (``outputs_text`` + ``texts_match``), as ``verify`` does."""

from __future__ import annotations

import pytest

from jupyter_mlinfra.core.provenance import sanitize as s
from jupyter_mlinfra.core.provenance.verify import VerifyOptions, outputs_text, texts_match


def stream(text: str, name: str = "stdout") -> dict:
    return {"output_type": "stream", "name": name, "text": text}


def result(text: str, **extra) -> dict:
    return {
        "output_type": "execute_result",
        "execution_count": 1,
        "data": {"text/plain": text, **extra},
        "metadata": {},
    }


def display(data: dict) -> dict:
    return {"output_type": "display_data", "data": data, "metadata": {}}


def same(stored: list, rerun: list) -> bool:
    opts = VerifyOptions()
    return texts_match(outputs_text(stored, opts), outputs_text(rerun, opts), opts)


BAR = "{pct:>3}%|{bar:<10}| {n}/10 [00:0{e}<00:0{r}, {rate}it/s{post}]"


def tqdm_frames(steps, rate: str, post: str = "", final: int = 10) -> str:
    frames = [
        BAR.format(pct=n * 10, bar="█" * n, n=n, e=n % 3, r=(10 - n) % 4, rate=rate, post=post)
        for n in steps
    ]
    return "\r" + "\r".join(frames) + "\n"


# (name, stored outputs, re-run outputs): must match
NOISE = [
    (
        "tqdm_frames_and_rates",
        [stream(tqdm_frames([0, 3, 10], "12.34", ", loss=0.25"), "stderr")],
        [stream(tqdm_frames([0, 1, 2, 5, 8, 10], "98.76", ", loss=0.25"), "stderr")],
    ),
    (
        "tqdm_split_over_chunks",
        [stream(tqdm_frames([0, 10], "5.00"), "stderr")],
        [
            stream(
                "\r" + BAR.format(pct=0, bar="", n=0, e=0, r=0, rate="1.0", post="") + "\r",
                "stderr",
            ),
            stream(
                BAR.format(pct=100, bar="█" * 10, n=10, e=1, r=0, rate="7.5", post="") + "\n",
                "stderr",
            ),
        ],
    ),
    (
        "tqdm_notebook_widget_text",
        [
            display(
                {
                    "text/plain": "  0%|          | 0/20 [00:00<?, ?it/s]",
                    "application/vnd.jupyter.widget-view+json": {
                        "model_id": "0f3c4b9d2a8e4f5b9c1d2e3f4a5b6c7d",
                        "version_major": 2,
                    },
                }
            )
        ],
        [
            display(
                {
                    "text/plain": "  0%|          | 0/20 [00:00<?, ?it/s]",
                    "application/vnd.jupyter.widget-view+json": {
                        "model_id": "9a8b7c6d5e4f43219a8b7c6d5e4f4321",
                        "version_major": 2,
                    },
                }
            )
        ],
    ),
    (
        "timeit",
        [stream("3.21 μs ± 45.6 ns per loop (mean ± std. dev. of 7 runs, 100,000 loops each)\n")],
        [stream("12.9 μs ± 1.02 μs per loop (mean ± std. dev. of 7 runs, 10,000 loops each)\n")],
    ),
    (
        "time_magic",
        [stream("CPU times: user 2.1 ms, sys: 0 ns, total: 2.1 ms\nWall time: 2.3 ms\n")],
        [stream("CPU times: user 5.9 ms, sys: 1.1 ms, total: 7 ms\nWall time: 8.02 ms\n")],
    ),
    (
        "keras_progress",
        [
            stream(
                "Epoch 1/2\n\r 1/32 ━━━━━━━━━━━━━━━━━━━━ 9s 300ms/step\r32/32 ━━━━━━━━━━━━━━━━━━━━ "
                "1s 12ms/step - accuracy: 0.8125 - loss: 0.4100\n"
            )
        ],
        [
            stream(
                "Epoch 1/2\n\r32/32 ━━━━━━━━━━━━━━━━━━━━ 2s 31ms/step - accuracy: 0.8125 - "
                "loss: 0.4100\n"
            )
        ],
    ),
    (
        "keras2_eta",
        [stream("10/32 [=====>........] - ETA: 3s - loss: 0.6000\n")],
        [stream("10/32 [=====>........] - ETA: 0s - loss: 0.6000\n")],
    ),
    (
        "printed_elapsed_time",
        [stream("trained in 2.31 s (0.0123 seconds per batch)\n")],
        [stream("trained in 3.07 s (0.0201 seconds per batch)\n")],
    ),
    (
        "warning_in_a_library",
        [
            stream(
                "/home/ana/.venv/lib/python3.11/site-packages/sklearn/linear_model/_logistic.py:"
                "469: ConvergenceWarning: lbfgs failed to converge (status=1)\n"
                "  n_iter_i = _check_optimize_result(\n",
                "stderr",
            )
        ],
        [
            stream(
                "/srv/ci/venv/lib/python3.12/site-packages/sklearn/linear_model/_logistic.py:"
                "473: ConvergenceWarning: lbfgs failed to converge (status=1)\n"
                "  warnings.warn(\n",
                "stderr",
            )
        ],
    ),
    (
        "warning_from_the_notebook",
        [
            stream(
                "/tmp/ipykernel_4021/2769334731.py:4: UserWarning: 3 rows dropped\n"
                '  warnings.warn(f"{n} rows dropped")\n',
                "stderr",
            )
        ],
        [
            stream(
                "/var/tmp/ipykernel_77/118822.py:5: UserWarning: 3 rows dropped\n"
                '  warnings.warn(f"{n} rows dropped")\n',
                "stderr",
            )
        ],
    ),
    (
        "widget_model_id_in_text",
        [
            result(
                "Output(layout=Layout(border='1px'), _model_id='0123456789abcdef0123456789abcdef')"
            )
        ],
        [
            result(
                "Output(layout=Layout(border='1px'), _model_id='fedcba9876543210fedcba9876543210')"
            )
        ],
    ),
    (
        "logging_asctime",
        [stream("2024-05-01 12:04:05,123 INFO pipeline: loading 120 rows\n", "stderr")],
        [stream("2024-05-02 09:00:01,987 INFO pipeline: loading 120 rows\n", "stderr")],
    ),
    (
        "printed_set_of_strings",
        [stream("labels: {'cat', 'dog', 'bird'}\n")],
        [stream("labels: {'bird', 'cat', 'dog'}\n")],
    ),
    (
        "image_bytes",
        [
            display(
                {
                    "image/png": "iVBORw0KGgoAAAANSUhEUgAAAAEAAAAB",
                    "text/plain": "<Figure size 320x240 with 1 Axes>",
                }
            )
        ],
        [
            display(
                {
                    "image/png": "iVBORw0KGgoAAAANSUhEUgAAAAIAAAAC",
                    "text/plain": "<Figure size 320x240 with 1 Axes>",
                }
            )
        ],
    ),
]

NOISE += [
    (  # dt.date.today() / dt.datetime.now() as a cell's result, re-run another day
        "today_as_a_result",
        [result("datetime.date(2026, 12, 1)")],
        [result("datetime.date(2026, 12, 2)")],
    ),
    (
        "now_as_a_result",
        [result("datetime.datetime(2026, 12, 1, 23, 59, 58, 120349)")],
        [result("datetime.datetime(2026, 12, 2, 0, 0, 1, 5, tzinfo=datetime.timezone.utc)")],
    ),
]

# (name, stored outputs, re-run outputs): a real difference, must still mismatch
REAL = [
    (
        "a_date_next_to_a_changed_value",
        [result("(datetime.date(2026, 12, 1), 120)")],
        [result("(datetime.date(2026, 12, 2), 121)")],
    ),
    (
        "tqdm_stopped_early",
        [stream(tqdm_frames([0, 5, 10], "12.34"), "stderr")],
        [stream(tqdm_frames([0, 3, 7], "12.34"), "stderr")],
    ),
    (
        "tqdm_metric_changed",
        [stream(tqdm_frames([0, 10], "12.34", ", loss=0.25"), "stderr")],
        [stream(tqdm_frames([0, 10], "12.34", ", loss=0.91"), "stderr")],
    ),
    (
        "carriage_return_keeps_the_final_value",
        [stream("epoch 1/3\repoch 2/3\repoch 3/3\n")],
        [stream("epoch 1/3\repoch 2/3\n")],
    ),
    (
        "timeit_next_to_a_printed_value",
        [stream("3.2 μs ± 4 ns per loop (mean ± std. dev. of 7 runs, 1 loop each)\nresult 42\n")],
        [stream("9.9 μs ± 1 ns per loop (mean ± std. dev. of 7 runs, 5 loops each)\nresult 43\n")],
    ),
    (
        "keras_metric_changed",
        [stream("32/32 ━━━━━━━━━━━━━━━━━━━━ 1s 12ms/step - accuracy: 0.8125 - loss: 0.4100\n")],
        [stream("32/32 ━━━━━━━━━━━━━━━━━━━━ 1s 12ms/step - accuracy: 0.7500 - loss: 0.4100\n")],
    ),
    ("whole_seconds_are_compared", [stream("waited 5 seconds\n")], [stream("waited 6 seconds\n")]),
    ("duration_unit_changed", [stream("trained in 2.31 s\n")], [stream("trained in 2.31 h\n")]),
    (
        "warning_category_changed",
        [stream("/a/b.py:10: FutureWarning: the default will change\n  x()\n", "stderr")],
        [stream("/a/b.py:10: DeprecationWarning: the default will change\n  x()\n", "stderr")],
    ),
    (
        "warning_message_changed",
        [stream("/tmp/ipykernel_1/2.py:4: UserWarning: 3 rows dropped\n  w()\n", "stderr")],
        [stream("/tmp/ipykernel_1/2.py:4: UserWarning: 5 rows dropped\n  w()\n", "stderr")],
    ),
    (
        "warning_appeared",
        [stream("done\n")],
        [stream("done\n"), stream("/a/b.py:10: UserWarning: careful\n  w()\n", "stderr")],
    ),
    (
        "widget_value_changed",
        [result("IntSlider(value=5, description='k', max=10)")],
        [result("IntSlider(value=6, description='k', max=10)")],
    ),
    (
        "logged_message_changed",
        [stream("2024-05-01 12:04:05,123 INFO pipeline: loading 120 rows\n", "stderr")],
        [stream("2024-05-01 12:04:05,123 INFO pipeline: loading 121 rows\n", "stderr")],
    ),
    (
        "set_elements_changed",
        [stream("labels: {'cat', 'dog', 'bird'}\n")],
        [stream("labels: {'cat', 'dog', 'fish'}\n")],
    ),
    ("dict_order_is_real", [result("{'b': 1, 'a': 2}")], [result("{'a': 2, 'b': 1}")]),
    (
        "image_became_text",
        [display({"image/png": "iVBORw0KGgo=", "text/plain": "<Figure size 320x240 with 1 Axes>"})],
        [display({"text/plain": "<Figure size 320x240 with 2 Axes>"})],
    ),
]


@pytest.mark.parametrize("name,stored,rerun", NOISE, ids=[c[0] for c in NOISE])
def test_run_to_run_noise_matches(name, stored, rerun):
    assert same(stored, rerun), (outputs_text(stored), outputs_text(rerun))


@pytest.mark.parametrize("name,stored,rerun", REAL, ids=[c[0] for c in REAL])
def test_real_difference_still_mismatches(name, stored, rerun):
    assert not same(stored, rerun), (outputs_text(stored), outputs_text(rerun))


def test_collapse_carriage_returns_is_a_terminal_view():
    assert s.collapse_carriage_returns("a\rb\rc\nnext\r\n") == "c\nnext\n"
    assert s.collapse_carriage_returns("bar 50%\r") == "bar 50%"
    assert s.collapse_carriage_returns("plain\ntext") == "plain\ntext"


def test_progress_timings_keep_the_postfix():
    assert (
        s.progress_timings("100%|█| 3/3 [00:02<00:00,  1.49s/it, acc=0.9]")
        == "100%|█| 3/3 [<progress>, acc=0.9]"
    )
    assert s.progress_timings("5/5 [1:02:03<00:00, 2.1MB/s]") == "5/5 [<progress>]"
    # a list that looks a little like it is left alone
    assert s.progress_timings("[10:20, 30:40]") == "[10:20, 30:40]"


def test_set_orders_leaves_dicts_code_and_nested_braces():
    assert s.set_orders("{3, 1, 2}") == "{1, 2, 3}"
    assert s.set_orders("{'b': 1, 'a': 2}") == "{'b': 1, 'a': 2}"
    assert s.set_orders("f'{x}' and {}") == "f'{x}' and {}"
    assert s.set_orders("frozenset({'z', 'y'})") == "frozenset({'y', 'z'})"


def test_warning_locations_only_touch_warning_headers():
    text = "epoch 3: loss 0.2\nmodel.py:12: not a warning\n"
    assert s.warning_locations(text) == text
