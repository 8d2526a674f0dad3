"""Target 6 — drawing a 50,000-point map in headless chromium; heatmap payloads.

The points are real: PCA (via ``embedcore.analysis.projection.project``) of the MiniLM vectors of
50,000 corpus sentences, coloured by their source, with the sentences as hover text. The
figure is ``embedcore.figures.scatter.scatter_figure`` (WebGL ``scattergl`` above 1,000 points);
the peer is the same figure with every trace as SVG ``go.Scatter``
(``webgl_threshold`` raised past the point count).

The page is standalone HTML with plotly.js inlined from the installed plotly package.
The figure JSON reaches the page as a string (``page.evaluate``); the clock starts before
``JSON.parse`` and stops at Plotly's ``plotly_afterplot`` event (we also report two
animation frames later, when the frame has been painted). Each drawing gets a new page.
Chromium is Debian's /usr/bin/chromium with SwiftShader for WebGL (no GPU here).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from tests.browser.chromium import launch_chromium

from .common import Row, fmt_bytes, fmt_s, log
from .corpus import load_texts, load_vectors

#: Longest a single drawing may take before we call it a failure (the SVG peer can be slow).
DRAW_TIMEOUT_S = 180

_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>bench</title>
<script>{plotly_js}</script></head>
<body style="margin:0">
<div id="plot" style="width:1200px;height:800px"></div>
<script>
window.drawFigure = function (jsonText, timeoutMs) {{
  return new Promise(function (resolve, reject) {{
    var div = document.getElementById("plot");
    var t0 = performance.now();
    var fig = JSON.parse(jsonText);
    var tParsed = performance.now();
    var timer = setTimeout(function () {{ reject(new Error("no plotly_afterplot in time")); }}, timeoutMs);
    var done = false;
    function onAfterPlot() {{
      if (done) return;
      done = true;
      var tAfter = performance.now();
      // Two animation frames later the drawn frame has been handed to the compositor.
      requestAnimationFrame(function () {{ requestAnimationFrame(function () {{
        clearTimeout(timer);
        resolve({{parse: tParsed - t0, afterplot: tAfter - t0, painted: performance.now() - t0,
                  webgl: !!div.querySelector("canvas.gl-canvas"),
                  svgPoints: div.querySelectorAll("path.point").length}});
      }}); }});
    }}
    // The listener must exist before the first draw: newPlot on an empty div first.
    Plotly.newPlot(div, [], {{}}).then(function () {{
      div.on("plotly_afterplot", onAfterPlot);
      return Plotly.react(div, fig.data, fig.layout, {{responsive: false}});
    }}).catch(reject);
  }});
}};
</script></body></html>
"""


def _figures(n: int):
    from embedcore.analysis.projection import project
    from embedcore.figures.scatter import scatter_figure

    texts, labels = load_texts(n)
    coords = project(load_vectors(n), "pca")
    webgl = scatter_figure(coords, texts, color=labels, color_title="source")
    svg = scatter_figure(coords, texts, color=labels, color_title="source", webgl_threshold=10 * n)
    assert {t.type for t in webgl.data} == {"scattergl"}, {t.type for t in webgl.data}
    assert {t.type for t in svg.data} == {"scatter"}
    return webgl.to_json(), svg.to_json()


def _draw(browser, page_path: Path, payload: str) -> dict:
    page = browser.new_page(viewport={"width": 1240, "height": 840})
    try:
        page.goto(page_path.as_uri())
        page.wait_for_function("typeof window.drawFigure === 'function'")
        return page.evaluate("([json, ms]) => window.drawFigure(json, ms)", [payload, DRAW_TIMEOUT_S * 1000])
    finally:
        page.close()


