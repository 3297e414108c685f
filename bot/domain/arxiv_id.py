"""One parser for every form of arXiv reference people paste into chat.

Pure and I/O-free, so a bad reference is refused before any request is made.
"""

from __future__ import annotations

import re
import unicodedata

from bot.domain.errors import BadReference
from bot.domain.model import ArxivId
from bot.domain.taxonomy import is_old_style_archive

ACCEPTED_FORMS = (
    "2010.00577, 2010.00577v2, arXiv:2010.00577, https://arxiv.org/abs/2010.00577, "
    "https://arxiv.org/pdf/2010.00577v1.pdf, hep-th/9901001, math.GT/0309136v1"
)
MAX_REFERENCE_LENGTH = 300

_NEW_STYLE = r"(?P<new>(?P<yymm>\d{4})\.(?P<num>\d{4,5}))"
_OLD_STYLE = r"(?P<old>[a-z][a-z\-]*(?:\.[A-Z]{2})?/\d{7})"
_BARE = re.compile(rf"^(?:{_NEW_STYLE}|{_OLD_STYLE})(?:v(?P<version>[1-9]\d{{0,3}}))?$", re.ASCII)
_URL = re.compile(
    r"^(?:https?://)?(?:www\.|export\.)?arxiv\.org/(?:abs|pdf|html|format|src)/(?P<rest>[^?#]+)(?:[?#].*)?$",
    re.IGNORECASE,
)
_PDF_SUFFIX = re.compile(r"\.pdf$", re.IGNORECASE)


def parse_arxiv_id(text: str) -> ArxivId:
    """Return the canonical id (version kept apart) or raise BadReference listing the accepted forms."""
    candidate = _strip_wrapping(unicodedata.normalize("NFKC", text[: MAX_REFERENCE_LENGTH * 2]))
    url = _URL.match(candidate)
    if url:
        candidate = url.group("rest").rstrip("/")
        candidate = _PDF_SUFFIX.sub("", candidate)
    elif candidate[:6].lower() == "arxiv:":
        candidate = candidate[6:].strip()
    match = _BARE.match(candidate)
    if not match or not _plausible(match):
        raise BadReference(f"{_shown(text)} is not an arXiv id or URL. Try one of: {ACCEPTED_FORMS}")
    old_style = match.group("old")
    if old_style and not is_old_style_archive(old_style.split("/")[0].split(".")[0]):
        archive = old_style.split("/")[0]
        raise BadReference(
            f"{_shown(text)}: arXiv never had an archive {archive!r} (old-style ids look like hep-th/9901001)"
        )
    canonical = match.group("new") or old_style
    version = match.group("version")
    return ArxivId(canonical, int(version) if version else None)


def _strip_wrapping(text: str) -> str:
    candidate = text.strip()
    if candidate.startswith("<") and candidate.endswith(">"):
        # Slack wraps links as <url> or <url|label>.
        candidate = candidate[1:-1].split("|", 1)[0].strip()
    return candidate


def _plausible(match: re.Match[str]) -> bool:
    """New-style ids are YYMM.NNNN (0704–1412) or YYMM.NNNNN (from 1501) with a real month."""
    if not match.group("new"):
        return True
    yymm, digits = match.group("yymm"), len(match.group("num"))
    month = int(yymm[2:])
    if not 1 <= month <= 12:
        return False
    return digits == 4 if int(yymm) < 1501 else digits == 5


def _shown(text: str) -> str:
    """Quote user text for an error message: printable, single-line and short."""
    cleaned = "".join(ch if ch.isprintable() else "?" for ch in text.strip())
    if len(cleaned) > 60:
        cleaned = cleaned[:57] + "…"
    return repr(cleaned) if cleaned else "An empty reference"
