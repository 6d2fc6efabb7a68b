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
ET.register_namespace("", NS[1:-1])
# elements whose first child is a base that scripts decorate (\log_2: msub's first child)
SCRIPTED = {"msub", "msup", "msubsup", "munder", "mover", "munderover"}
OPENING = {"(", "[", "{", "|", "\u2016", "\u27e8", "\u2308", "\u230a"}


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
    if _space_function_names(root):
        return ET.tostring(root, encoding="unicode")
    return mathml


def _space_function_names(root: ET.Element) -> bool:
    """Give \\log, \\sin, \\exp... the spacing TeX gives an operator name.

    latex2mathml writes `\\log p` as <mi>log</mi><mi>p</mi>, which a browser sets as "logp".
    TeX puts a thin space between an operator name and what it applies to, and none before
    an opening bracket, so an invisible function application (U+2061) follows the name,
    with a thin space after it or none. Returns whether it changed anything."""
    changed = False
    for parent in list(root.iter()):
        if parent.tag.removeprefix(NS) in SCRIPTED:
            continue  # a base and its scripts, not a row: the row around it gets the space
        children = list(parent)
        for i, child in enumerate(children):
            name = child
            if child.tag.removeprefix(NS) in SCRIPTED and len(child):
                name = child[0]
            text = name.text or ""
            if name.tag.removeprefix(NS) != "mi" or len(text) < 2 or not text.isalpha() or len(name):
                continue
            if i + 1 >= len(children):
                continue  # nothing it applies to: no space to make
            after = children[i + 1]
            bracket = after.tag.removeprefix(NS) == "mo" and (after.text or "").strip() in OPENING
            apply = ET.Element(NS + "mo", {"lspace": "0", "rspace": "0" if bracket else "0.1667em"})
            apply.text = "\u2061"
            parent.insert(list(parent).index(child) + 1, apply)
            changed = True
    return changed
