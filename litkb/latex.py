"""LaTeX text escaping for BibTeX fields, and its exact inverse (for reading litkb's own BibTeX back).

`latex_escape` gives LaTeX source that typesets as the text: special characters as text commands
(braces as `\\textbraceleft{}` so that BibTeX's brace counting stays balanced), accented Latin letters as
accent commands (`{\\'{e}}`), common symbols and Greek letters in their LaTeX forms, `--` kept as two
hyphens, and any other non-ASCII character (CJK, Cyrillic, ...) as `?`, or with `ascii=False` as itself in
UTF-8 (what pdflatex cannot typeset is then declared by `unicode_declarations`). `safe_math` tells the TeX
math of an imported title that may be written back as it is.
"""

from __future__ import annotations

import re
import unicodedata

_SPECIAL = {
    "\\": r"\textbackslash{}",
    "{": r"\textbraceleft{}",
    "}": r"\textbraceright{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
}
_ACCENTS = {
    "\u0301": "'", "\u0300": "`", "\u0302": "^", "\u0308": '"', "\u0303": "~", "\u0304": "=",
    "\u0307": ".", "\u0327": "c", "\u030c": "v", "\u0306": "u", "\u030a": "r", "\u030b": "H",
    "\u0328": "k", "\u0323": "d",
}  # fmt: skip
_LETTERS = {
    "ß": r"{\ss}", "æ": r"{\ae}", "Æ": r"{\AE}", "ø": r"{\o}", "Ø": r"{\O}", "œ": r"{\oe}",
    "Œ": r"{\OE}", "ł": r"{\l}", "Ł": r"{\L}", "ı": r"{\i}", "å": r"{\aa}", "Å": r"{\AA}",
    "–": "--", "—": "---", "‘": r"\textquoteleft{}", "’": r"\textquoteright{}", "“": r"\textquotedblleft{}",
    "”": r"\textquotedblright{}", "…": r"{\ldots}",
    "\u00a0": "~", "×": r"$\times$", "≤": r"$\leq$", "≥": r"$\geq$", "≈": r"$\approx$",
    "∈": r"$\in$", "→": r"$\rightarrow$", "←": r"$\leftarrow$", "±": r"$\pm$", "·": r"$\cdot$",
    "∞": r"$\infty$", "°": r"$^{\circ}$", "•": r"$\bullet$", "′": r"$\prime$", "″": r"$\prime\prime$",
}  # fmt: skip
_GREEK = {
    "α": "alpha", "β": "beta", "γ": "gamma", "δ": "delta", "ε": "epsilon", "ζ": "zeta", "η": "eta",
    "θ": "theta", "ι": "iota", "κ": "kappa", "λ": "lambda", "μ": "mu", "ν": "nu", "ξ": "xi",
    "π": "pi", "ρ": "rho", "σ": "sigma", "τ": "tau", "υ": "upsilon", "φ": "phi", "χ": "chi",
    "ψ": "psi", "ω": "omega", "Γ": "Gamma", "Δ": "Delta", "Θ": "Theta", "Λ": "Lambda", "Ξ": "Xi",
    "Π": "Pi", "Σ": "Sigma", "Φ": "Phi", "Ψ": "Psi", "Ω": "Omega",
}  # fmt: skip


def latex_escape(text: str, ascii: bool = True) -> str:
    """`text` as LaTeX source that typesets as the text itself, in ASCII: a character with no LaTeX form is
    `?`, or (`ascii=False`) itself, in UTF-8 (biber and LaTeX since 2018 read it)."""
    out: list[str] = []
    for char in unicodedata.normalize("NFC", " ".join(text.split())):
        if char in "-'`" and out and out[-1].endswith(char):
            out.append("{}" + char)  # `--`, `''` and ``` `` ``` are ligatures in TeX; keep the characters
        elif char in _SPECIAL:
            out.append(_SPECIAL[char])
        elif ord(char) < 128:
            out.append(char)
        elif char in _LETTERS:
            out.append(_LETTERS[char])
        elif char in _GREEK:
            out.append(f"$\\{_GREEK[char]}$")
        else:
            accented = _accented(char)
            out.append(char if accented == "?" and not ascii else accented)
    return "".join(out)


def unicode_declarations(chars: str) -> str:
    """TeX that has pdflatex typeset each of `chars` (characters with no LaTeX form: CJK, Cyrillic, ...) as
    `?` where nothing set it up, so a document citing them builds: it defines what LaTeX's UTF-8 input
    looks up (`u8:` and the character's bytes), as `\\DeclareUnicodeCharacter` would in a preamble. XeTeX
    and LuaTeX (no UTF-8 input layer: they typeset the characters), and a character that the document or
    a package (CJK, T2A) already declared, are left alone."""
    lines = [
        f"\\ifcsname u8:\\detokenize{{{c}}}\\endcsname\\else"
        f"\\expandafter\\gdef\\csname u8:\\detokenize{{{c}}}\\endcsname{{?}}\\fi"
        for c in sorted(set(chars))
    ]
    return "\\ifcsname UTFviii@defined\\endcsname\n" + "\n".join(lines) + "\n\\fi"


