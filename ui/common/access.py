"""The gate in front of every page: wrong settings, sign-in, the access rules.

app.py calls :func:`require_access` once, before it draws anything of the app. Three outcomes:

- the settings are wrong (``embedcore.settings``): one message naming the key, and the run stops
  — an ``[auth]`` Streamlit could not use must never leave the app open;
- ``[auth]`` is set and nobody is signed in: the sign-in screen (Streamlit's ``st.login``, one
  button per provider), and the run stops;
- signed in, but ``[access]`` does not let this address in: who they are, why not, Sign out —
  and the run stops.

Otherwise the run goes on: without ``[auth]`` exactly as before (the open demo), with it for a
person ``[access]`` admits; :func:`render_account` then shows who is signed in in the sidebar.

Every page passes through here, deep links included: ``ui.common.navigation.ensure_routed`` runs app.py
around a page file Streamlit ran alone, so the gate runs before that page draws anything.

After sign-in Streamlit always returns to the app's root (its ``/oauth2callback`` handler
redirects there). A deep link is brought back by the browser: the sign-in screen keeps the
path in the tab's ``sessionStorage`` and the first signed-in run of the root goes there
(:func:`_remember_deep_link`; :func:`_return_to_deep_link`, drawn by :func:`render_account`).
"""

from __future__ import annotations

import html
import json
import logging
import re

import streamlit as st

from embedcore.errors import ConfigurationError
from embedcore.settings import AccessDecision, AuthSettings
from ui.common.format import md_escape
from ui.common.settings import app_settings, auth_settings, check_operator_settings
from ui.common.visitor import signed_in_email

logger = logging.getLogger(__name__)

#: Title of every screen the gate draws (the app's own name: the visitor knows where they are).
APP_TITLE = "Embedding Explorer"
#: Provider section names shown as their owners write them.
_PROVIDER_NAMES = {"github": "GitHub", "auth0": "Auth0", "microsoft": "Microsoft", "google": "Google"}
#: sessionStorage key of the page a visitor asked for before signing in.
_DEEP_LINK_KEY = "embedcore-after-sign-in"
#: Settings messages already written to the server log (once each per process, not every run).
_logged: set[str] = set()
# Every operator setting the secrets leave unset is read from one of these (embedcore.settings);
# the budget's are named as a family (EMBEDCORE_BUDGET_*), star included.
_ENVIRONMENT_VARIABLE = re.compile(r"\bEMBEDCORE_[A-Z_]+\*?")


def provider_label(provider: str) -> str:
    """The button text for ``st.login(provider)``: "Sign in", or "Sign in with Google"."""
    if provider == "default":
        return "Sign in"
    return f"Sign in with {_PROVIDER_NAMES.get(provider.lower(), provider.replace('-', ' ').title())}"


def _email_verified() -> bool | None:
    """The provider's ``email_verified`` claim (some send it as a string), None when absent."""
    try:
        value = st.user.get("email_verified")
    except Exception:
        return None
    if isinstance(value, str):
        return value.strip().lower() != "false"
    return None if value is None else bool(value)


def _signed_in_as(prefix: str, who: str, end: str = "", *, small: bool = False) -> None:
    """Write ``prefix`` and ``who`` in bold, as HTML rather than markdown.

    Streamlit's markdown turns every email address into a blue ``mailto:`` link (escaping the
    ``@`` or writing ``&#64;`` does not stop it).
    """
    style = "margin:0;font-size:0.875rem;opacity:0.75" if small else "margin:0"
    st.html(
        f'<p style="{style}">{html.escape(prefix)} <strong>{html.escape(who)}</strong>{html.escape(end)}</p>'
    )


def _is_logged_in() -> bool:
    try:
        return bool(st.user.get("is_logged_in", False))
    except Exception:
        return False


def require_access() -> None:
    """Stop the run unless this visitor may use the app (see the module's docstring)."""
    try:
        check_operator_settings()
        settings = app_settings()
    except ConfigurationError as exc:  # SettingsError, a wrong [budget], a wrong cache cap
        _settings_error(exc)
        st.stop()
    auth: AuthSettings | None = settings["auth"]
    if auth is None:
        return
    if not _is_logged_in():
        _sign_in_screen(auth)
        st.stop()
    email = signed_in_email()
    decision = settings["access"].decide(email, email_verified=_email_verified())
    if not decision.allowed:
        _refused_screen(email, decision)
        st.stop()


