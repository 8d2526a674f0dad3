"""The Evaluate page's results: the verdict, metrics with intervals, cost, failures, downloads.

The failures open in the explorer: the worst items' texts, with what the model returned instead,
become the texts every page uses, labelled by their role, and the explorer maps them.
"""

from __future__ import annotations

import json

import pandas as pd
import streamlit as st

from embedcore import io
from embedcore.figures.evaluation import metrics_figure
from ui.common.format import md_escape
from ui.common.tables import WRAP_ROW_HEIGHT
from ui.common.texts import set_texts


def show(evaluation) -> None:
    """Everything the page draws for a finished evaluation, top to bottom."""
    verdict(evaluation)
    metrics(evaluation)
    cost(evaluation)
    failures(evaluation)
    downloads(evaluation)


def verdict(evaluation) -> None:
    """Which model is better on the task's main metric, or that no difference is detectable."""
    best = max(evaluation.results, key=lambda r: _value(r, evaluation.primary_metric))
    metric = evaluation.primary_metric
    low, high = best.ci[metric]
    st.subheader("Verdict", anchor=False)
    st.markdown(
        f"On {best.n_items:,} items, **{md_escape(best.model)}** scores highest on **{metric}**: "
        f"{best.metrics[metric]:.3f} (95% interval {low:.3f}–{high:.3f})."
    )
    for sentence in evaluation.verdicts():
        detectable = not sentence.startswith("no detectable")
        st.markdown(
            f"{':material/check_circle:' if detectable else ':material/balance:'} {md_escape(sentence)}."
        )
    for warning in [*evaluation.warnings, *(w for r in evaluation.results for w in r.warnings)]:
        st.warning(md_escape(warning), icon=":material/warning:")


def _value(result, metric: str) -> float:
    value = result.metrics.get(metric)
    return float("-inf") if value is None or value != value else float(value)


def metrics(evaluation) -> None:
    """The figure (dots with interval whiskers) and the same numbers as a table."""
    st.subheader("Metrics", anchor=False)
    table = evaluation.table()
    st.plotly_chart(metrics_figure(table), key="evaluate_metrics_chart", width="stretch")
    wide = table.assign(
        shown=[
            f"{v:.3f} [{lo:.3f}, {hi:.3f}]"
            for v, lo, hi in zip(table.value, table.ci_low, table.ci_high, strict=True)
        ]
    ).pivot(index="model", columns="metric", values="shown")
    st.dataframe(wide[list(dict.fromkeys(table.metric))], width="stretch", key="evaluate_metrics_table")
    st.caption(
        f"Value [95% bootstrap interval over {evaluation.n_boot:,} resamples of the items]. Paired tests "
        "resample the same items for both models."
    )
    if evaluation.comparisons:
        with st.expander("Paired tests between the models"):
            st.dataframe(
                pd.DataFrame([c.to_dict() for c in evaluation.comparisons]),
                hide_index=True,
                width="stretch",
                key="evaluate_comparisons",
            )


def cost(evaluation) -> None:
    """Texts embedded and cached, tokens, requests and time per model."""
    rows = [{"model": r.model, **r.cost} for r in evaluation.results]
    st.subheader("Cost", anchor=False)
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", key="evaluate_cost")


def _flat(value) -> str:
    if isinstance(value, list):
        return " | ".join(_flat(v.get("text", v) if isinstance(v, dict) else v) for v in value)
    return "" if value is None else str(value)


def _failure_frame(result) -> pd.DataFrame:
    return pd.DataFrame([{k: _flat(v) for k, v in f.items()} for f in result.failures])


def failures(evaluation) -> None:
    """The worst items per model, with what the model returned instead; open them on a map."""
    st.subheader("Where the models fail", anchor=False)
    tabs = st.tabs([r.model for r in evaluation.results])
    for i, (tab, result) in enumerate(zip(tabs, evaluation.results, strict=True)):
        with tab:
            if not result.failures:
                st.caption("No failures to show.")
                continue
            st.dataframe(
                _failure_frame(result),
                hide_index=True,
                width="stretch",
                row_height=WRAP_ROW_HEIGHT,
                key=f"evaluate_failures_{i}",
            )
            if st.button(
                "Open these texts in the explorer", key=f"evaluate_open_{i}", icon=":material/scatter_plot:"
            ):
                open_in_explorer(result)


def failure_table(result) -> io.TextTable:
    """The failures' texts, each labelled with its role (the item, what was expected, what came back)."""
    texts, roles = [], []
    for failure in result.failures:
        for role, key in (
            ("item", "query"),
            ("item", "text_a"),
            ("item", "text"),
            ("expected", "text_b"),
            ("expected", "translation"),
            ("expected", "relevant"),
            ("returned instead", "returned_instead"),
        ):
            value = failure.get(key)
            values = value if isinstance(value, list) else [value]
            for v in values:
                text = v.get("text") if isinstance(v, dict) else v
                if isinstance(text, str) and text.strip():
                    texts.append(text)
                    roles.append(role)
    frame = pd.DataFrame({"text": texts, "role": roles}).drop_duplicates("text")
    table = io.table_from_frame(frame, "text", "role")
    table.source = f"evaluation failures: {result.model}"
    return table


def open_in_explorer(result) -> None:
    set_texts(failure_table(result), {"kind": "upload", "name": f"failures of {result.model}"})
    st.switch_page("pages/explorer.py")


def downloads(evaluation) -> None:
    """The results (JSON, CSV) and each model's per-item scores (CSV)."""
    st.subheader("Downloads", anchor=False)
    cols = st.columns(2 + len(evaluation.results))
    stem = f"evaluation-{evaluation.task}"
    cols[0].download_button(
        "Results (JSON)",
        evaluation.to_json(),
        file_name=f"{stem}.json",
        mime="application/json",
        key="evaluate_download_json",
        icon=":material/download:",
    )
    cols[1].download_button(
        "Results (CSV)",
        evaluation.table().to_csv(index=False),
        file_name=f"{stem}.csv",
        mime="text/csv",
        key="evaluate_download_csv",
        icon=":material/download:",
    )
    for i, result in enumerate(evaluation.results):
        items = result.items.copy()
        for column in items.columns:
            if items[column].map(lambda v: isinstance(v, list | dict)).any():
                items[column] = items[column].map(lambda v: json.dumps(v, ensure_ascii=False))
        cols[2 + i].download_button(
            f"Per item: {result.model.rsplit('/', 1)[-1]}",
            items.to_csv(index=False),
            file_name=f"{stem}-items-{i + 1}.csv",
            mime="text/csv",
            key=f"evaluate_download_items_{i}",
            icon=":material/download:",
        )
