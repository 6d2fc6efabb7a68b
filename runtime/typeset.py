"""LaTeX to MathML, for the essays' `$…$` and `$$…$$` and for `_repr_latex_` outputs.

MathML reads with JavaScript off and needs no math library in the page. latex2mathml does
the conversion; it is lenient (an unknown command becomes text, `\\frac{a` a fraction of
one part), so a formula is checked before and after, and one that does not parse raises
MathError with what is wrong: the caller shows its source instead.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

# MathML elements and the number of children each must have
ARITY = {"mfrac": 2, "msub": 2, "msup": 2, "msubsup": 3, "mroot": 2, "munder": 2, "mover": 2, "munderover": 3}
NS = "{http://www.w3.org/1998/Math/MathML}"


class MathError(ValueError):
    """A formula that does not parse."""


def _balanced(latex: str) -> None:
    depth = 0
    for match in re.finditer(r"\\.|[{}]", latex):
        token = match.group()
        if token == "{":
            depth += 1
        elif token == "}":
            depth -= 1
            if depth < 0:
                raise MathError("a } closes a brace that was never opened")
    if depth:
        raise MathError(f"{depth} brace{'s' if depth > 1 else ''} never closed")
    lefts, rights = len(re.findall(r"\\left\b", latex)), len(re.findall(r"\\right\b", latex))
    if lefts != rights:
        raise MathError("\\left and \\right do not pair up")


def to_mathml(latex: str, display: bool = False) -> str:
    """A formula as a <math> element; raises MathError when it does not parse."""
    _balanced(latex)
    try:
        from latex2mathml.converter import convert
    except ImportError as exc:  # the page has no latex2mathml unless the site ships it
        raise MathError("no LaTeX converter here (latex2mathml is not installed)") from exc
    try:
        mathml = convert(latex.strip(), display="block" if display else "inline")
    except Exception as exc:  # the converter's own errors are of many types
        raise MathError(f"{type(exc).__name__}: {exc}") from None
    try:
        root = ET.fromstring(mathml)
    except ET.ParseError as exc:  # the converter wrote what is not XML (an & of an aligned)
        raise MathError(f"the converter could not typeset it ({exc})") from None
    for element in root.iter():
        tag = element.tag.removeprefix(NS)
        if tag in ("mi", "mo", "mtext") and (element.text or "").startswith("\\"):
            raise MathError(f"unknown command {element.text}")
        if tag in ARITY and len(element) != ARITY[tag]:
            raise MathError(f"\\{tag.removeprefix('m')} is missing a part")
    return mathml
