"""Plotly figures and display tables: arrays and texts in, figures and DataFrames out (no Streamlit).

One module per figure family: :mod:`~embedcore.figures.scatter` (the map), :mod:`~embedcore.figures.heatmaps`,
:mod:`~embedcore.figures.bars` (rankings, vectors, histograms), :mod:`~embedcore.figures.compare` (two models,
alignment), :mod:`~embedcore.figures.colours` and :mod:`~embedcore.figures.names` (what the map shows),
shared by all: :mod:`~embedcore.figures.style` (palette, template, layout), :mod:`~embedcore.figures.labels`
(escaped user text), :mod:`~embedcore.figures.frozen` (serialise once); :mod:`~embedcore.figures.tables`
builds the display DataFrames.

No Streamlit here: every function returns a :class:`plotly.graph_objects.Figure`
that a page hands to ``st.plotly_chart`` (or a notebook displays).

Conventions shared by every figure
----------------------------------
* One compact template (:data:`TEMPLATE`): system font stack, readable sizes,
  tight margins, the Okabe–Ito colour-blind-safe palette. It replaces Plotly's
  default template, which alone is ~8 kB of JSON per figure. Pass ``theme=None``
  to ``st.plotly_chart`` to keep this look; with Streamlit's theme the trace
  colours (set explicitly here) still survive.
* ``layout.uirevision`` is set (default ``"embedcore"``) so zoom, pan and legend
  toggles survive Streamlit reruns. Pass a new value (e.g. a hash of the
  dataset) when the data changes and the view *should* reset.
* User text is never trusted: Plotly renders a subset of HTML in hover labels,
  tick labels, legend entries and titles, so every user string goes through
  :func:`hover_text` / :func:`short_label`, which escape ``& < >``. A text
  ``<b>x</b>`` shows literally.
* Payloads stay small: coordinates and scores are sent as float32 typed arrays
  (Plotly ≥ 6 writes numpy arrays as base64 ``bdata``, so rounding digits would
  not shrink them; halving the width does), hover text shrinks as the point
  count grows, and a heatmap refuses sizes it cannot show.

Selections
----------
Scatter points carry their **row index** in ``customdata`` (first column).
``point_index`` in a Streamlit/Plotly selection event is the index *within a
trace*, and the scatter draws one trace per category, so it is **not** the row
index. Use :func:`selected_rows` to map an event back to rows.
"""

from __future__ import annotations

# Before plotly (every figure module imports it; this package runs first): plotly uses pandas if
# sys.modules has it, and a half-imported pandas (another thread, e.g. a page, still importing it)
# failed the warm-up once ("partially initialized module 'pandas' has no attribute 'Series'").
# Importing it here waits for that import to end.
import pandas  # noqa: F401
