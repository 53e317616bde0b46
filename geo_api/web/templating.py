"""The HTML of the pages and map panels: Jinja2 templates in ``geo_api/web/templates/``.

One ``Environment`` for the whole service (tipg keeps one ``Jinja2Templates`` likewise):
templates are compiled once and cached, and every ``{{ value }}`` is escaped. Text from
users (query parameters, site, area and indicator names) reaches a page only as such a
value, never as template source, so ``{{ 7*7 }}`` in a name is shown, not evaluated.

Values are escaped a little more than HTML needs: backslash, backtick and ``$`` become
entities too, because Folium puts some of the page's text into JavaScript template
literals (tooltips), where ``${...}`` would run. Finished HTML (a rendered template, or
``Markup``) is inserted as it is.
"""

from __future__ import annotations

import html
from typing import Any

import jinja2
from markupsafe import Markup


def escape_text(value: object) -> Markup:
    """``value`` as text for HTML, with ``\\``, backtick and ``$`` as entities too (safe in a
    page, an attribute and a JavaScript template literal)."""
    if isinstance(value, Markup):
        return value
    return Markup(html.escape(str(value)).replace("\\", "&#92;").replace("`", "&#96;")
                  .replace("$", "&#36;"))


def _finalize(value: Any) -> Any:
    """Every ``{{ ... }}`` of text goes through ``escape_text`` (numbers stay numbers)."""
    if isinstance(value, str):
        return escape_text(value)
    return value


ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("geo_api.web", "templates"),
    autoescape=True,  # every template is HTML (or SVG inside HTML)
    undefined=jinja2.StrictUndefined,  # a missing value is an error, not an empty string
    finalize=_finalize,
    trim_blocks=True,
    lstrip_blocks=True,
    auto_reload=False,  # compiled once per process
)


def render(name: str, /, **context: Any) -> Markup:
    """The template ``name`` (under ``geo_api/web/templates/``) rendered with ``context``,
    as finished HTML."""
    return Markup(ENV.get_template(name).render(**context))
