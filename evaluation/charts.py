"""Static inline SVG charts for the release card: no script, no library, no network.

Why SVG written by hand: the card must render offline, inside a sandboxed dashboard frame, and
stay small (a Plotly bundle alone is 3.5 MB; Chromium refuses data URLs over 2 MB and shows an
empty frame). Every function returns one ``<svg>`` element as a string; every text it draws is
HTML-escaped here, so the card's template inserts the result with ``|safe`` and nothing else.
"""

from __future__ import annotations

from html import escape

REAL = "#3b6ea8"
SYNTHETIC = "#e08a2c"
VERDICT_COLOURS = {"pass": "#176f2c", "fail": "#b00020", "inconclusive": "#9a6700", "info": "#555555"}
FONT = 'font-family="system-ui, sans-serif"'


def _t(text: str, limit: int = 28) -> str:
    text = str(text)
    return escape(text if len(text) <= limit else text[: limit - 1] + "…")


def _n(v: float) -> str:
    return f"{v:.1f}".rstrip("0").rstrip(".")


def _svg(width: float, height: float, body: list[str], label: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" width="{_n(width)}" height="{_n(height)}" '
            f'viewBox="0 0 {_n(width)} {_n(height)}" {FONT} font-size="11"><title>{escape(label)}</title>'
            + "".join(body) + "</svg>")


def paired_bars(title: str, labels: list[str], real: list[float], synthetic: list[float], *,
                width: int = 330, max_cells: int = 24) -> str:
    """Real vs synthetic share of each cell of one column (horizontal bars, heaviest cells kept)."""
    cells = sorted(range(len(labels)), key=lambda i: -max(real[i], synthetic[i]))[:max_cells]
    cells.sort()
    row, left, top = 14, 112, 34
    height = top + row * len(cells) + 8
    peak = max([max(real[i], synthetic[i]) for i in cells] + [1e-9])
    scale = (width - left - 72) / peak  # room on the right for the two shares
    body = [f'<text x="4" y="14" font-weight="600" font-size="12">{_t(title, 52)}</text>',
            f'<rect x="{left}" y="20" width="9" height="8" fill="{REAL}"/><text x="{left + 12}" y="28">real</text>',
            f'<rect x="{left + 50}" y="20" width="9" height="8" fill="{SYNTHETIC}"/><text x="{left + 62}" y="28">synthetic</text>']
    for k, i in enumerate(cells):
        y = top + k * row
        body.append(f'<text x="{left - 4}" y="{_n(y + 10)}" text-anchor="end">{_t(labels[i], 17)}</text>')
        body.append(f'<rect class="bar" x="{left}" y="{_n(y + 1)}" width="{_n(real[i] * scale)}" height="6" fill="{REAL}"/>')
        body.append(f'<rect class="bar" x="{left}" y="{_n(y + 7)}" width="{_n(synthetic[i] * scale)}" height="6" fill="{SYNTHETIC}"/>')
        body.append(f'<text x="{_n(left + max(real[i], synthetic[i]) * scale + 3)}" y="{_n(y + 10)}" fill="#666" font-size="9">'
                    f'{real[i]:.1%}/{synthetic[i]:.1%}</text>')
    if len(labels) > len(cells):
        body.append(f'<text x="{left}" y="{height - 1}" fill="#666" font-size="9">{len(labels) - len(cells)} lighter cells not drawn</text>')
        height += 4
    return _svg(width, height, body, f"{title}: real vs synthetic shares")


def _colour(v: float, diverging: bool) -> str:
    v = max(-1.0, min(1.0, v))
    if diverging:  # blue for negative, red for positive, white at 0
        a = abs(v)
        r, g, b = (255, int(255 * (1 - a)), int(255 * (1 - a))) if v > 0 else (int(255 * (1 - a)), int(255 * (1 - a)), 255)
    else:
        a = max(0.0, v)
        r, g, b = int(255 - 200 * a), int(255 - 150 * a), int(255 - 60 * a)
    return f"#{r:02x}{g:02x}{b:02x}"


DIFFERENCE_SATURATION = 0.25


