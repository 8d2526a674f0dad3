"""AppTest tests of the Compare, Semantic search and Across-languages pages.

The bundled models are real (all-MiniLM-L6-v2 and its model2vec distillation). The static
model comes from the one models directory of the run (``make test`` prepares it; see
tests/conftest.py; ``EMBEDCORE_TEST_MODELS_DIR`` names one kept between sessions). The API
path talks to a real HTTP server on 127.0.0.1 (tests/fake_openai.py).
"""

from __future__ import annotations

import re

import pytest

from embedcore.analysis import search
from embedcore.providers import catalog
from tests.apptest import figures, frame_with, metrics, open_page, plain_messages, rendered
from tests.fake_openai import TOKEN
from ui.common import state

MINILM = f"local|{catalog.MINILM_ID}"
STATIC = f"local|{catalog.MINILM_STATIC_ID}"


@pytest.fixture
def app(make_app, app_env):
    """``app(**kw)`` → an AppTest of app.py with a 180 s timeout; the static model is shared
    (``$EMBEDCORE_MODELS_DIR``, set for the whole run in tests/conftest.py)."""

    def factory(**kwargs):
        return make_app(timeout=180, **kwargs)

    return factory


# --- Compare models --------------------------------------------------------------------------------


def stored_results(at) -> dict:
    """The embedding results the Compare page keeps in this session (none before the button)."""
    # AppTest's session state has no .get().
    return at.session_state["compare_results"] if "compare_results" in at.session_state else {}  # noqa: SIM401


def test_compare_page_computes_nothing_until_compare_is_pressed(app):
    at = open_page(app(), "pages/compare.py")
    assert not at.error
    assert at.selectbox(key="compare_model_a").value == MINILM
    assert at.selectbox(key="compare_model_b").value == STATIC
    assert "Press **Compare**" in plain_messages(at.info)
    assert not at.metric and not at.get("plotly_chart")
    assert not stored_results(at)
    # Moving a slider reruns the page: still nothing.
    at.slider(key="compare_k").set_value(3).run()
    assert not at.metric and "compare_shown" not in at.session_state


@pytest.mark.slow
def test_compare_page_shows_minilm_against_the_static_model_on_the_button(app):
    at = open_page(app(), "pages/compare.py")
    at.button(key="compare_run").click().run()
    assert not at.exception and not at.error, plain_messages(at.error)

    shown = metrics(at)
    spearman = float(shown["Spearman (pair similarities)"])
    jaccard = float(shown["Mean Jaccard@5"])
    # Related models (one distilled from the other) agree clearly, but not perfectly.
    assert 0.3 < spearman < 0.99
    assert float(shown["Chance level"]) < jaccard < 1.0

    runs = frame_with(at, "dimensions")
    assert list(runs["dimensions"]) == [384, 256]
    assert (runs["tokens"] > 0).all() and (runs["embedded"] == 100).all()

    specs = figures(at)
    # One figure for the heatmaps: a panel per model on one colour axis (one colour bar).
    heatmaps = [trace for spec in specs for trace in spec["data"] if trace["type"] == "heatmap"]
    assert len(heatmaps) == 2 and {t["coloraxis"] for t in heatmaps} == {"coloraxis"}
    # Both heatmaps share model A's row order.
    assert heatmaps[0]["y"] == heatmaps[1]["y"]
    scatter = next(s for s in specs if s["data"][0]["type"] == "scattergl")
    low, high = scatter["layout"]["xaxis"]["range"]
    assert -1 <= low < high <= 1  # fitted to the cosines, not running to 1.5

    worst = frame_with(at, "jaccard")
    assert len(worst) == 15 and list(worst["jaccard"]) == sorted(worst["jaccard"])
    # Jaccard = shared / (2k - shared), so the two columns must agree.
    for j, shared in zip(worst["jaccard"], worst["shared"], strict=True):
        assert shared == f"{round(10 * j / (1 + j))} of 5"
    # The neighbours of the worst text under each model, side by side (5 each).
    lists = [t.value for t in at.dataframe if "neighbour" in t.value.columns]
    assert len(lists) == 2 and all(len(frame) == 5 for frame in lists)
    assert list(lists[0]["shared"]) == [n in set(lists[1]["neighbour"]) for n in lists[0]["neighbour"]]

    # Reading the result (more rows listed) does not compare again, and keeps it on screen.
    first = at.session_state["compare_shown"]
    at.slider(key="compare_top").set_value(20).run()
    assert at.session_state["compare_shown"] is first and len(frame_with(at, "jaccard")) == 20

    # A third model (the same static one): the old result stays, marked, until Compare is pressed;
    # then a pairs table appears and nothing is embedded twice.
    at.toggle(key="compare_use_c").set_value(True).run()
    assert (
        "earlier choice" in plain_messages(at.info)
        and metrics(at)["Spearman (pair similarities)"] == f"{spearman:.3f}"
    )
    stored = dict(stored_results(at))
    at.button(key="compare_run").click().run()
    assert not at.exception and not at.error
    assert "earlier choice" not in plain_messages(at.info)
    assert len(frame_with(at, "pairs compared")) == 3
    assert all(at.session_state["compare_results"][key] is result for key, result in stored.items())


