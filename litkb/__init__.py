"""litkb: a literature knowledge base. `KnowledgeBase.open(path)` is the Python API."""

from __future__ import annotations

from .errors import LitkbError
from .kb import KnowledgeBase, SearchResult

__all__ = ["KnowledgeBase", "LitkbError", "SearchResult"]
__version__ = "0.2.0"