def _heatmap_payloads(n_ours: int, n_raw: int) -> dict:
    import plotly.graph_objects as go

    from embedcore import cosine_matrix
    from embedcore.analysis.explore import pairs_frame
    from embedcore.figures.heatmaps import (
        HEATMAP_HARD_LIMIT,
        HEATMAP_LIMIT,
        HeatmapTooLargeError,
        heatmap_figure,
    )

    texts, labels = load_texts(max(n_ours, n_raw))
    X = load_vectors(max(n_ours, n_raw))
    sim = cosine_matrix(X[:n_ours])
    ours = len(heatmap_figure(sim, texts[:n_ours], max_cells_side=min(n_ours, HEATMAP_HARD_LIMIT)).to_json())
    default_n = HEATMAP_LIMIT
    default = len(heatmap_figure(sim[:default_n, :default_n], texts[:default_n]).to_json())
    raw_sim = cosine_matrix(X[:n_raw])
    raw = len(go.Figure(go.Heatmap(z=raw_sim, x=texts[:n_raw], y=texts[:n_raw])).to_json())
    try:
        heatmap_figure(raw_sim, texts[:n_raw], max_cells_side=HEATMAP_HARD_LIMIT)
        refused = False
    except HeatmapTooLargeError:
        refused = True
    # Above the limit the explorer shows the most similar pairs as a table (st.dataframe, which
    # ships an Arrow IPC stream) instead.
    import pyarrow as pa

    frame = pairs_frame(X[:n_raw], texts[:n_raw], labels[:n_raw], n=20, largest=True)
    sink = pa.BufferOutputStream()
    arrow = pa.Table.from_pandas(frame, preserve_index=False)
    with pa.ipc.new_stream(sink, arrow.schema) as writer:
        writer.write_table(arrow)
    return {
        "ours": ours,
        "default": default,
        "default_n": default_n,
        "raw": raw,
        "refused": refused,
        "pairs_bytes": sink.getvalue().size,
        "pairs_rows": len(frame),
    }


def rows(quick: bool = False) -> list[Row]:
    from playwright.sync_api import sync_playwright
    from plotly.offline import get_plotlyjs

    n = 10_000 if quick else 50_000
    repeats = 1 if quick else 3
    webgl_json, svg_json = _figures(n)
    log(f"{n} points: WebGL figure {fmt_bytes(len(webgl_json))}, SVG figure {fmt_bytes(len(svg_json))}")
    with tempfile.TemporaryDirectory(prefix="bench-browser-") as tmp:
        page_path = Path(tmp) / "plot.html"
        page_path.write_text(_PAGE.format(plotly_js=get_plotlyjs()), encoding="utf-8")
        with sync_playwright() as p:
            browser = launch_chromium(p)
            try:
                _draw(browser, page_path, webgl_json)  # the browser's own first-start costs, untimed
                gl_runs, svg_runs = [], []
                for _ in range(repeats):
                    gl_runs.append(_draw(browser, page_path, webgl_json))
                    log(f"WebGL: {gl_runs[-1]}")
                start = time.perf_counter()
                svg_runs.append(_draw(browser, page_path, svg_json))
                log(f"SVG: {svg_runs[-1]} ({time.perf_counter() - start:.1f} s wall)")
            finally:
                browser.close()
    assert all(r["webgl"] for r in gl_runs), "the WebGL figure drew no WebGL canvas"
    gl = statistics.median(r["afterplot"] for r in gl_runs) / 1000
    gl_painted = statistics.median(r["painted"] for r in gl_runs) / 1000
    svg = svg_runs[0]["afterplot"] / 1000

    heat = _heatmap_payloads(300 if quick else 1_000, 2_000)
    return [
        Row(
            f"Browser: {n // 1000}k-point map drawn (JSON in → plotly_afterplot)",
            "same points as SVG go.Scatter",
            fmt_s(gl),
            fmt_s(svg),
            f"{gl / svg:.2f}x time",
            "≤ 3 s",
            gl <= 3,
            [
                f"median of {repeats} fresh pages, headless chromium + SwiftShader WebGL; painted "
                f"(2 frames later) {fmt_s(gl_painted)}; figure JSON {fmt_bytes(len(webgl_json))} "
                f"(SVG {fmt_bytes(len(svg_json))}); SVG drew {svg_runs[0]['svgPoints']} point paths"
            ],
        ),
        Row(
            f"Heatmap payload: embedcore {'300' if quick else '1,000'} texts",
            "raw go.Heatmap of 2,000² cosines",
            fmt_bytes(heat["ours"]),
            fmt_bytes(heat["raw"]),
            f"{heat['ours'] / heat['raw']:.2f}x bytes",
            "—",
            None,
            [
                f"default limit {heat['default_n']} texts: {fmt_bytes(heat['default'])}; above the hard "
                f"limit (2,000 texts) heatmap_figure {'refuses' if heat['refused'] else 'DOES NOT refuse'} "
                f"and the app shows a top-pairs table instead ({heat['pairs_rows']} rows ≈ "
                f"{fmt_bytes(heat['pairs_bytes'])})"
            ],
        ),
    ]
