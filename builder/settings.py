"""The site's settings: `essays.toml` beside the essays folder (as mkdocs.yml is beside
docs/). Every key is optional; without the file the site is titled "Essays".

```toml
title = "Random walks"
description = "Three essays on walks, with code you can run."
author = "A. Author"
base_url = "https://example.org/walks/"
repository = "https://github.com/example/walks"
show = "last"        # every cell's default data-show (an essay's front matter overrides it)
hide = "code"        # every cell's default data-hide
bibliography = "refs.bib"  # every essay's .bib file, beside the essays (its front matter overrides it)
state_budget = "20 MB"  # the most an essay's shipped state may weigh (builder/state.py)
```
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .diagnostics import Diagnostics

FILE_NAME = "essays.toml"
# the values of the cells' defaults, as data-show and data-hide take them (pipeline/parse.py)
CHOICES = {"show": ("names", "last"), "hide": ("code", "output")}


@dataclass(frozen=True)
class Settings:
    title: str = "Essays"
    description: str = ""
    author: str = ""
    base_url: str = ""
    repository: str = ""
    show: str = ""  # "" : each essay's own, else "names"
    hide: str = ""
    bibliography: str = ""  # pipeline/citations.py
    state_budget: str = ""  # "" : builder/state.py's default; an essay's `state-budget` overrides it

    def cell_defaults(self) -> dict[str, str]:
        """The front-matter keys these settings give every essay that does not set them."""
        pairs = (("show", self.show), ("hide", self.hide), ("bibliography", self.bibliography))
        return {key: value for key, value in pairs if value}


def settings_path(source: Path) -> Path:
    return source.parent / FILE_NAME


def load_settings(source: Path, diagnostics: Diagnostics) -> Settings:
    """The settings beside the essays folder `source`; defaults when there is no file. A
    file that does not parse is an error, and an unknown key a warning naming the closest
    known one; the build goes on with what could be read."""
    import tomllib

    path = settings_path(source)
    if not path.is_file():
        return Settings()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        line = re.search(r"at line (\d+)", str(exc))
        diagnostics.error(f"{FILE_NAME} cannot be read: {exc}", path, int(line.group(1)) if line else None, "build")
        return Settings()
    known = [f.name for f in fields(Settings)]
    values: dict[str, str] = {}
    for key, value in data.items():
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            hint = f": did you mean {close[0]}?" if close else f" (known: {', '.join(known)})"
            diagnostics.warn(f"{FILE_NAME} has a key the builder does not know, {key}{hint}", path, None, "markup")
        elif not isinstance(value, str):
            diagnostics.warn(f"{FILE_NAME}: {key} must be a string, not {value!r}", path, None, "markup")
        elif key in CHOICES and any(word not in CHOICES[key] for word in value.split()):
            listed = " or ".join(f'"{c}"' for c in CHOICES[key])
            diagnostics.warn(f'{FILE_NAME}: {key} takes {listed}, not "{value}"', path, None, "markup")
        else:
            values[key] = value
    return Settings(**values)
