"""The topic map's picture: question vectors projected to two dimensions, so neighbours on the page are related,
with short labels placed where they collide with nothing, and colours and shapes told apart by everyone."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np


def project_2d(vectors) -> np.ndarray:
    """PCA of the rows of `vectors` onto their first two principal axes, as an (n, 2) float array.

    Deterministic: each axis's sign is fixed so that its largest coordinate is positive. Fewer than three
    rows (or no spread) still give an (n, 2) array.
    """
    x = np.asarray(vectors, dtype=np.float64)
    if x.ndim != 2 or len(x) == 0:
        return np.zeros((0, 2))
    centred = x - x.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    axes = np.zeros((2, x.shape[1]))
    axes[:min(2, len(vt))] = vt[:2]
    points = centred @ axes.T
    for j in range(2):
        col = points[:, j]
        if len(col) and col[np.argmax(np.abs(col))] < 0:
            points[:, j] = -col
    return points


# Okabe and Ito's colours, told apart with every common colour-vision deficiency (black left out: the dark
# theme); each topic also has its own shape, so colour is never the only cue.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442")
# Readiness from 0 to 1: vermillion, orange, bluish green (Okabe-Ito), each readable on a light and a dark page.
READINESS_RANGE = ("#D55E00", "#E69F00", "#009E73")
SHAPES = ("circle", "square", "triangle-up", "diamond", "triangle-down", "cross", "triangle-right")
_LEAD = re.compile(r"^(?:what|how|why|when|which)(?:\s+(?:is|are|does|do|did|the|a|an|you|we|need))*\s+", re.I)


def short_title(title: str, question_id: str, limit: int = 28) -> str:
    """A map label for a question: its subject from the title ("What is feature leakage, and how …?" → "Feature
    leakage"), or the id in words when the title does not reduce to a short one."""
    text = re.split(r",\s+(?:and|how|why|when)\s+", title.split("?")[0], maxsplit=1)[0]
    text = _LEAD.sub("", text.strip())
    if re.match(r"the difference between\s+", text, re.I):
        text = re.sub(r"\s+and\s+", " vs ", re.sub(r"^the difference between\s+", "", text, flags=re.I), count=1)
    text = re.sub(r"^(?:the|a|an)\s+", "", text, flags=re.I)
    text = re.sub(r"\s+(?:work|learn)$", "", text)
    if not text or len(text) > limit:
        text = question_id.replace("-", " ")
    return text[:1].upper() + text[1:]


@dataclass(frozen=True)
class LabelBox:
    left: float
    top: float
    width: float
    height: float

    def overlaps(self, other: "LabelBox") -> bool:
        return (self.left < other.left + other.width and other.left < self.left + self.width
                and self.top < other.top + other.height and other.top < self.top + self.height)


def place_labels(points, texts, width: float, height: float, char_px: float = 6.6, line_px: float = 14,
                 dot_px: float = 9, gap_px: float = 3) -> list[LabelBox | None]:
    """Where each point's label goes on a `width` × `height` pixel plot (points in pixels, y down): beside,
    above or below its dot, never over another label or dot nor outside the plot. A label with no free place
    is left out (None); the dot keeps its tooltip."""
    dots = [LabelBox(x - dot_px, y - dot_px, 2 * dot_px, 2 * dot_px) for x, y in points]
    placed: list[LabelBox] = []
    out: list[LabelBox | None] = [None] * len(texts)
    for i in sorted(range(len(texts)), key=lambda i: (points[i][0], points[i][1])):
        (x, y), w = points[i], len(texts[i]) * char_px
        beside, above, below = y - line_px / 2, y - dot_px - gap_px - line_px, y + dot_px + gap_px
        for left, top in ((x + dot_px + gap_px, beside), (x - dot_px - gap_px - w, beside), (x - w / 2, above),
                          (x - w / 2, below), (x + dot_px, above), (x + dot_px, below), (x - dot_px - w, above),
                          (x - dot_px - w, below)):
            box = LabelBox(left, top, w, line_px)
            if (0 <= left and left + w <= width and 0 <= top and top + line_px <= height
                    and not any(box.overlaps(o) for o in placed) and not any(box.overlaps(d) for d in dots)):
                placed.append(box)
                out[i] = box
                break
    return out


def readiness_text(labels, readiness) -> str:
    """The readiness map in words, for a screen reader: the questions from least to most ready."""
    pairs = sorted(zip(readiness, labels), key=lambda p: (p[0], p[1]))
    return ("Predicted recall per question, least ready first: "
            + "; ".join(f"{label} {value:.0%}" for value, label in pairs) + ".") if pairs else "No questions."
