"""Tracking: what a run writes to MLflow, and how secrets are kept out of it."""

from __future__ import annotations

import logging
import os


def quiet_mlflow() -> None:
    """Keep MLflow's own chatter off the terminal, where genspec prints one line per run.

    That is its INFO lines ("Creating initial MLflow database tables") and, against a
    tracking server, the "View run ... / View experiment ..." links it writes to stdout
    for every finished run, nested model runs included.
    """
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
