"""Shared data and helpers of the feature store tests."""

from __future__ import annotations

import json
import os

import pandas as pd


def workspace_for(user: str, team: str = "", **env: str):
    """A workspace on the test home seen by ``user`` of ``team`` (own config, own services)."""
    from jupyter_mlinfra.core.config import resolve_config
    from jupyter_mlinfra.core.workspace import Workspace

    environ = {
        **os.environ,
        "MLINFRA_TEAMS": json.dumps({user: team} if team else {}),
        **{f"MLINFRA_{k.upper()}": v for k, v in env.items()},
    }
    return Workspace(resolve_config(environ=environ), user=user)


def spend_source() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": [1, 1, 2, 2, 3],
            "event_timestamp": pd.to_datetime(
                [
                    "2024-01-01 10:00",
                    "2024-01-03 10:00",
                    "2024-01-02 09:00",
                    "2024-01-05 12:00",
                    "2024-01-01 08:00",
                ],
                utc=True,
            ),
            "amount": [10.0, 20.0, 5.0, 7.0, 1.0],
            "country": ["fr", "fr", "de", "de", "it"],
        }
    )


def double_amount(df: pd.DataFrame) -> pd.DataFrame:
    df["amount_x2"] = df["amount"] * 2
    return df
