"""Practice progress per learner: FSRS spaced repetition over an append-only review log in SQLite or PostgreSQL,
the plan up to an interview date, and Anki export.

    from progress import open_store
    store = open_store()                                  # build/progress.db, or MLPREP_DATABASE(_URL)
    store.record_review("alice", "feature-leakage", "good")
    plan = store.plan("alice", [q.id for q in idx.questions], interview=date(2027, 1, 15))
    plan.queue, plan.due_today, plan.left_before_interview

`progress.store` owns the database format, `progress.schedule` the FSRS cards and the plan, `progress.anki` the
deck export; `python -m progress --help` is the command line. Nothing here imports streamlit or writes to the
question bank or the index.
"""

from .errors import (InvalidLearner, InvalidQuestionId, InvalidRating, ProgressDamaged, ProgressError, ProgressLocked,
                     ProgressSchemaTooNew, ProgressUnavailable)
from .schedule import CardState, Plan, PlanItem, parse_rating, plan, replay, review, weak_questions
from .store import DEFAULT_LEARNER, ImportResult, ProgressStore, Review, learner_name, open_store

__all__ = ["CardState", "DEFAULT_LEARNER", "ImportResult", "InvalidLearner", "InvalidQuestionId", "InvalidRating",
           "Plan", "PlanItem", "ProgressDamaged", "ProgressError", "ProgressLocked", "ProgressSchemaTooNew",
           "ProgressStore", "ProgressUnavailable", "Review", "learner_name", "open_store", "parse_rating", "plan",
           "replay", "review", "weak_questions"]