def heatmap(title: str, names: list[str], matrix: list[list[float]], *, diverging: bool = False, cell: int = 0) -> str:
    """A square matrix of associations (0..1) or differences (diverging colours, full colour at
    ±:data:`DIFFERENCE_SATURATION`, so that differences that matter are visible)."""
    k = len(names)
    cell = cell or max(6, min(22, 440 // max(k, 1)))
    left = top = 96
    size = left + cell * k + 40
    body = [f'<text x="4" y="14" font-weight="600" font-size="12">{_t(title, 60)}</text>']
    font = max(6, min(10, cell - 2))
    for i, name in enumerate(names):
        y = top + i * cell + cell / 2 + font / 3
        body.append(f'<text x="{left - 3}" y="{_n(y)}" text-anchor="end" font-size="{font}">{_t(name, 16)}</text>')
        x = left + i * cell + cell / 2
        body.append(f'<text transform="translate({_n(x + font / 3)},{top - 3}) rotate(-60)" font-size="{font}">{_t(name, 16)}</text>')
    for i in range(k):
        for j in range(k):
            v = matrix[i][j]
            body.append(f'<rect class="cell" x="{left + j * cell}" y="{top + i * cell}" width="{cell}" height="{cell}" '
                        f'fill="{_colour(v / DIFFERENCE_SATURATION if diverging else v, diverging)}"><title>{_t(names[i], 40)} × {_t(names[j], 40)}: {v:+.3f}</title></rect>')
    return _svg(size, size, body, title)


def interval_chart(title: str, rows: list[dict], *, width: int = 640) -> str:
    """Each estimate as a dot with its 95 % interval and a tick at its threshold (scale 0..1).

    ``rows``: ``{"name", "value", "low", "high", "limit", "verdict"}`` (``low``/``high``/``limit``
    may be None).
    """
    left, row, top = 190, 22, 30
    plot = width - left - 60
    hi_all = max([r["high"] or r["value"] or 0 for r in rows] + [r["limit"] or 0 for r in rows] + [0.1])
    axis_max = 1.0 if hi_all > 0.5 else 0.5 if hi_all > 0.2 else 0.2
    x = lambda v: left + plot * min(max(v, 0.0), axis_max) / axis_max
    height = top + row * len(rows) + 26
    body = [f'<text x="4" y="14" font-weight="600" font-size="12">{_t(title, 90)}</text>']
    for q in range(5):
        v = axis_max * q / 4
        body.append(f'<line x1="{_n(x(v))}" x2="{_n(x(v))}" y1="{top - 6}" y2="{height - 22}" stroke="#ddd"/>')
        body.append(f'<text x="{_n(x(v))}" y="{height - 10}" text-anchor="middle" fill="#555">{v:g}</text>')
    for k, r in enumerate(rows):
        y = top + k * row + row / 2
        colour = VERDICT_COLOURS.get(r.get("verdict", "info"), "#555")
        body.append(f'<text x="{left - 6}" y="{_n(y + 4)}" text-anchor="end">{_t(r["name"], 30)}</text>')
        if r.get("limit") is not None:
            lx = x(r["limit"])
            body.append(f'<line class="limit" x1="{_n(lx)}" x2="{_n(lx)}" y1="{_n(y - 8)}" y2="{_n(y + 8)}" stroke="#222" stroke-width="2" stroke-dasharray="3,2"/>')
        if r.get("low") is not None and r.get("high") is not None:
            body.append(f'<line class="interval" x1="{_n(x(r["low"]))}" x2="{_n(x(r["high"]))}" y1="{_n(y)}" y2="{_n(y)}" stroke="{colour}" stroke-width="3"/>')
        if r.get("value") is not None:
            body.append(f'<circle class="estimate" cx="{_n(x(r["value"]))}" cy="{_n(y)}" r="4" fill="{colour}"/>')
            interval = "" if r.get("high") is None else f" [{r['low']:.3f}, {r['high']:.3f}]"
            body.append(f'<text x="{width - 56}" y="{_n(y + 4)}" fill="{colour}">{r["value"]:.3f}</text>'
                        f'<title>{escape(str(r["name"]))}: {r["value"]:.4f}{interval}</title>')
        else:
            body.append(f'<text x="{left + 4}" y="{_n(y + 4)}" fill="{colour}">no estimate</text>')
    body.append(f'<text x="{left}" y="{height - 0.5}" fill="#555" font-size="9">dot: estimate · bar: 95 % interval · dashed: policy limit</text>')
    return _svg(width, height + 2, body, title)


def budget_bar(spent: float, total: float | None, *, label: str = "ε", width: int = 640) -> str:
    """ε spent by this release against the dataset's budget (or alone when no budget is given)."""
    left, plot = 90, width - 90 - 30
    scale_max = max(total or 0.0, spent, 1e-9)
    w = lambda v: plot * v / scale_max
    body = [f'<text x="4" y="14" font-weight="600" font-size="12">{escape(label)} spent by this release'
            + (" against the dataset's budget" if total is not None else "") + "</text>"]
    if total is not None:
        body.append(f'<rect class="budget" x="{left}" y="24" width="{_n(w(total))}" height="20" fill="#e6e6e6" stroke="#999"/>')
    body.append(f'<rect class="spent" x="{left}" y="24" width="{_n(w(spent))}" height="20" fill="#3b6ea8"/>')
    body.append(f'<text x="{left - 6}" y="38" text-anchor="end">{escape(label)}</text>')
    text = f"{spent:.3g} spent" + (f" of {total:.3g} ({spent / total:.0%})" if total else "")
    body.append(f'<text x="{left}" y="60">{escape(text)}</text>')
    return _svg(width, 66, body, text)
