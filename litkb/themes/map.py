"""The themes map: one self-contained HTML file (inline SVG, a few lines of JS; it loads nothing, and a
point links to its paper's own page)."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import median
from typing import TYPE_CHECKING

from .cluster import centred
from .themeset import Area, Theme

if TYPE_CHECKING:
    import numpy as np

WIDTH, HEIGHT, MARGIN = 1400, 860, 40
LABEL_FONT = 13  # px; a character is about 0.58 of it wide in the sans-serif fonts browsers use
CHAR_WIDTH = 0.58 * LABEL_FONT
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
    id: str = ""
    url: str | None = None  # the paper's own page (DOI, arXiv, its first link): a click opens it
    area: int = 1


def colour(theme_id: int) -> str:
    return PALETTE[(theme_id - 1) % len(PALETTE)]


def render_map(
    points: Sequence[MapPoint],
    xy: Sequence[Sequence[float]],
    themes: Sequence[Theme],
    areas: Sequence[Area] = (),
) -> str:
    """An HTML page drawing every point, coloured by area (by theme when there are no areas), each with
    its title and id (and a link to the paper where it has one); each theme's label sits on its most
    central paper, kept inside the map and off the other labels."""
    by_area = bool(areas)
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
        hover = (
            point.title + (f" ({point.year})" if point.year else "") + (f" · {point.id}" if point.id else "")
        )
        circle = (
            f'<circle class="paper" cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="5" '
            f'fill="{colour(point.area if by_area else point.theme)}" '
            f'data-theme="{point.theme}" data-id="{html.escape(point.id)}">'
            f"<title>{html.escape(hover)}</title></circle>"
        )
        if point.url:
            circle = (
                f'<a href="{html.escape(point.url)}" target="_blank" rel="noopener noreferrer">{circle}</a>'
            )
        circles.append(circle)
    labels = []
    legend = []
    placed: list[tuple[float, float, float, float]] = []
    for theme in themes:
        members = [(sx(x), sy(y)) for p, (x, y) in zip(points, xy, strict=True) if p.theme == theme.id]
        if not by_area:
            legend.append(_legend_item(colour(theme.id), f"{theme.id}. {theme.label} ({len(members)})"))
        if not members:
            continue
        text = f"{theme.id}. {theme.label}"
        lx, ly, anchor, (px, py) = _label_position(members, len(text) * CHAR_WIDTH, placed)
        fill = colour(theme.area) if by_area else "#222"
        labels.append(
            f'<text class="label" x="{lx:.1f}" y="{ly:.1f}" text-anchor="{anchor}" data-theme="{theme.id}" '
            f'data-point="{px:.1f},{py:.1f}" fill="{fill}">{html.escape(text)}</text>'
        )
    for area in areas:
        count = sum(1 for p in points if p.area == area.id)
        names = ", ".join(str(t) for t in area.themes)
        legend.append(
            _legend_item(colour(area.id), f"Area {area.id}: {area.label} ({count}; themes {names})")
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


def _legend_item(fill: str, text: str) -> str:
    return f'<li><span class="swatch" style="background:{fill}"></span>{html.escape(text)}</li>'


def _label_position(
    members: Sequence[tuple[float, float]], width: float, placed: list[tuple[float, float, float, float]]
) -> tuple[float, float, str, tuple[float, float]]:
    """Where a theme's label goes: next to its most central member (the point nearest the members'
    median, so always on the theme's own points), above or below it, anchored so that it stays inside
    the map, and off the labels already placed (their boxes in `placed`, to which this one is added).
    Returns x, y, the text anchor and the member it labels."""
    mx, my = median(m[0] for m in members), median(m[1] for m in members)
    cx, cy = min(members, key=lambda m: (m[0] - mx) ** 2 + (m[1] - my) ** 2)
    if cx - width / 2 < 4:
        anchor, left = "start", max(cx - 6, 4)
    elif cx + width / 2 > WIDTH - 4:
        anchor, left = "end", min(cx + 6, WIDTH - 4) - width
    else:
        anchor, left = "middle", cx - width / 2
    x = {"start": left, "end": left + width, "middle": cx}[anchor]
    candidates = [cy + dy for dy in (-9, 20, -24, 35, -39, 50)]
    candidates = [y for y in candidates if LABEL_FONT + 2 <= y <= HEIGHT - 4] or [
        min(max(cy, 16), HEIGHT - 4)
    ]
    chosen = candidates[0]
    for y in candidates:
        box = (left, y - LABEL_FONT, left + width, y + 3)
        if not any(box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3] for b in placed):
            chosen = y
            break
    placed.append((left, chosen - LABEL_FONT, left + width, chosen + 3))
    return x, chosen, anchor, (cx, cy)


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>litkb themes: {count} papers, {k} themes</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1em; color: #222; }}
#wrap {{ max-width: {width}px; }}
svg {{ border: 1px solid #ddd; background: #fff; width: 100%; height: auto; display: block; }}
circle.paper {{ opacity: 0.75; stroke: #fff; stroke-width: 0.5; }}
circle.paper:hover {{ opacity: 1; stroke: #000; stroke-width: 1.5; }}
text.label {{ font-size: 13px; font-weight: 700; paint-order: stroke; stroke: #fff; stroke-width: 4px;
  pointer-events: none; }}
#info {{ min-height: 1.5em; margin: 0.5em 0; font-weight: 600; }}
ul {{ list-style: none; padding: 0; columns: 2; }}
.swatch {{ display: inline-block; width: 0.8em; height: 0.8em; margin-right: 0.4em; border-radius: 50%; }}
</style>
</head>
<body>
<h1>Themes: {count} papers, {k} themes</h1>
<div id="info">Hover over a paper to see its title and id; click it to open the paper.</div>
<div id="wrap">
<svg id="map" viewBox="0 0 {width} {height}" role="img" aria-label="Map of the papers by theme">
{circles}
{labels}
</svg>
</div>
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


def layout_2d(vectors: np.ndarray) -> np.ndarray:
    """2-D positions for the map: t-SNE up to 5,000 papers, PCA beyond (t-SNE gets slow there)."""
    import numpy as np
    from sklearn.decomposition import PCA

    n = vectors.shape[0]
    unit = centred(np.asarray(vectors, dtype=np.float32))
    if n < 4:
        return np.column_stack([np.arange(n, dtype=float), np.zeros(n)])
    if n > 5000:
        return np.asarray(PCA(2, random_state=0).fit_transform(unit))
    from sklearn.manifold import TSNE

    perplexity = float(min(30.0, max(2.0, (n - 1) / 3)))
    return np.asarray(
        TSNE(2, perplexity=perplexity, init="pca", random_state=0, metric="cosine").fit_transform(unit)
    )
