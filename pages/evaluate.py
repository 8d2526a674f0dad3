"""Evaluate models: which model suits your labelled data, with intervals, paired tests and cost.

Top to bottom: the task and its data (a built-in set, or your files), one to three models, what the
run would send to an API; on **Evaluate** the texts are embedded through the cache and scored
(:mod:`embedcore.evaluation`); then the verdict, the metrics with their 95 % intervals, the cost, the
worst items and the downloads (:mod:`ui.evaluate`).
"""

from __future__ import annotations

import streamlit as st

from ui.common.models_picker import options_or_stop
from ui.common.navigation import ensure_routed
from ui.common.static_build import show_build_stopped
from ui.evaluate import data, results, runner

ensure_routed()  # first: Streamlit may have run this file without app.py (ui.common.navigation)

st.title("Evaluate models", anchor=False)
st.caption(
    "Which model is better for *your* data? Score one to three models on labelled data — similarity "
    "scores, search queries with relevant documents, translations, or labelled texts — with 95 % "
    "confidence intervals and a paired test between models, as MTEB and sentence-transformers' "
    "evaluators measure them."
)

kind = data.task_kind()
task = data.labelled_set(kind)
chosen = runner.pick_models(options_or_stop())
evaluation = runner.evaluation(task, chosen)
show_build_stopped()
if evaluation is not None:
    results.show(evaluation)
