"""HTML for a channel's pages: Jinja2 templates with autoescape on, one inline stylesheet allowed by its hash, no
scripts. The same strings are served by `server` and written by `export`."""

from __future__ import annotations

import base64
import hashlib
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from bot.web.archive import DayPage, FrontPage, PaperPage

CSS = """
:root{color-scheme:light dark;--fg:#1d1d1f;--bg:#fdfdfb;--muted:#6b6b6b;--accent:#b3261e;--rule:#e4e2dc}
@media (prefers-color-scheme:dark){:root{--fg:#e8e6e3;--bg:#161616;--muted:#a0a0a0;--accent:#ff8a7a;--rule:#333}}
*{box-sizing:border-box}
body{margin:0 auto;max-width:46rem;padding:1rem;font:17px/1.55 Georgia,"Times New Roman",serif;color:var(--fg);
background:var(--bg);overflow-wrap:anywhere}
a{color:var(--accent)}
header.site{display:flex;flex-wrap:wrap;gap:.4rem;align-items:baseline;border-bottom:2px solid var(--fg);
padding-bottom:.5rem;font-family:system-ui,sans-serif;font-size:.95rem}
header.site .home{font-weight:700;text-decoration:none;color:var(--fg);font-size:1.15rem}
header.site .feed{margin-left:auto}
h1{font-size:1.6rem;line-height:1.25;margin:1.2rem 0 .6rem}
h2{font-size:1.25rem;line-height:1.3;margin:0 0 .3rem}
article.paper{border-bottom:1px solid var(--rule);padding:1.1rem 0}
article.paper h2 a{color:var(--fg);text-decoration:none}
article.paper h2 a:hover{text-decoration:underline}
.rank{color:var(--accent)}
.authors{margin:.2rem 0 .4rem;font-style:italic}
.facts{margin:.3rem 0;padding-left:1.2rem;font-family:system-ui,sans-serif;font-size:.9rem}
.why{color:var(--muted)}
.cat{font-family:ui-monospace,monospace;font-size:.85rem}
.tag{font-family:system-ui,sans-serif;font-size:.75rem;border:1px solid var(--accent);color:var(--accent);
border-radius:3px;padding:0 .3rem;vertical-align:middle}
blockquote.summary{margin:.6rem 0;padding:.4rem .9rem;border-left:4px solid var(--accent);
background:rgba(127,127,127,.08)}
blockquote.summary p{margin:.2rem 0;white-space:pre-line}
cite{display:block;font-family:system-ui,sans-serif;font-size:.8rem;color:var(--muted);font-style:normal}
details{margin:.4rem 0}
summary{cursor:pointer;font-family:system-ui,sans-serif;font-size:.9rem;color:var(--muted)}
.abstract,details p{white-space:pre-line}
.pager{display:flex;justify-content:space-between;font-family:system-ui,sans-serif;font-size:.9rem}
.muted,footer{color:var(--muted)}
footer{margin-top:2rem;border-top:1px solid var(--rule);padding-top:.6rem;font-size:.8rem;
font-family:system-ui,sans-serif}
.archive ul{padding-left:1.2rem}
""".strip()

_CSS_HASH = base64.b64encode(hashlib.sha256(CSS.encode()).digest()).decode()
_POLICY = f"default-src 'none'; style-src 'sha256-{_CSS_HASH}'; img-src 'none'; base-uri 'none'; form-action 'none'"
PAGE_CSP = _POLICY
"""Also in each page's <meta> (exported files carry it); `frame-ancestors` works only as a header."""
HEADER_CSP = f"{_POLICY}; frame-ancestors 'none'"


@cache
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=False,
    )


def _render(name: str, **values: Any) -> str:
    return _environment().get_template(name).render(css=Markup(CSS), csp=PAGE_CSP, **values)


def front_html(page: FrontPage) -> str:
    return _render("front.html", page=page)


def day_html(page: DayPage) -> str:
    return _render("day.html", page=page)


def paper_html(page: PaperPage) -> str:
    return _render("paper.html", page=page)
