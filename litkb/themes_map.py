"""The themes map: one self-contained HTML file (inline SVG, a few lines of JS, no network)."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import median

from .themes import Theme

WIDTH, HEIGHT, MARGIN = 1000, 700, 30
PALETTE = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd",
    "#e6550d", "#31a354", "#756bb1", "#636363",
]  # fmt: skip


@dataclass
class MapPoint:
    title: str
    year: int | None
    theme: int


def colour(theme_id: int) -> str:
    return PALETTE[(theme_id - 1) % len(PALETTE)]


def render_map(points: Sequence[MapPoint], xy: Sequence[Sequence[float]], themes: Sequence[Theme]) -> str:
    """An HTML page drawing every point, coloured by theme, labels at each theme's middle, titles on hover."""
    xs = [p[0] for p in xy] or [0.0]
    ys = [p[1] for p in xy] or [0.0]
    span_x = (max(xs) - min(xs)) or 1.0
    span_y = (max(ys) - min(ys)) or 1.0

    def sx(x: float) -> float:
        return MARGIN + (x - min(xs)) / span_x * (WIDTH - 2 * MARGIN)

    def sy(y: float) -> float:
        return MARGIN + (y - min(ys)) / span_y * (HEIGHT - 2 * MARGIN)

    circles = []
    for point, (x, y) in zip(points, xy, strict=True):
        hover = point.title + (f" ({point.year})" if point.year else "")
        circles.append(
            f'<circle class="paper" cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="4" fill="{colour(point.theme)}" '
            f'data-theme="{point.theme}"><title>{html.escape(hover)}</title></circle>'
        )
    labels = []
    legend = []
    for theme in themes:
        members = [(sx(x), sy(y)) for p, (x, y) in zip(points, xy, strict=True) if p.theme == theme.id]
        count = len(members)
        legend.append(
            f'<li><span class="swatch" style="background:{colour(theme.id)}"></span>'
            f"{theme.id}. {html.escape(theme.label)} ({count})</li>"
        )
        if members:
            mx, my = median(m[0] for m in members), median(m[1] for m in members)
            labels.append(
                f'<text class="label" x="{mx:.1f}" y="{my:.1f}" text-anchor="middle">'
                f"{theme.id}. {html.escape(theme.label)}</text>"
            )
    return _PAGE.format(
        count=len(points),
        k=len(themes),
        width=WIDTH,
        height=HEIGHT,
        circles="\n".join(circles),
        labels="\n".join(labels),
        legend="\n".join(legend),
    )


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>litkb themes: {count} papers, {k} themes</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1em; color: #222; }}
svg {{ border: 1px solid #ddd; background: #fff; max-width: 100%; height: auto; }}
circle.paper {{ opacity: 0.75; stroke: #fff; stroke-width: 0.5; }}
circle.paper:hover {{ opacity: 1; stroke: #000; stroke-width: 1.5; }}
text.label {{ font-size: 13px; font-weight: 600; paint-order: stroke; stroke: #fff; stroke-width: 4px;
  pointer-events: none; }}
#info {{ min-height: 1.5em; margin: 0.5em 0; font-weight: 600; }}
ul {{ list-style: none; padding: 0; columns: 2; }}
.swatch {{ display: inline-block; width: 0.8em; height: 0.8em; margin-right: 0.4em; border-radius: 50%; }}
</style>
</head>
<body>
<h1>Themes: {count} papers, {k} themes</h1>
<div id="info">Hover over a paper to see its title.</div>
<svg id="map" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img">
{circles}
{labels}
</svg>
<ul>
{legend}
</ul>
<script>
(function () {{
  var info = document.getElementById("info");
  document.getElementById("map").addEventListener("mouseover", function (event) {{
    var target = event.target;
    if (target.classList && target.classList.contains("paper")) {{
      info.textContent = "Theme " + target.getAttribute("data-theme") + ": " + target.textContent;
    }}
  }});
}})();
</script>
</body>
</html>
"""