@pytest.mark.slow
def test_compare_page_same_model_twice_agrees_perfectly(app):
    at = app(state={"compare_model_b": MINILM})
    open_page(at, "pages/compare.py")
    at.button(key="compare_run").click().run()
    assert not at.error
    shown = metrics(at)
    assert shown["Spearman (pair similarities)"] == "1.000"
    assert shown["Mean Jaccard@5"] == "1.000"
    assert "same model appears twice" in plain_messages(at.caption)


# --- Semantic search ---------------------------------------------------------------------------------


def _search(at, query: str, k: int = 5):
    at.text_input(key="search_query").input(query)
    at.number_input(key="search_k").set_value(k)
    at.button(key="search_go").click().run()
    assert not at.exception, at.exception
    return at


@pytest.mark.slow
def test_search_page_sample_collection_search_persist_and_delete(app, app_env):
    import streamlit as st

    at = open_page(app(), "pages/search.py")
    assert not at.error
    assert "No collections yet" in plain_messages(at.info)
    assert at.selectbox(key="search_model").value == MINILM

    at.button(key="search_sample").click().run()
    assert not at.exception and not at.error, plain_messages(at.error)
    assert at.selectbox(key="search_collection").value == search.SAMPLE_COLLECTION
    assert f"Built **{search.SAMPLE_COLLECTION}**" in plain_messages(at.success)
    collection = frame_with(at, "chunking").iloc[0]
    assert collection["model"] == catalog.MINILM_ID and collection["documents"] == 5
    n_chunks = int(collection["chunks"])
    assert n_chunks > 20

    _search(at, "baking bread in the oven", k=4)
    assert not at.error
    hits = frame_with(at, "rank")
    assert list(hits["rank"]) == [1, 2, 3, 4]
    assert hits.loc[0, "source"] == "cooking.txt"
    assert list(hits["score"]) == sorted(hits["score"], reverse=True)
    assert {"chunk", "characters", "text"} <= set(hits.columns)
    # The best hit is shown in full below the table (the grid wraps, but may still cut a long chunk).
    assert hits.loc[0, "text"] in [t.value for t in at.text]
    assert f"**1.** {hits.loc[0, 'source']}" in plain_messages(at.markdown)

    # Asked for every chunk: those with nothing in common with the query (cosine <= 0) are left out.
    _search(at, "baking bread in the oven", k=50)
    everything = frame_with(at, "rank")
    assert (everything["score"] > 0).all()
    left_out = 50 - len(everything)
    assert left_out > 0, "some sample chunks should be unrelated to baking"
    assert f"Of the 50 nearest chunks, {left_out} chunks scored 0 or less" in plain_messages(at.caption)

    # The map: one trace per document, the results outlined, the query as a star.
    spec = figures(at)[-1]
    traces = {t.get("name"): t for t in spec["data"]}
    assert {"cooking.txt", "space.txt", "neighbours", "query"} <= set(traces)
    assert traces["neighbours"]["marker"]["color"] == "#111111"  # visible outlines
    outlined = traces["neighbours"]["customdata"]
    assert len(outlined["bdata"] if isinstance(outlined, dict) else outlined) > 0

    # A new session after a restart (caches dropped): the collection is read back from disk.
    st.cache_resource.clear()
    st.cache_data.clear()
    again = open_page(app(), "pages/search.py")
    assert not again.error
    assert again.selectbox(key="search_collection").value == search.SAMPLE_COLLECTION
    assert int(frame_with(again, "chunking").iloc[0]["chunks"]) == n_chunks
    _search(again, "rockets and astronauts", k=3)
    assert frame_with(again, "rank").loc[0, "source"] == "space.txt"
    assert (app_env / "collections.sqlite3").is_file()

    # Delete asks first, then removes it for good.
    again.button(key="search_delete").click().run()
    assert "cannot be undone" in plain_messages(again.warning)
    assert again.selectbox(key="search_collection").value == search.SAMPLE_COLLECTION
    again.button(key="search_delete_yes").click().run()
    assert not again.exception and not again.error
    assert f"Deleted **{search.SAMPLE_COLLECTION}**" in plain_messages(again.success)
    assert "No collections yet" in plain_messages(again.info)
    from embedcore.stores.collections import CollectionStore

    with CollectionStore(app_env / "collections.sqlite3") as store:
        assert store.list() == []


