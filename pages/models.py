"""Models: what the current provider serves, with what we know about each model, and a quick try."""

from __future__ import annotations

import streamlit as st

from embedcore.figures.tables import first_values, models_frame, vector_summary
from ui.common.connection import available_models, current_connection, current_model
from ui.common.embedding import embed_button, embed_texts, load_model
from ui.common.errors import friendly_errors
from ui.common.format import md_escape
from ui.common.navigation import ensure_routed
from ui.common.static_build import show_build_stopped
from ui.common.tables import text_width

ensure_routed()  # first: Streamlit may have run this file without app.py (ui.common.navigation)

#: Below this a "load" only found the model already in memory.
LOADED_ALREADY_S = 0.05

st.title("Models", anchor=False)
conn = current_connection()
st.caption(
    "The models the selected provider serves, with dimensions, input limits and languages from "
    "our catalogue. Change the provider in the sidebar."
)

models = []
with friendly_errors():
    models = available_models(conn)

if models:
    table = models_frame(models, include_catalogue=conn.kind != "local")
    # The descriptions are prose: in the grid they were cut to a line, pushed the grid past the
    # page's width and showed their markdown raw. They are read below it instead.
    descriptions = table.pop("description")
    st.dataframe(
        table,
        key="models_table",
        hide_index=True,
        width="stretch",
        # Unknown facts show as a dash, not "None".
        placeholder="—",
        column_config={
            # As wide as the longest id: ids are copied into API calls, so never cut.
            "id": st.column_config.TextColumn("Model", width=text_width(table["id"])),
            "dimensions": st.column_config.NumberColumn("Dimensions", format="%d"),
            "max_input_tokens": st.column_config.NumberColumn(
                "Max input tokens",
                format="%d",
                help="Longer texts are truncated or refused. — : no fixed limit (static models) or not known.",
            ),
            "languages": st.column_config.TextColumn("Languages"),
            "normalized": st.column_config.CheckboxColumn(
                "Normalised", help="Unit-length vectors: a dot product equals the cosine."
            ),
            "served": st.column_config.CheckboxColumn("Served", help="Listed by the endpoint right now."),
        },
    )
    st.markdown(
        "\n".join(
            f"- **{md_escape(model)}** — {text}"  # our catalogue's own markdown
            for model, text in zip(table["id"], descriptions, strict=True)
            if text
        )
    )

    st.subheader("Try it", anchor=False)
    ids = [m.id for m in models]
    if st.session_state.get("models_try_model") not in ids:
        st.session_state["models_try_model"] = current_model() if current_model() in ids else ids[0]
    with st.form("models_try"):
        sentence = st.text_input(
            "One sentence", value="Embeddings map texts to points in space.", key="models_try_text"
        )
        model = st.selectbox("Model", ids, key="models_try_model")
        submitted = embed_button("Embed it", form=True, type="primary", icon=":material/bolt:")
    show_build_stopped()
    if submitted:
        with friendly_errors():
            # Timed apart: a local model loads once per server process, and that is not the
            # embedding's time (a first try measured 7.5 s "embedding").
            load_seconds = load_model(model)
            # reuse=False: through the provider's cache, so "From cache" says what happened.
            result = embed_texts([sentence], model=model, store="models_try_results", reuse=False)
            st.session_state["models_try_result"] = (sentence, result, load_seconds)
    tried = st.session_state.get("models_try_result")
    if tried is not None:
        sentence, result, load_seconds = tried
        stats = vector_summary(result.vectors[0])
        cols = st.columns(6)
        cols[0].metric("Dimensions", result.dimensions)
        cols[1].metric("Norm", f"{stats['norm']:.4f}")
        cols[2].metric(
            "Embedding time",
            f"{result.elapsed * 1000:.0f} ms",
            help="This sentence only: a model load (below, once per server) is not counted.",
        )
        if load_seconds is None:
            load = "—"  # an API: its models are loaded on its servers
        elif load_seconds < LOADED_ALREADY_S:
            load = "0 s"  # already in memory
        else:
            load = f"{load_seconds:.1f} s"
        cols[3].metric(
            "Model load",
            load,
            help="Once per server process, before the first embedding: 0 s when the model was already "
            "in memory; — for an API (its models run on its servers).",
        )
        cols[4].metric("Tokens", result.total_tokens or "—")
        cols[5].metric("From cache", "yes" if result.cached else "no")
        st.caption(f"{md_escape(result.model)} · first values of the vector for “{md_escape(sentence)}”")
        st.code(first_values(result.vectors[0]), language=None)
