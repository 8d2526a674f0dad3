"""Every page opens through the shell and embeds against the fake IONOS API (AppTest).

Runs in the normal suite on the installed Streamlit, and in ``make test-floor`` on the oldest
Streamlit requirements.txt allows (its ``streamlit>=`` floor, in a venv of its own): the floor
in pyproject.toml / requirements.txt is the oldest release the app was seen working on. Only
AppTest features that release has are used here.
"""

from __future__ import annotations

import pytest

from tests.apptest import api_app, open_page
from tests.fake_openai import IONOS_MODELS, TOKEN
from ui.common.navigation import ADMIN_PAGES, PAGES

#: Every page a visitor who is not an admin can open.
VISITOR_PAGES = [path for path, *_ in PAGES if path not in ADMIN_PAGES]


@pytest.mark.parametrize("path", VISITOR_PAGES)
def test_every_page_opens_inside_the_shell(make_app, fake_openai, path):
    api = fake_openai(token=TOKEN)
    at = open_page(api_app(make_app, api, TOKEN), path)  # title, no exception, the sidebar panel
    assert at.sidebar.radio(key="conn_provider").value == "custom"
    assert not at.error, [e.value for e in at.error]
    # The page list is ours: one link per visitor page (st.page_link in the sidebar; a page may
    # link to another in its own body, as the empty Saved views page does), no admin page.
    links = [e for e in at.sidebar.get("page_link")]
    assert len(links) == len(VISITOR_PAGES), [str(e.proto) for e in links]


def test_the_embed_page_embeds_through_the_api(make_app, fake_openai):
    api = fake_openai(token=TOKEN)
    at = open_page(api_app(make_app, api, TOKEN), "pages/embed.py")
    at.button(key="embed_run").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    shown = {m.label: m.value for m in at.metric}
    (model,) = {r["body"]["model"] for r in api.requests if r["path"] == "/v1/embeddings"}
    assert shown["Dimensions"] == str(IONOS_MODELS[model])
    assert api.embedded  # the texts went to the API
