"""Fixtures for the feature store: a service per test and a small customer data set."""

from __future__ import annotations

import pytest
from feature_data import double_amount, spend_source


@pytest.fixture
def fs(workspace):
    service = workspace.service("features")
    yield service
    service.close()


@pytest.fixture
def spend_view(fs):
    fs.register_entity("customer", ["customer_id"], "a paying customer")
    fs.register_view(
        "spend",
        entities="customer",
        source=spend_source(),
        transform=double_amount,
        ttl="2d",
        tags=["billing"],
        description="what customers spend",
    )
    return fs
