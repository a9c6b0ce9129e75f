"""Which paper a PDF is: its arXiv id, DOI, title, abstract and authors, read from the file.

- arXiv id: the stamp arXiv prints in page 1's left margin ("arXiv:2402.05109v2 [cs.LG] 7 Feb 2024"),
  else the file's name (`2402.05109v2.pdf`, `arxiv-math-0501170.pdf`), else an arXiv DOI in the text;
- DOI: the XMP metadata (prism:doi, dc:identifier), the document information, then page 1's text
  (a "doi:" or doi.org one first);
- title: page 1's largest text in its upper half, leaving out what is not a title (the arXiv stamp, a
  journal's or a proceedings' header, a logo, a drop cap, a figure's labels); the document information's
  title where page 1's text confirms it;
- abstract: the block after page 1's "Abstract" heading, up to the next heading;
- authors: the names between the title and the abstract, where they read as names.

What is not found stays None (an empty list for authors); `missing()` names it.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .clean import ARXIV_STAMP, normalize
from .extract import Line, RawPdf

VERSION = 1  # a change of what identifying finds is a new number: cached identifications are made again

_NEW_ID = re.compile(r"(?<![\d.])(\d{2})(\d{2})\.(\d{4,5})(?:v\d+)?(?![\d])")
_OLD_ARCHIVES = (
    "astro-ph|cond-mat|cs|gr-qc|hep-ex|hep-lat|hep-ph|hep-th|math|math-ph|nlin|nucl-ex|nucl-th|physics|"
    "q-bio|quant-ph|stat|q-fin|econ|eess|chao-dyn|alg-geom|funct-an|dg-ga|solv-int|patt-sol|adap-org|cmp-lg"
)
_OLD_ID_NAME = re.compile(rf"(?:^|[^a-z])({_OLD_ARCHIVES})[-_.](\d{{7}})(?:v\d+)?(?!\d)", re.I)
_ARXIV_DOI = re.compile(r"10\.48550/arXiv\.(\d{4}\.\d{4,5})", re.I)
_DOI = re.compile(r"\b(10\.\d{4,9}/[^\s\"<>]+)")
_LABELLED_DOI = re.compile(r"(?:doi\s*:?\s*|doi\.org/)(10\.\d{4,9}/[^\s\"<>]+)", re.I)
_JUNK_TITLE = re.compile(
    r"^(?:in\s+)?(?:proceedings|proc\.|journal of|transactions\b|vol\.|volume|published|received|accepted|"
    r"copyright|©|\(c\)|preprint|under review|to appear|arxiv|doi\b|https?://|www\.|article\b|"
    r"research article|original article|review article|open access|chapter\s+\d+|plos\b|ieee\b|acm\b|"
    r"editor|citation\b|technical report|abstract\b|keywords|key words|index terms|contents\b|"
    r"(?:\d+(?:\.\d+)*\.?\s+)?introduction\b|letter\b|communication\b|short paper|full paper|"
    r"workshop|conference|symposium|\[?lecture notes)",
    re.I,
)
_VENUE = re.compile(r"\b(?:conference|workshop|symposium|proceedings|journal)\b.*\b(?:19|20)\d\d\b", re.I)
_HEADING = re.compile(r"^(?:\d+(?:\.\d+)*\.?|[IVX]+\.)\s+[A-Z][^.]{0,60}$")  # "1 Introduction", "II. Method"
_MARKERS = "∗*†‡§¶♠♣♥♦⋆★✝#"
_ABSTRACT_HEAD = re.compile(r"^(?:abstract|a\s?b\s?s\s?t\s?r\s?a\s?c\s?t|summary)\b\s*[.:—–-]?\s*", re.I)
_SECTION = re.compile(
    r"^(?:(?:\d+\.?|[IVX]+\.)\s*)?(?:introduction|keywords|key words|index terms|ccs concepts|"
    r"categories and subject descriptors|general terms|acm reference format|background|"
    r"author summary|significance|citation:|editor:|received:|copyright:)\b",
    re.I,
)
_AFFILIATION = re.compile(
    r"@|https?:|www\.|\d{3,}|univ|institut|department|dept\.|school|college|laborator|\blab\b|research|"
    r"\binc\b|corporation|company|center|centre|academy|faculty|hospital|street|road|avenue|\busa\b|"
    r"china|germany|france|canada|japan|korea|india|\buk\b|email|e-mail|google|microsoft|facebook|amazon|"
    r"\bibm\b|\bmeta\b|correspond|contributed|equal contribution|submitted|published|received|"
    r"\bcs\b|\bai\b|ltd|gmbh|group|team|national|state key|key lab|\buc\b|\bmit\b|\beth\b",
    re.I,
)
_NAME_WORD = re.compile(
    r"^(?:[A-Z][\w'’.-]*|[A-Z]\.|van|von|de|der|den|da|di|del|della|la|le|du|dos|bin|al)$"
)


@dataclass
class Identified:
    """What a PDF says it is. `year` is its arXiv id's (the first version's, not the stamp's)."""

    title: str | None = None
    abstract: str | None = None
    authors: list[str] = field(default_factory=list)
    arxiv_id: str | None = None
    doi: str | None = None
    year: int | None = None

    def missing(self) -> list[str]:
        """What could not be found, in words ("title", "authors", "DOI", ...)."""
        names = {
            "title": "title",
            "abstract": "abstract",
            "authors": "authors",
            "arxiv_id": "arXiv id",
            "doi": "DOI",
        }
        return [word for key, word in names.items() if not getattr(self, key)]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> Identified:
        if not isinstance(data, dict):
            return cls()
        known = {k: data.get(k) for k in ("title", "abstract", "arxiv_id", "doi", "year")}
        authors = data.get("authors")
        return cls(**known, authors=[str(a) for a in authors] if isinstance(authors, list) else [])