_MATH_WORDS = frozenset(
    "alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta iota kappa lambda mu nu xi pi varpi "
    "rho varrho sigma varsigma tau upsilon phi varphi chi psi omega Gamma Delta Theta Lambda Xi Pi Sigma "
    "Upsilon Phi Psi Omega mathcal mathbb mathrm mathbf mathit mathsf mathtt mathfrak mathscr boldsymbol "
    "bm text textrm textit textbf textsf texttt operatorname log ln exp sin cos tan min max sup inf lim "
    "arg det dim ker Pr deg gcd frac dfrac tfrac sqrt left right big Big bigl bigr Bigl Bigr overline "
    "underline hat widehat tilde widetilde bar vec dot ddot check breve acute grave infty partial nabla "
    "sum prod int oint cdot cdots ldots dots times div pm mp leq le geq ge neq ne approx sim simeq cong "
    "equiv propto in notin ni subset subseteq supset supseteq cup cap setminus emptyset varnothing forall "
    "exists neg lnot land lor wedge vee to rightarrow leftarrow Rightarrow Leftarrow leftrightarrow "
    "Leftrightarrow mapsto gets mid vert Vert langle rangle lfloor rfloor lceil rceil ell hbar prime star "
    "ast circ bullet dagger top bot perp parallel oplus otimes odot ll gg prec succ preceq succeq colon "
    "quad qquad backslash not imath jmath Re Im aleph angle triangle square Box diamond lbrace rbrace "
    "uparrow downarrow longrightarrow".split()
)
_MATH_TOKEN = re.compile(r"\\([A-Za-z]+)|\\[{}|,;:! _%&#$]|[A-Za-z0-9\s+\-*/=<>()\[\]|,.;:!?'^_{}]")


def safe_math(segment: str) -> bool:
    """Whether `$...$` is math that can go into a LaTeX document as it is: balanced braces, and nothing but
    letters, digits, operators and common math commands (so no `\\input`, `%`, `#` or `\\def`)."""
    body = segment[1:-1]
    if not (len(segment) > 2 and segment.startswith("$") and segment.endswith("$") and body.strip()):
        return False
    if "^^" in body:  # TeX reads `^^5c` as a backslash: `^^5cinput` is `\\input`
        return False
    depth, position = 0, 0
    while position < len(body):
        token = _MATH_TOKEN.match(body, position)
        if token is None or (token.group(1) is not None and token.group(1) not in _MATH_WORDS):
            return False
        depth += {"{": 1, "}": -1}.get(token.group(0), 0)
        if depth < 0:
            return False
        position = token.end()
    return depth == 0


def _accented(char: str) -> str:
    decomposed = unicodedata.normalize("NFD", char)
    base, marks = decomposed[0], decomposed[1:]
    if ord(base) >= 128 or not marks or any(m not in _ACCENTS for m in marks):
        return "?"
    result = base if base not in "ij" else f"\\{base}"  # dotless i and j under an accent
    for mark in marks:
        result = f"\\{_ACCENTS[mark]}{{{result}}}"
    return f"{{{result}}}"


# `--`, `---` and `~` only ever come from a dash or a no-break space: ASCII hyphens and tildes are escaped.
_REVERSE = {value: key for key, value in {**_SPECIAL, **_LETTERS}.items()}
_REVERSE.update({f"$\\{name}$": char for char, name in _GREEK.items()})
_REVERSE.update({"{}-": "-", "{}'": "'", "{}`": "`", "``": "\u201c", "''": "\u201d", "\\{": "{", "\\}": "}"})
_TOKENS = re.compile("|".join(re.escape(t) for t in sorted(_REVERSE, key=len, reverse=True)) + r"|[{}]")
_ACCENT = re.compile(
    r"\\(['`^\"~=.]|[cvurHkd])\{(\\[ij]|[A-Za-z\u00c0-\u024f])\}"  # \'{e}, \c{c}
    r"|\\(['`^\"~=.])(\\[ij]|[A-Za-z])"  # \'e
)
_MARKS = {command: mark for mark, command in _ACCENTS.items()}


def latex_unescape(text: str) -> str:
    """The text that `latex_escape` was given (protective braces dropped)."""
    previous = None
    while previous != text:  # innermost accents first
        previous = text
        text = _ACCENT.sub(_compose, text)
    return _TOKENS.sub(lambda m: _REVERSE.get(m.group(0), ""), text)


def _compose(match: re.Match[str]) -> str:
    command = match.group(1) or match.group(3)
    base = (match.group(2) or match.group(4)).lstrip("\\")
    return unicodedata.normalize("NFC", base + _MARKS[command])


def decode_simple(text: str) -> str | None:
    """Plain text for LaTeX made only of what `latex_escape` writes, plus the usual accent forms and `\\{`;
    None when anything else is left (a macro, math), for a full LaTeX decoder to handle."""
    decoded = latex_unescape(text)
    return None if "\\" in decoded or "$" in decoded else decoded