@pytest.mark.slow
def test_search_page_says_when_the_model_differs_and_reembeds(app):
    at = open_page(app(), "pages/search.py")
    at.button(key="search_sample").click().run()
    assert not at.error

    at.selectbox(key="search_model").set_value(STATIC).run()
    assert not at.exception
    text = plain_messages(at.warning)
    assert f"was embedded with {catalog.MINILM_ID}" in text and catalog.MINILM_STATIC_ID in text
    assert at.button(key="search_go").disabled

    at.button(key="search_reembed").click().run()
    assert not at.exception and not at.error
    new_name = f"{search.SAMPLE_COLLECTION} · all-MiniLM-L6-v2-static (model2vec)"
    assert at.selectbox(key="search_collection").value == new_name
    assert at.selectbox(key="search_model").value == STATIC
    assert "Re-embedded into" in plain_messages(at.success)
    _search(at, "football match", k=3)
    assert not at.error and frame_with(at, "rank").loc[0, "source"] == "sports.txt"

    # Back to the original: the model follows the collection.
    at.selectbox(key="search_collection").set_value(search.SAMPLE_COLLECTION).run()
    assert at.selectbox(key="search_model").value == MINILM
    assert not any("was embedded with" in w.value for w in at.warning)


@pytest.mark.slow
def test_search_page_builds_a_collection_from_uploads_and_reports_bad_files(app):
    at = open_page(app(), "pages/search.py")
    build = "search_build"
    bad = ("scan.pdf", b"%PDF-1.4 not a pdf", "application/pdf")
    at.file_uploader(key="search_files").set_value([bad])
    at.text_input(key="search_new_name").input("Manuals")
    at.button(key=build).click().run()
    assert not at.exception and not at.error
    assert "scan.pdf" in plain_messages(at.warning) and "None of the files could be read" in plain_messages(
        at.warning
    )
    # The refused file left the uploader (a fresh one); the name typed is kept.
    assert [u.key for u in at.get("file_uploader")] == ["search_files-1"]
    assert not at.file_uploader(key="search_files-1").value
    assert at.text_input(key="search_new_name").value == "Manuals"

    notes = b"# Boiler\n\nBleed the radiators once a year.\n\nThe boiler pressure should be 1.5 bar."
    faq = b"question,answer\nHow do I reset the router?,Hold the reset button for ten seconds.\n"
    at.file_uploader(key="search_files-1").set_value(
        [bad, ("boiler.md", notes, "text/markdown"), ("faq.csv", faq, "text/csv")]
    )
    at.number_input(key="search_chunk_size").set_value(10)
    at.number_input(key="search_overlap").set_value(2)
    at.button(key=build).click().run()
    assert not at.exception and not at.error, plain_messages(at.error)
    assert at.selectbox(key="search_collection").value == "Manuals"
    assert "Built **Manuals**" in plain_messages(at.success) and "scan.pdf" in plain_messages(at.warning)
    assert "scan\\.pdf" in at.warning[0].value  # user file names are escaped, never markdown
    assert "None of the files could be read" not in plain_messages(at.warning)
    collection = frame_with(at, "chunking").iloc[0]
    assert collection["documents"] == 2 and collection["chunking"] == "10 words, overlap 2"
    # Built: the form starts empty again (its settings stay).
    new_files = [u for u in at.get("file_uploader") if u.key.startswith("search_files")]
    assert [u.key for u in new_files] == ["search_files-2"] and not new_files[0].value
    assert at.text_input(key="search_new_name-1").value == ""
    assert at.number_input(key="search_chunk_size").value == 10

    _search(at, "radiator heating pressure", k=2)
    assert frame_with(at, "rank").loc[0, "source"] == "boiler.md"
    # More documents go into the same collection, with its own model and chunk sizes.
    more = b"The water heater thermostat is set to 60 degrees to prevent legionella."
    at.file_uploader(key="search_add_files").set_value([("heater.txt", more, "text/plain")])
    at.button(key="search_add").click().run()
    assert not at.exception and not at.error, plain_messages(at.error)
    assert "Added to **Manuals**" in plain_messages(at.success)
    assert not at.file_uploader(key="search_add_files-1").value  # added: that form is empty again
    collection = frame_with(at, "chunking").iloc[0]
    assert collection["documents"] == 3 and collection["chunking"] == "10 words, overlap 2"
    _search(at, "hot water temperature", k=1)
    assert frame_with(at, "rank").loc[0, "source"] == "heater.txt"

    # The same name again is refused, and nothing on screen is lost: not the form, not the results.
    uploader = next(u.key for u in at.get("file_uploader") if u.key.startswith("search_files"))
    at.file_uploader(key=uploader).set_value([("boiler.md", notes, "text/markdown")])
    name_key = next(t.key for t in at.text_input if t.key.startswith("search_new_name"))
    at.text_input(key=name_key).input("Manuals")
    at.button(key=build).click().run()
    assert "exists already" in plain_messages(at.warning)
    assert frame_with(at, "rank").loc[0, "source"] == "heater.txt"
    assert at.text_input(key=name_key).value == "Manuals"
    assert [f.name for f in at.file_uploader(key=uploader).value] == ["boiler.md"]


