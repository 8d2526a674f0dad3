"""AppTest tests of the Evaluate models page (issue 21): built-in sets on the bundled models, the
cost estimate and confirmation for an API model on a real HTTP server (tests/fake_openai.py), and
that what the page shows is what the engine computes on the same vectors."""

from __future__ import annotations

import pytest

from embedcore import evaluation as ev
from embedcore.providers import catalog
from tests.apptest import figures, frame_with, open_page, plain_messages
from tests.fake_openai import TOKEN
from ui.common import state
from ui.common.format import short_model_names
from ui.evaluate import runner

MINILM = f"local|{catalog.MINILM_ID}"
STATIC = f"local|{catalog.MINILM_STATIC_ID}"
BGE = "api|BAAI/bge-m3"
MODELS = [catalog.MINILM_ID, catalog.MINILM_STATIC_ID]


@pytest.fixture
def app(make_app):
    def factory(**kwargs):
        return make_app(timeout=240, **kwargs)

    return factory


def shown(at):
    return at.session_state[runner.SHOWN]["evaluation"] if runner.SHOWN in at.session_state else None


def test_the_page_waits_for_evaluate_with_the_bundled_models_chosen(app):
    at = open_page(app(), "pages/evaluate.py")
    assert not at.error
    assert at.multiselect(key=runner.MODELS).value == [MINILM, STATIC]
    assert "Press **Evaluate**" in plain_messages(at.info)
    assert shown(at) is None  # nothing embedded or scored before the button


@pytest.mark.slow
@pytest.mark.parametrize("kind", ev.TASK_KINDS)
def test_every_builtin_set_evaluates_and_shows_what_the_engine_computes(app, kind):
    at = open_page(app(), "pages/evaluate.py")
    at.radio(key="evaluate_task").set_value(kind).run()
    at.button(key=runner.RUN).click().run()
    assert not at.exception and not at.error, plain_messages(at.error)
    evaluation = shown(at)
    assert evaluation is not None and evaluation.task == kind
    names = [r.model for r in evaluation.results]
    assert names == [short_model_names(MODELS)[m] for m in MODELS]
    # The same vectors through the engine alone give the same numbers the page shows.
    task = ev.load_builtin(kind)
    kept = at.session_state[runner.STORE]
    vectors = {
        name: next(r.vectors for key, r in kept.items() if key[1] == model)
        for name, model in zip(names, MODELS, strict=True)
    }
    again = ev.evaluate_vectors(task, vectors)
    for page_result, engine_result in zip(evaluation.results, again.results, strict=True):
        assert page_result.metrics == pytest.approx(engine_result.metrics, abs=1e-9)
    table = frame_with(at, ev.PRIMARY_METRIC[kind])  # the metrics table: one column per metric
    assert list(table.index) == sorted(names)
    primary = ev.PRIMARY_METRIC[kind]
    assert table.loc[names[0], primary].startswith(f"{evaluation.results[0].metrics[primary]:.3f} [")
    chart = figures(at)[0]  # the metrics with interval whiskers, one trace per model
    assert [trace["name"] for trace in chart["data"]] == names
    verdict = plain_messages(at.markdown)
    assert "scores highest on" in verdict and (
        "better than" in verdict or "no detectable difference" in verdict
    )
    cost = frame_with(at, "embedded")
    assert list(cost["texts"]) == [len(task.texts())] * 2


@pytest.mark.slow
def test_an_api_model_shows_its_cost_and_needs_a_tick_then_costs_nothing_the_second_time(app, fake_openai):
    api = fake_openai(models={"BAAI/bge-m3": 1024}, token=TOKEN)
    at = app(
        secrets={"IONOS_API_TOKEN": TOKEN, "base_url": api.url},
        state={state.PROVIDER_KIND: "custom", state.BASE_URL: api.url},
    )
    open_page(at, "pages/evaluate.py")
    at.multiselect(key=runner.MODELS).set_value([MINILM, BGE]).run()
    estimate = frame_with(at, "to send")
    task = ev.load_builtin("sts")
    texts = len(dict.fromkeys(task.texts()))
    assert list(estimate["model"]) == ["BAAI/bge-m3"]
    assert int(estimate["to send"].iloc[0]) == texts and int(estimate["cached"].iloc[0]) == 0
    assert at.button(key=runner.RUN).disabled  # nothing is sent without the tick
    assert not api.inputs

    at.checkbox(key=runner.CONFIRM).check().run()
    at.button(key=runner.RUN).click().run()
    assert not at.exception and not at.error, plain_messages(at.error)
    assert sum(len(batch) for batch in api.inputs) == texts
    cost = {row["model"]: row for row in frame_with(at, "embedded").to_dict("records")}
    assert cost["bge-m3"]["embedded"] == texts and cost["bge-m3"]["requests"] == int(
        estimate["requests"].iloc[0]
    )

    # Everything is cached now: the page says so, asks for no tick, and a new run sends nothing.
    at.run()
    assert "sends nothing" in plain_messages(at.caption)
    sent = len(api.inputs)
    at.button(key=runner.RUN).click().run()
    assert len(api.inputs) == sent