def _settings_error(exc: ConfigurationError) -> None:
    message = str(exc)
    if message not in _logged:  # the operator reads the log; once per message and process
        _logged.add(message)
        logger.error("The app is closed until its settings are fixed: %s", message)
    st.title(APP_TITLE)
    st.error(md_escape(message), icon=":material/settings_alert:")
    variable = _ENVIRONMENT_VARIABLE.search(message)
    if variable:  # the secrets did not set it, so the server's environment did
        where = (
            f"in the server's environment (`{variable.group()}`), or by setting it in "
            "`.streamlit/secrets.toml`, which comes first"
        )
    else:
        where = "in `.streamlit/secrets.toml` (on Streamlit Community Cloud: the app's Settings → Secrets)"
    st.caption(
        f"The app stays closed until this is fixed {where}. The README's “Hosting for many” "
        "shows each setting."
    )


def _narrow():
    """A centred column for the gate's short screens (the page is laid out wide for the app)."""
    return st.columns([1, 2, 1])[1]


def _sign_in_screen(auth: AuthSettings) -> None:
    with _narrow():
        st.title(APP_TITLE)
        st.write("Sign in to explore text embeddings.")
        for provider in auth.providers:
            if st.button(
                provider_label(provider),
                key=f"auth_sign_in_{provider}",
                type="primary",
                icon=":material/login:",
            ):
                st.login(provider)
        st.caption(
            "Signing in takes you to your identity provider's page and back here. The app reads your "
            "email address there to decide whether you may enter."
        )
        _remember_deep_link()  # last: the script's empty element adds its gap below, not above


def _refused_screen(email: str | None, decision: AccessDecision) -> None:
    with _narrow():
        st.title(APP_TITLE)
        if email:
            _signed_in_as("You are signed in as", email, ".")
        else:
            st.write("You are signed in with an account that has no email address.")
        st.error(md_escape(decision.reason), icon=":material/block:")
        st.write(
            "Sign out and sign in with another account, or ask whoever runs this app to add your address."
        )
        _sign_out_button("auth_refused_sign_out")


def _sign_out_button(key: str) -> None:
    if st.button("Sign out", key=key, icon=":material/logout:"):
        st.logout()
        st.stop()


def render_account() -> None:
    """Who is signed in, and Sign out, in the sidebar (nothing when sign-in is not configured)."""
    # app.py calls this after require_access(), so the settings are known to be readable here.
    if auth_settings() is None or not _is_logged_in():
        return
    email = signed_in_email()
    name = st.user.get("name")
    with st.sidebar:
        _signed_in_as(
            "Signed in as", email or (str(name) if name else "an account without an address"), small=True
        )
        _sign_out_button("auth_sign_out")
        # Drawn on every run, in the sidebar: an element that appeared on the first run only
        # would move the page up by its gap on the next.
        _return_to_deep_link()
        st.divider()


# --- deep links across the sign-in ------------------------------------------------------------


def _remember_deep_link() -> None:
    """Keep the page the visitor asked for (``/search``) in the tab, for after the sign-in round trip."""
    # The path is read in the browser (st.context.url has it too, but the tab's sessionStorage is the
    # one place that survives the provider's pages); only same-origin relative paths are kept.
    base = str(st.get_option("server.baseUrlPath") or "").strip("/")
    root = f"/{base}/" if base else "/"
    st.html(
        f"""<script>
        (() => {{
          const key = {json.dumps(_DEEP_LINK_KEY)}, root = {json.dumps(root)};
          const path = window.location.pathname;
          // A page, or the root with a view in its query string (a shared link, issue 22).
          if (path.replace(/\\/?$/, "/") !== root || window.location.search)
            sessionStorage.setItem(key, path + window.location.search);
          else sessionStorage.removeItem(key);
        }})();
        </script>""",
        unsafe_allow_javascript=True,
    )


def _return_to_deep_link() -> None:
    """Signed in: go to the page remembered before sign-in, if any, once (the script forgets it)."""
    st.html(
        f"""<script>
        (() => {{
          const key = {json.dumps(_DEEP_LINK_KEY)};
          const path = sessionStorage.getItem(key);
          sessionStorage.removeItem(key);
          if (!path) return;
          // Only a page of this app: never another origin, whatever the storage holds.
          const target = new URL(path, window.location.origin);
          if (target.origin === window.location.origin) window.location.replace(target.href);
        }})();
        </script>""",
        unsafe_allow_javascript=True,
    )