def identify(pdf: RawPdf, name: str) -> Identified:
    """Everything that can be read from the file `name` (its file name is evidence too)."""
    found = Identified()
    found.arxiv_id, found.year = arxiv_id(pdf.raw_first, name)
    found.doi = doi(pdf)
    lines = [line for line in pdf.lines if not ARXIV_STAMP.search(line.text)]
    title_lines = find_title(lines, pdf.page_height)
    found.title = choose_title(title_lines, pdf)
    first_page = pdf.pages[0] if pdf.pages else ""
    found.abstract = find_abstract(first_page)
    if title_lines:
        found.authors = find_authors(lines, title_lines)
    return found


def arxiv_id(raw_text: str, name: str) -> tuple[str | None, int | None]:
    """The arXiv id (no version) from the stamp, the file name, or an arXiv DOI; and the year it gives."""
    found: str | None = None
    stamp = ARXIV_STAMP.search(raw_text)
    if stamp:
        found = stamp.group(1)
    stem = Path(name).name
    for match in [] if found else _NEW_ID.finditer(stem):
        if 1 <= int(match.group(2)) <= 12:
            found = f"{match.group(1)}{match.group(2)}.{match.group(3)}"
            break
    old = None if found else _OLD_ID_NAME.search(stem)
    if old:
        found = f"{old.group(1).lower()}/{old.group(2)}"
    by_doi = None if found else _ARXIV_DOI.search(raw_text)
    if by_doi:
        found = by_doi.group(1)
    return found, _id_year(found) if found else None


def _id_year(arxiv: str) -> int:
    """The year an arXiv id was first submitted in (its first two digits: 2402.05109, math/0501170)."""
    two = int(arxiv.rpartition("/")[2][:2])
    return 1900 + two if two >= 91 else 2000 + two


def _clean_doi(value: str) -> str | None:
    value = value.strip().rstrip(".,;:)]}>'\"")
    if value.count("(") < value.count(")"):
        value = value.rstrip(")")
    if value.lower().startswith("10.48550/"):  # arXiv's own DOI: the arXiv id says it
        return None
    return value if re.fullmatch(r"10\.\d{4,9}/\S+", value) else None


