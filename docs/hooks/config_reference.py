"""mkdocs hook: the configuration reference, generated from ``geo_api.settings.Settings``.

``docs/operations/configuration.md`` holds the placeholder below; at build time it is
replaced with one table row per settings field (environment variable, type, default,
description), so the page cannot drift from the code. A field without a ``description``
falls back to its attribute docstring, then to the comment beside (or just above) it, and
otherwise says that it is undocumented. ``# --- heading ---`` comments in the class start a
new table under that heading.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import io
import re
import sys
import textwrap
import tokenize
import types
import typing
from pathlib import Path
from typing import Any

PLACEHOLDER = "<!-- config-reference -->"
REPO_ROOT = Path(__file__).resolve().parents[2]
UNDOCUMENTED = "*(no description in `geo_api/settings.py`)*"


def load_settings_class() -> type:
    """``geo_api.settings.Settings`` from this checkout (not another installed copy)."""
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    module = importlib.import_module("geo_api.settings")
    return module.Settings


def env_prefix(settings_cls: type) -> str:
    return str(settings_cls.model_config.get("env_prefix", "")).upper()


def type_text(annotation: Any) -> str:
    """A short, readable name for a field's type: ``int``, ``path``, ``list of str``, one of …"""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Literal:
        return "one of " + ", ".join(f"`{a}`" for a in args)
    if origin in (typing.Union, types.UnionType):
        parts = [type_text(a) for a in args if a is not type(None)]
        text = " or ".join(parts)
        return f"{text} (optional)" if type(None) in args else text
    if origin in (list, tuple, set, frozenset):
        inner = ", ".join(type_text(a) for a in args) or "values"
        return f"list of {inner} (JSON)"
    if annotation is Path or (isinstance(annotation, type) and issubclass(annotation, Path)):
        return "path"
    return getattr(annotation, "__name__", str(annotation))


def constraint_text(metadata: list[Any]) -> str:
    """``≥ 1, ≤ 200`` from the field's annotated-types constraints."""
    signs = {"ge": "≥", "gt": ">", "le": "≤", "lt": "<"}
    out = []
    for item in metadata:
        for attr, sign in signs.items():
            value = getattr(item, attr, None)
            if value is not None:
                out.append(f"{sign} {format_number(value)}")
    return ", ".join(out)


def format_number(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e6:
            return f"{int(value):,}"
        return f"{value:g}".replace("e+0", "e").replace("e+", "e")
    return str(value)


def default_text(field: Any) -> str:
    if field.default_factory is not None:
        value = field.default_factory()
    elif field.is_required():
        return "*(required)*"
    else:
        value = field.default
    if value is None:
        return "*(unset)*"
    if isinstance(value, Path):
        try:
            value = "<repo>/" + value.resolve().relative_to(REPO_ROOT).as_posix()
        except ValueError:
            value = str(value)
    if isinstance(value, list | tuple | set) and not value:
        return "*(empty)*"
    if isinstance(value, str) and value == "":
        return '*(empty: "")*'
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"`{format_number(value)}`"
    return f"`{value if not isinstance(value, bool) else str(value).lower()}`"


def escape_cell(text: str) -> str:
    """Markdown table cell text: ``|`` escaped, ``<``/``>`` escaped outside code spans."""
    parts = text.split("`")
    for i in range(0, len(parts), 2):  # even parts are outside code spans
        parts[i] = parts[i].replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return "`".join(parts).replace("|", "\\|").replace("\n", " ")


def source_notes(settings_cls: type) -> tuple[dict[str, str], dict[str, str]]:
    """From the class's source: per field, its attribute docstring or nearby comment, and
    the ``# --- heading ---`` it sits under."""
    try:
        source = inspect.getsource(settings_cls)
    except (OSError, TypeError):
        return {}, {}
    source = textwrap.dedent(source)
    comments: dict[int, str] = {}
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            comments[tok.start[0]] = tok.string.lstrip("#").strip()
    class_def = ast.parse(source).body[0]
    notes: dict[str, str] = {}
    sections: dict[str, str] = {}
    body = getattr(class_def, "body", [])
    for index, node in enumerate(body):
        if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)):
            continue
        name = node.target.id
        following = body[index + 1] if index + 1 < len(body) else None
        if (isinstance(following, ast.Expr) and isinstance(following.value, ast.Constant)
                and isinstance(following.value.value, str)):
            notes[name] = inspect.cleandoc(following.value.value)
        else:
            same_line = [comments[n] for n in range(node.lineno, (node.end_lineno or
                                                                   node.lineno) + 1)
                         if n in comments]
            above = comments.get(node.lineno - 1, "")
            text = " ".join(same_line) or ("" if above.startswith("---") else above)
            if text:
                notes[name] = text
        # the nearest "--- heading ---" comment above the field
        for n in range(node.lineno - 1, 0, -1):
            comment = comments.get(n)
            if comment and comment.startswith("---"):
                heading = comment.strip("- ").strip()
                heading = re.sub(r"\s*\([^)]*\)\s*$", "", heading)
                sections[name] = heading[:1].upper() + heading[1:]
                break
    return notes, sections


def rows(settings_cls: type | None = None) -> list[dict[str, str]]:
    """One dict per settings field, in declaration order."""
    settings_cls = settings_cls or load_settings_class()
    prefix = env_prefix(settings_cls)
    notes, sections = source_notes(settings_cls)
    out = []
    for name, field in settings_cls.model_fields.items():
        description = field.description or notes.get(name) or ""
        kind = type_text(field.annotation)
        limits = constraint_text(field.metadata)
        out.append({
            "name": name,
            "env": f"{prefix}{name.upper()}",
            "type": f"{kind}; {limits}" if limits else kind,
            "default": default_text(field),
            "description": description,
            "section": sections.get(name, "General"),
        })
    return out


def config_reference(settings_cls: type | None = None) -> str:
    """The Markdown that replaces the placeholder: a table per section of the settings."""
    settings_cls = settings_cls or load_settings_class()
    table_head = ["| environment variable | type | default | description |",
                  "|---|---|---|---|"]
    out: list[str] = []
    current = None
    for row in rows(settings_cls):
        if row["section"] != current:
            current = row["section"]
            out += ["", f"### {current}", "", *table_head]
        description = (escape_cell(row["description"]) if row["description"]
                       else UNDOCUMENTED)
        out.append(f"| `{row['env']}` | {escape_cell(row['type'])} | "
                   f"{escape_cell(row['default'])} | {description} |")
    n = len(settings_cls.model_fields)
    intro = f"*{n} settings in `geo_api/settings.py` when this site was built.*"
    return intro + "\n" + "\n".join(out) + "\n"


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    if PLACEHOLDER not in markdown:
        return markdown
    return markdown.replace(PLACEHOLDER, config_reference())
