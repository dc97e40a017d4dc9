"""Shared HTML helpers: deterministic inline SVG plots and Jinja2 rendering.

Templates are Python strings (not files) so they ship inside ``screening.retrain`` without
package-data entries.
"""

from __future__ import annotations

import jinja2

from models.report import SVG_RC, svg_figure
from screening._atomic import write_bytes

# One plotting style for every report (deterministic inline SVG, Chinese kept as text).
RC = SVG_RC

CSS = """
body{font-family:"Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:2em;color:#222;max-width:1100px}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.6em 0;font-size:.9em}
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:right}
th{background:#f3f3f3}td.l,th.l{text-align:left}
.act{background:#fbd5d5}.watch{background:#fff1c2}.stable{background:#e3f5e1}
.alert-act{color:#a30000;font-weight:bold}.alert-watch{color:#8a6100}
.note{color:#666;font-size:.85em}
"""


svg = svg_figure


def render(template: str, **context) -> str:
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    env.filters["num"] = lambda v, d=3: "" if v is None or v != v else f"{v:,.{d}f}"
    env.filters["pct"] = lambda v, d=1: "" if v is None or v != v else f"{100 * v:.{d}f}%"
    return env.from_string(template).render(css=CSS, **context)


write_atomic = write_bytes
