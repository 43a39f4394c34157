"""Search over a question-bank index folder: hybrid (dense + lexical) search, grouping, related questions.

    from index import open_index
    idx = open_index()                      # build/index, verified, checked against content/
    result = idx.search("how do I detect leakage", k=5)
    result.groups[0].question               # the best question's title
    idx.related("feature-leakage", k=3)
"""

from .errors import (ContentError, ContentErrors, IndexDamaged, IndexMissing, IndexStale, ModelError, QueryError,
                     SearchToolError, UnknownQuestion)
from .model import Hit, Question, QuestionGroup, Related, SearchResult, Section
from .search import DEFAULT_CONTENT, DEFAULT_INDEX, Index, SearchConfig, open_index

__all__ = ["ContentError", "ContentErrors", "DEFAULT_CONTENT", "DEFAULT_INDEX", "Hit", "Index", "IndexDamaged",
           "IndexMissing", "IndexStale", "ModelError", "Question", "QuestionGroup", "QueryError", "Related",
           "SearchConfig", "SearchResult", "SearchToolError", "Section", "UnknownQuestion", "open_index"]
