"""Jinja2 set-up: the templates, their filters, the static files' cache-busting URLs.

Autoescaping is on for every template: job names, log lines and error texts come from
users and solvers, and must never become markup.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.responses import HTMLResponse

from winjobs.driver.dashboard import present
from winjobs.wire import eta_basis_words

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
STATIC_PREFIX = "/static/dashboard"


@cache
def static_url(name: str) -> str:
    """`/static/dashboard/<name>?v=<content hash>`: browsers cache it until it changes."""
    digest = hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[:12]
    return f"{STATIC_PREFIX}/{name}?v={digest}"


def make_environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"], default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(
        static_url=static_url,
        percent=present.percent,
        since=present.since,
        until=present.until,
        elapsed=present.elapsed,
    )
    env.filters.update(
        age=present.age,
        duration=present.duration,
        timestamp=present.timestamp,
        years=present.years,
        eta_basis=eta_basis_words,
    )
    return env


class Renderer:
    """Renders a template into an HTML response."""

    def __init__(self) -> None:
        self.env = make_environment()

    def page(self, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        html = self.env.get_template(name).render(**context)
        return HTMLResponse(html, status_code=status_code, headers=PAGE_HEADERS)


#: no-store: the pages show live state and private data. The policy allows scripts and
#: styles from the driver only (inline `style` attributes place the progress and
#: timeline bars; no inline script anywhere) and no framing (clickjacking of the action
#: buttons).
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