def doi(pdf: RawPdf) -> str | None:
    """The file's DOI: XMP, then the document information, then page 1's text (a labelled one first)."""
    candidates = list(pdf.xmp_dois)
    for key in ("doi", "DOI", "Subject", "Keywords", "Title"):
        candidates += _DOI.findall(pdf.metadata.get(key, ""))
    page_one = unicodedata.normalize("NFKC", pdf.raw_first.split("\f")[0])
    candidates += _LABELLED_DOI.findall(page_one) + _DOI.findall(page_one)
    for candidate in candidates:
        cleaned = _clean_doi(candidate)
        if cleaned:
            return cleaned
    return None


def _letters(text: str) -> int:
    return sum(ch.isalpha() for ch in text)


def _is_candidate(line: Line, body: float, height: float) -> bool:
    text = line.text.strip(_MARKERS + " ")
    if _letters(text) < 4 or _JUNK_TITLE.match(text) or _VENUE.search(text):
        return False
    if " " not in text and text.isascii() and text == text.lower():  # a journal's logo ("electronics")
        return False
    if "@" in text or text.lower().startswith(("http", "www")):
        return False
    if height and not 0.45 * height <= line.top <= 0.945 * height:  # in the upper half, below the header
        return False
    return not (body and line.size > 3.2 * body)  # a logo or a figure drawn large


def body_size(lines: list[Line]) -> float:
    """The font size most of the page's text is set in."""
    weights: dict[float, int] = {}
    for line in lines:
        key = round(line.size, 1)
        weights[key] = weights.get(key, 0) + len(line.text)
    return max(weights, key=lambda k: weights[k]) if weights else 0.0


def _title_like(text: str) -> bool:
    """A line set like a title: not a sentence (no closing full stop), in capitals or Title Case."""
    text = text.strip(_MARKERS + " ")
    words = [w for w in text.split() if len(w) > 3 and w[0].isalpha()]
    if text.endswith(".") or not words or len(text.split()) > 20:
        return False
    return text.isupper() or sum(w[0].isupper() for w in words) >= 0.6 * len(words)


def find_title(lines: list[Line], height: float) -> list[Line]:
    """The lines of page 1 that make the title (empty when none stands out)."""
    body = body_size(lines)
    candidates = [line for line in lines if _is_candidate(line, body, height)]
    if not candidates:
        return []
    largest = max(line.size for line in candidates)
    distinct = largest > body * 1.08
    first = next(line for line in candidates if line.size >= largest - 0.5)
    if not distinct:  # no text larger than the body's: only a line that reads as a title will do
        titled = [line for line in candidates if line.size >= largest - 0.5 and _title_like(line.text)]
        if not titled:
            return []
        first = titled[0]
    if first.estimated:  # heights are rough (a tall glyph box makes a line "large"): the first large line
        first = next((line for line in candidates if line.size >= 1.25 * body), first)
    chosen = [first]
    start = lines.index(first)
    for line in lines[start + 1 : start + 5]:
        previous = chosen[-1]
        near = previous.bottom - line.top < 1.6 * max(previous.size, 1.0)
        same = abs(line.size - first.size) <= 0.5 and near and _is_candidate(line, body, height)
        if not same or (not distinct and not (line.text.isupper() and first.text.isupper())):
            break
        chosen.append(line)
    return chosen


def tidy_title(text: str) -> str:
    text = normalize(text).replace("\n", " ")
    text = re.sub(rf"[{re.escape(_MARKERS)}]+", "", text)
    text = re.sub(r"(?<=\w)\{(?=\w)", "–", text)  # old TeX fonts (OT1) put the en dash at "{"
    text = re.sub(r"\s+", " ", text).strip(" .,:;")
    if text.isupper() and len(text) > 12:
        small = {
            "a",
            "an",
            "and",
            "as",
            "at",
            "by",
            "for",
            "from",
            "in",
            "of",
            "on",
            "or",
            "the",
            "to",
            "with",
        }
        words = text.lower().split(" ")
        text = " ".join(
            w if (i and w in small) else "-".join(p[:1].upper() + p[1:] for p in w.split("-"))
            for i, w in enumerate(words)
        )
    return text


