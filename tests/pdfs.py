"""PDFs made for the tests: real papers set with pdflatex (one and two columns, ligatures, hyphenation, a
running head, a references section, an arXiv stamp in the left margin), and hostile files (empty,
truncated, not a PDF, encrypted, a scan with no text layer, a decompression bomb).

pdflatex (Debian's texlive-latex-base, which CI installs) is needed for the papers; without it the tests
that use them skip and say so.
"""

from __future__ import annotations

import shutil
import subprocess
import zlib
from pathlib import Path

import pytest

HAVE_LATEX = shutil.which("pdflatex") is not None
needs_latex = pytest.mark.skipif(
    not HAVE_LATEX, reason="pdflatex is not installed (apt install texlive-latex-base)"
)

TITLE = "Sequentially Dependent Draft Heads for Efficient Speculative Decoding"
AUTHORS = ["Zachary Ankner", "Rishab Parthasarathy", "Aniruddha Nrusimha"]
ARXIV_ID = "2402.05109"
ABSTRACT = (
    "To combat the memory bandwidth-bound nature of autoregressive decoding, we study draft head "
    "architectures that predict several tokens ahead. Our heads are sequentially dependent: each draft "
    "head reads the base model's hidden state and the tokens proposed before it, which improves the "
    "acceptance of the speculated continuation without a separate draft model."
)
# Words with ligatures (fi, fl, ffi, ff) and long words that LaTeX hyphenates in a narrow column.
BODY = (
    "The efficient office workflow shows a significant fluctuation in affine coefficients. "
    "Characteristically, internationalization and electroencephalography demonstrate incomprehensibility "
    "of counterrevolutionaries, notwithstanding straightforward implementations of the "
    "transformer architecture. "
)
SECRET_SENTENCE = "The draft heads share the key value cache with the base model on page two"


def paper_tex(
    title: str = TITLE,
    two_column: bool = False,
    stamp: str | None = None,
    pages: int = 3,
    references: bool = True,
) -> str:
    """A paper in LaTeX: title, authors, abstract, sections spread over about `pages` pages."""
    options = "twocolumn," if two_column else ""
    stamp_tex = ""
    if stamp:
        # arXiv's stamp: large grey text turned upright in page 1's left margin (the kernel's shipout hook).
        stamp_tex = (
            r"\AddToHookNext{shipout/foreground}{\put(1.2cm,-19cm){\rotatebox{90}{\fontsize{20}{24}"
            r"\selectfont\textsf{" + stamp + r"}}}}"
        )
    sections = []
    for number in range(1, pages + 1):
        text = BODY * 9
        if number == 2:
            text += SECRET_SENTENCE + ". " + BODY * 3
        sections.append(rf"\section{{Part {number}}}" + text + r"\newpage")
    bibliography = ""
    if references:
        bibliography = (
            r"\begin{thebibliography}{9}"
            r"\bibitem{a} A. Author. A cited paper on caches. \emph{Journal of Examples}, 2020."
            r"\bibitem{b} B. Writer. Another cited paper. In \emph{Proceedings of Tests}, 2021."
            r"\end{thebibliography}"
        )
    return (
        rf"\documentclass[{options}11pt]{{article}}"
        r"\usepackage{graphicx}"
        r"\pagestyle{myheadings}\markright{Running head of the test paper}"
        + stamp_tex
        + rf"\title{{{title}}}\author{{{AND.join(AUTHORS)}}}\date{{}}"
        r"\begin{document}"
        + r"\maketitle\begin{abstract}"
        + ABSTRACT
        + r"\end{abstract}"
        + "".join(sections)
        + bibliography
        + r"\end{document}"
    )


AND = r" \and "


def latex_pdf(folder: Path, name: str, tex: str) -> Path:
    """Set `tex` with pdflatex in `folder`; the PDF's path."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.tex").write_text(tex, encoding="utf-8")
    result = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", f"{name}.tex"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-2000:]
    return folder / f"{name}.pdf"


def encrypted(source: Path, target: Path, password: str = "secret") -> Path:
    """A copy of `source` that opens only with a password."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for page in PdfReader(source).pages:
        writer.add_page(page)
    writer.encrypt(user_password=password, owner_password=password + "-owner", algorithm="AES-128")
    with open(target, "wb") as handle:
        writer.write(handle)
    return target


def raw_pdf(objects: list[bytes]) -> bytes:
    """A PDF from its objects (1 0 obj ... in order), with a correct cross-reference table."""
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def _stream(data: bytes, compressed: bool = False) -> bytes:
    extra = b" /Filter /FlateDecode" if compressed else b""
    return b"<< /Length %d%s >>\nstream\n" % (len(data), extra) + data + b"\nendstream"


def image_only_pdf(target: Path) -> Path:
    """A scan: one page with one image drawn on it, and no text at all."""
    pixels = bytes((x * y) % 256 for y in range(64) for x in range(64))
    image = (
        b"<< /Type /XObject /Subtype /Image /Width 64 /Height 64 /ColorSpace /DeviceGray "
        b"/BitsPerComponent 8 /Length %d >>\nstream\n" % len(pixels) + pixels + b"\nendstream"
    )
    content = b"q 500 0 0 700 50 50 cm /Im0 Do Q"
    target.write_bytes(
        raw_pdf(
            [
                b"<< /Type /Catalog /Pages 2 0 R >>",
                b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
                b"/Resources << /XObject << /Im0 5 0 R >> >> >>",
                _stream(content),
                image,
            ]
        )
    )
    return target


def bomb_pdf(target: Path, megabytes: int = 400) -> Path:
    """A decompression bomb: a page whose content stream is a few hundred kB that inflates to
    `megabytes` MB."""
    packer = zlib.compressobj(1)
    chunk = b" " * 2**20
    data = b"".join(packer.compress(chunk) for _ in range(megabytes)) + packer.flush()
    target.write_bytes(
        raw_pdf(
            [
                b"<< /Type /Catalog /Pages 2 0 R >>",
                b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
                _stream(data, compressed=True),
            ]
        )
    )
    return target