# --- Across languages --------------------------------------------------------------------------------


@pytest.mark.slow
def test_languages_page_scores_the_multilingual_sample_with_minilm(app):
    at = open_page(app(), "pages/languages.py")
    assert not at.error, plain_messages(at.error)
    assert at.selectbox(key="languages_model").value == MINILM
    assert "trained on English only" in plain_messages(at.info)
    assert "**140** texts · 20 sentences · 7 languages" in plain_messages(at.caption)

    shown = metrics(at)
    score = float(shown["Alignment score"].rstrip("%")) / 100
    chance = float(shown["Chance level"].rstrip("%")) / 100
    assert chance < score < 1.0  # better than chance, far from a multilingual model
    assert float(shown["Cosine · translations"]) > float(shown["Cosine · other sentences"])

    pairs, scatter = figures(at)[:2]
    assert pairs["data"][0]["type"] == "heatmap" and pairs["data"][0]["x"] == [
        "de",
        "en",
        "es",
        "fr",
        "it",
        "nl",
        "pt",
    ]
    names = [t.get("name") for t in scatter["data"]]
    assert names[0] == "translations" and {"en", "de", "fr"} <= set(names)

    per_sentence = frame_with(at, "similarity")
    assert len(per_sentence) == 20 and {"en", "de", "nl"} <= set(per_sentence.columns)
    assert list(per_sentence["accuracy"]) == sorted(per_sentence["accuracy"])
    worst = frame_with(at, "mistakes")
    assert len(worst) == 10 and worst.loc[0, "mistakes"] > 0
    assert worst.loc[0, "text"] in per_sentence["text"].tolist()
    # What the worst sentence's versions found instead of their translations.
    detail = frame_with(at, "found instead")
    assert len(detail) == worst.loc[0, "mistakes"]
    assert set(detail["from"]) <= {"en", "de", "fr", "es", "it", "pt", "nl"}


@pytest.mark.slow
def test_languages_page_reads_an_uploaded_table(app):
    at = open_page(app(), "pages/languages.py")
    at.radio(key="languages_source").set_value("upload").run()
    csv = (
        b"pair,lang,sentence\n"
        b"1,en,Good morning\n1,de,Guten Morgen\n1,fr,Bonjour\n"
        b"2,en,Thank you very much\n2,de,Vielen Dank\n2,fr,Merci beaucoup\n"
        b"3,en,Where is the station?\n3,,Wo ist der Bahnhof?\n"
    )
    at.file_uploader(key="languages_upload").upload("pairs.csv", csv, "text/csv").run()
    assert not at.exception and not at.error
    assert at.selectbox(key="languages_text_col").value == "sentence"
    assert at.selectbox(key="languages_sentence_id_col").value == "pair"
    assert at.selectbox(key="languages_language_col").value == "lang"
    assert "**7** texts · 3 sentences · 3 languages" in plain_messages(at.caption)
    assert "without a sentence id or language" in plain_messages(at.caption)

    # One column for two roles is a clear warning, not a crash.
    at.selectbox(key="languages_sentence_id_col").set_value("lang").run()
    assert not at.exception and "three different columns" in plain_messages(at.warning)