def _plausible_meta_title(title: str) -> bool:
    lowered = title.lower().strip()
    return (
        len(title.split()) >= 2
        and not lowered.endswith((".dvi", ".doc", ".docx", ".pdf", ".tex", ".ps"))
        and not lowered.startswith(("microsoft word", "untitled", "proceedings template", "slide"))
        and not _JUNK_TITLE.match(title)
    )


def _folded(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", unicodedata.normalize("NFKC", text).lower())


def choose_title(lines: list[Line], pdf: RawPdf) -> str | None:
    """The title from page 1's layout, or the document information's where page 1 shows that title."""
    meta = tidy_title(pdf.metadata.get("Title", ""))
    first_page = _folded(pdf.pages[0]) if pdf.pages else ""
    folded = _folded(meta)
    if meta and _plausible_meta_title(meta) and folded and folded in first_page:
        return meta
    if lines:
        title = tidy_title(" ".join(line.text for line in lines))
        if title and not ARXIV_STAMP.search(title) and not _JUNK_TITLE.match(title):
            return title
    if meta and _plausible_meta_title(meta):
        return meta
    return None


def find_abstract(page: str) -> str | None:
    """The text after page 1's "Abstract" heading, up to the next heading (at most about 400 words)."""
    lines = page.split("\n")
    for number, line in enumerate(lines):
        head = _ABSTRACT_HEAD.match(line)
        if not head:
            continue
        taken = [line[head.end() :]] if line[head.end() :].strip() else []
        for following in lines[number + 1 :]:
            if (
                _SECTION.match(following)
                or _HEADING.match(following)
                or sum(len(t.split()) for t in taken) > 400
            ):
                break
            taken.append(following)
        text = " ".join(t.strip() for t in taken).strip()
        if len(text.split()) >= 20:
            return text
    return None


def _names(text: str) -> list[str]:
    text = normalize(text).replace("\n", " ")
    text = re.sub(rf"[{re.escape(_MARKERS)}\d]+", ",", text)
    text = re.sub(r"(?<=[a-z])ID\b", "", text)  # an ORCID badge read as text ("BovenID")
    parts = re.split(r",|;|\band\b|&|·|\|", text)
    out: list[str] = []
    for part in parts:
        words = part.split()
        if not words:
            continue
        if not all(_NAME_WORD.match(w) for w in words):
            return []  # not a line of names
        plain = all(len(w) > 2 and w[0].isupper() and "." not in w for w in words)
        if len(words) > 4 and any(len(w) == 1 for w in words):
            # initials before each family name, set apart by space alone ("S E Robertson S Walker")
            name: list[str] = []
            for word in words:
                name.append(word)
                if len(word.rstrip(".")) > 1:
                    out.append(" ".join(name))
                    name = []
        elif (len(words) > 4 and len(words) % 2 == 0) or (len(words) == 4 and plain):
            # names set apart by space alone: two words each
            out += [" ".join(words[i : i + 2]) for i in range(0, len(words), 2)]
        elif 2 <= len(words) <= 4:
            out.append(" ".join(words))
        else:
            return []
    return out


def find_authors(lines: list[Line], title: list[Line]) -> list[str]:
    """Names on the lines after the title and before the abstract (or the body)."""
    start = lines.index(title[-1]) + 1
    authors: list[str] = []
    for line in lines[start : start + 25]:
        if _ABSTRACT_HEAD.match(line.text) or _SECTION.match(line.text):
            break
        if line.size > title[0].size - 0.5 or _AFFILIATION.search(line.text):
            continue
        for name in _names(line.text):
            if name not in authors:
                authors.append(name)
    return authors[:50]
