"""The Features tab of the ML Infra panel in a real JupyterLab (headless Chromium): search,
details with schema, freshness, owner, used-by and sample rows; private views of others
stay hidden. Screenshots: test-artifacts/ui/features-*.png."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from jupyterlab_page import contrast, main_page, open_lab, open_mlinfra_panel, open_tab, screenshot

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def feature_views(lab_server):
    """Two public views of alice (materialized, one used by a model) and a private one of
    bob, in the server's catalog."""
    alice_ws, bob_ws = lab_server.workspace("alice"), lab_server.workspace("bob")
    alice, bob = alice_ws.service("features"), bob_ws.service("features")
    alice.register_entity("customer", ["customer_id"], "a paying customer")
    rng = np.random.default_rng(3)
    now = pd.Timestamp.now(tz="UTC").floor("min")
    txns = pd.DataFrame(
        {
            "customer_id": rng.integers(0, 50, 400),
            "event_timestamp": now - pd.to_timedelta(rng.integers(60, 5 * 86400, 400), unit="s"),
            "amount": rng.gamma(2.0, 30.0, 400).round(2),
        }
    )

    def spend(df):
        df["amount_log"] = np.log1p(df["amount"])
        df["is_large"] = df["amount"] > 100
        return df

    alice.register_view(
        "spend",
        entities="customer",
        source=txns,
        transform=spend,
        ttl="2d",
        tags=["billing"],
        description="per-transaction spend features",
        visibility="public",
    )
    alice.materialize("spend")
    profiles = pd.DataFrame(
        {
            "customer_id": np.arange(50),
            "event_timestamp": now,
            "plan": rng.choice(["free", "pro"], 50),
        }
    )
    alice.register_view(
        "profile",
        entities="customer",
        source=profiles,
        ttl="60d",
        tags=["crm"],
        description="customer profile",
        visibility="public",
    )
    alice.materialize("profile")
    frame = alice.get_training_frame(
        pd.DataFrame({"customer_id": [1, 2], "event_timestamp": [now, now]}),
        ["spend:amount", "spend:is_large"],
    )
    alice.record_usage(frame.attrs["mlinfra_lineage"], "model:churn/1")
    bob.register_view(
        "secret_scores",
        entities="customer",
        visibility="private",
        schema={"customer_id": "int64", "score": "float64"},
    )
    yield
    for ws in (alice_ws, bob_ws):
        ws.service("features").close()
        ws.close()


def test_features_tab_search_and_details(page, feature_views, console_messages):
    open_lab(page)
    open_mlinfra_panel(page)
    body = open_tab(page, "features")
    table = body.locator("table[aria-label='Feature views']")
    table.wait_for(state="visible")
    rows = table.locator("tbody tr")
    rows.first.wait_for(state="visible")
    names = table.locator("td[data-column='name'] .jp-mlinfra-Name").all_inner_texts()
    assert sorted(names) == ["profile", "spend"]  # bob's private view is not listed
    spend_row = table.locator("tr[data-row-key='spend']")
    assert "amount, amount_log, is_large" in spend_row.inner_text()
    assert "alice" in spend_row.inner_text() and "public" in spend_row.inner_text()
    screenshot(page, "features-list", page.locator("#jp-left-stack"))

    search = body.get_by_label("Search feature views")
    search.fill("crm")
    page.wait_for_function(
        "() => [...document.querySelectorAll(\"table[aria-label='Feature views'] "
        "td[data-column='name'] .jp-mlinfra-Name\")].map(e => e.textContent)"
        ".join(',') === 'profile'"
    )
    search.fill("nothing-like-this")
    body.get_by_text("No feature view matches").wait_for(state="visible")
    search.fill("")
    spend_row.wait_for(state="visible")

    spend_row.click()  # opens the view's page in the main area
    details = main_page(page, "feature-view", "spend").locator("section[data-view='spend']")
    details.wait_for(state="visible")
    # the selected row's secondary text stays readable on the selection colour
    secondary = body.locator("tr.jp-mod-selected .jp-mlinfra-Muted").all()
    assert secondary
    for muted in secondary:
        assert contrast(muted) >= 4.5, muted.inner_text()
    schema = details.locator("table[aria-label='Schema']")
    schema.wait_for(state="visible")
    schema_text = schema.inner_text()
    for feature in ("amount", "amount_log", "is_large", "float64", "bool"):
        assert feature in schema_text
    assert "2 distinct" in schema_text  # is_large: True and False
    freshness = details.locator("table[aria-label='Freshness']").inner_text()
    assert "400 rows" in freshness and "50 entities" in freshness
    # used by: the model version, as a link to its page
    used_by = details.locator("[aria-label='Used by']")
    assert used_by.locator("[data-mlinfra-link='model']").inner_text() == "churn v1"
    definition = details.locator("table[aria-label='Definition']").inner_text()
    assert "alice (public)" in definition and "2d" in definition and "billing" in definition
    sample = details.locator("table[aria-label='Sample rows']")
    sample.wait_for(state="visible")
    assert sample.locator("tbody tr").count() == 5
    assert "amount_log" in sample.locator("thead").inner_text()
    # the sample's columns: entity key first, then the features
    headers = sample.locator("thead th").all_inner_texts()
    assert headers[0].startswith("customer_id"), headers
    screenshot(page, "features-details")
    sample.scroll_into_view_if_needed()
    screenshot(page, "features-used-by-and-sample")
    details.get_by_label("Close details").click()  # closes the page
    details.wait_for(state="detached")

    errors = [
        m for m in console_messages if m.kind in ("error", "pageerror") and m.mentions("mlinfra")
    ]
    assert not errors, errors