@pytest.mark.slow
def test_languages_page_refuses_an_unreadable_upload_and_starts_the_uploader_afresh(app):
    at = open_page(app(), "pages/languages.py")
    at.radio(key="languages_source").set_value("upload").run()
    at.file_uploader(key="languages_upload").upload("pairs.csv", b"\x00\x01binary\x00", "text/csv").run()
    assert not at.exception and not at.error
    assert "pairs.csv is not a text file" in plain_messages(at.warning)
    # The refused file is gone from the uploader (a new widget, no type filter), the reason stays.
    uploaders = at.get("file_uploader")
    assert [u.key for u in uploaders] == ["languages_upload-1"] and not uploaders[0].value
    assert not uploaders[0].proto.type
    at.run()
    assert "pairs.csv is not a text file" in plain_messages(at.warning)

    # A good file in the fresh uploader is read, and the old reason goes.
    csv = b"pair,lang,sentence\n1,en,Good morning\n1,de,Guten Morgen\n2,en,Thank you\n2,de,Danke\n"
    at.file_uploader(key="languages_upload-1").upload("pairs.csv", csv, "text/csv").run()
    assert not at.exception and "not a text file" not in plain_messages(at.warning)
    assert "**4** texts · 2 sentences · 2 languages" in plain_messages(at.caption)


# --- an OpenAI-compatible endpoint -------------------------------------------------------------------

API_DIMS = {"BAAI/bge-m3": 1024, "sentence-transformers/paraphrase-multilingual-mpnet-base-v2": 768}


def _api_state(url: str) -> dict:
    return {state.PROVIDER_KIND: "custom", state.BASE_URL: url, state.MODEL: "BAAI/bge-m3"}


def test_languages_page_explains_a_refused_token(app, fake_openai):
    api = fake_openai(models=API_DIMS, token="the-right-token")
    at = app(secrets={"IONOS_API_TOKEN": "a-wrong-token", "base_url": api.url}, state=_api_state(api.url))
    open_page(at, "pages/languages.py")
    assert "refused the API token" in plain_messages(at.sidebar.error) and "HTTP 401" in plain_messages(
        at.sidebar.error
    )
    # The API model is preferred for this page, and nothing is sent before the button.
    assert at.selectbox(key="languages_model").value == "api|BAAI/bge-m3"
    assert "Press **Measure alignment**" in plain_messages(at.info)
    assert 140 not in [len(batch) for batch in api.inputs]

    at.button(key="languages_run").click().run()
    assert not at.exception
    assert "refused the API token" in plain_messages(at.main.error) and "HTTP 401" in plain_messages(
        at.main.error
    )
    assert "Traceback" not in rendered(at) and "a-wrong-token" not in rendered(at)
    assert not at.metric  # nothing pretends to be a result
    # What was on screen stays: the texts and the choice of model.
    assert "**140** texts" in plain_messages(at.caption)
    assert at.selectbox(key="languages_model").value == "api|BAAI/bge-m3"


@pytest.mark.slow
def test_compare_page_mixes_a_bundled_and_an_api_model(app, fake_openai):
    api = fake_openai(models=API_DIMS, token=TOKEN)
    at = app(secrets={"IONOS_API_TOKEN": TOKEN, "base_url": api.url}, state=_api_state(api.url))
    open_page(at, "pages/compare.py")
    labels = set(at.selectbox(key="compare_model_b").options)
    # Short names: the source is named only when two sources serve the same model.
    assert {"bge-m3", catalog.MINILM_ID.rsplit("/", 1)[-1], catalog.MINILM_STATIC_ID} <= labels

    at.selectbox(key="compare_model_b").set_value("api|BAAI/bge-m3").run()
    assert "Press **Compare**" in plain_messages(at.info)  # every model waits for the button
    assert not api.inputs
    assert not stored_results(at)

    at.button(key="compare_run").click().run()
    assert not at.exception and not at.error, plain_messages(at.error)
    runs = frame_with(at, "dimensions")
    assert list(runs["dimensions"]) == [384, 1024]
    assert list(runs["served by"]) == ["bundled", "127.0.0.1"]
    assert sum(len(batch) for batch in api.inputs) == 100
    # Random fixture vectors share no structure with MiniLM's: agreement is near zero.
    assert abs(float(metrics(at)["Spearman (pair similarities)"])) < 0.2


def test_md_escape_keeps_user_text_literal():
    from ui.common.format import md_escape

    raw = "![x](https://host/pixel.png) **bold** `code` :material/home: a_b"
    escaped = md_escape(raw)
    assert "![" not in escaped and "**" not in escaped and ":material/home:" not in escaped
    assert re.sub(r"\\(.)", r"\1", escaped) == raw
