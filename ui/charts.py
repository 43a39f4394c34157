"""The Progress view's pictures, each with its figures in words for a screen reader, built without Streamlit.

Every chart is an Altair (Vega-Lite) spec that stretches to its container (a phone is 390 px wide) and uses
colours that read on both the light and the dark theme (Okabe and Ito's, as the topic map does); axes and text
take the page theme's colours from Streamlit. Every function returns (chart, text): the text says what the chart
shows, number by number, and goes under it as a caption.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Mapping, Sequence

from progress.stats import ForecastDay, TopicReadiness

NOW_COLOUR, LATER_COLOUR, NEW_COLOUR = "#56B4E9", "#E69F00", "#E69F00"  # sky blue, orange (Okabe-Ito)
REVIEW_COLOUR = "#0072B2"
CALENDAR_RANGE = ("#9E9E9E40", "#009E73")  # no reviews: a faint grey either theme shows; most: bluish green
CALENDAR_WEEKS = 16
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def percent(value: float) -> str:
    return f"{value:.0%}"


def readiness_chart(topics: Sequence[TopicReadiness]):
    """Bars of readiness per topic (weakest first); with an interview date, a second bar for the day itself."""
    import altair as alt
    import pandas as pd

    ordered = sorted(topics, key=lambda t: (t.readiness, t.topic))
    rows = [{"topic": t.topic, "when": "now", "readiness": t.readiness, "questions": t.questions} for t in ordered]
    dated = any(t.at_interview is not None for t in ordered)
    if dated:
        rows += [{"topic": t.topic, "when": "at the interview, with no more practice", "readiness": t.at_interview,
                  "questions": t.questions} for t in ordered]
    data = pd.DataFrame(rows)
    chart = alt.Chart(data).mark_bar().encode(
        y=alt.Y("topic:N", sort=[t.topic for t in ordered], title=None),
        x=alt.X("readiness:Q", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%", title="predicted recall")),
        color=alt.Color("when:N", scale=alt.Scale(range=[NOW_COLOUR, LATER_COLOUR]),
                        legend=alt.Legend(orient="bottom", title=None) if dated else None),
        yOffset=alt.YOffset("when:N") if dated else alt.value(0),
        tooltip=[alt.Tooltip("topic:N"), alt.Tooltip("when:N"), alt.Tooltip("readiness:Q", format=".0%"),
                 alt.Tooltip("questions:Q")],
    ).properties(height=max(120, (36 if dated else 24) * len(ordered)))
    parts = []
    for t in ordered:
        later = f", {percent(t.at_interview)} at the interview" if t.at_interview is not None else ""
        parts.append(f"{t.topic} {percent(t.readiness)}{later} ({t.questions} question{'s' if t.questions != 1 else ''})")
    text = "Readiness per topic, weakest first: " + "; ".join(parts) + "." if parts else "No topics."
    return chart, text


def forecast_chart(days: Sequence[ForecastDay], capacity: int | None):
    """Bars of the reviews planned each day (new questions and the rest), with the daily budget as a rule."""
    import altair as alt
    import pandas as pd

    rows = []
    for d in days:
        rows.append({"day": d.day.isoformat(), "kind": "new questions", "reviews": d.new})
        rows.append({"day": d.day.isoformat(), "kind": "reviews", "reviews": len(d.questions) - d.new})
    data = pd.DataFrame(rows, columns=["day", "kind", "reviews"])
    bars = alt.Chart(data).mark_bar().encode(
        x=alt.X("day:O", title=None, axis=alt.Axis(labelAngle=-45, labelExpr="slice(datum.value, 5)")),
        y=alt.Y("sum(reviews):Q", title="questions"),
        color=alt.Color("kind:N", scale=alt.Scale(domain=["reviews", "new questions"],
                                                  range=[REVIEW_COLOUR, NEW_COLOUR]),
                        legend=alt.Legend(orient="bottom", title=None)),
        tooltip=[alt.Tooltip("day:O"), alt.Tooltip("kind:N"), alt.Tooltip("reviews:Q", title="questions")],
    )
    chart = bars.properties(height=220)
    busiest = max(days, key=lambda d: len(d.questions), default=None)
    total = sum(len(d.questions) for d in days)
    if not days:
        return chart, "Nothing planned: the interview day has come."
    text = (f"{total} question-days planned over {len(days)} days, {days[0].day:%d %b} to {days[-1].day:%d %b}; "
            f"today {len(days[0].questions)} ({days[0].new} new); busiest {busiest.day:%a %d %b} with "
            f"{len(busiest.questions)}. Per day: " + ", ".join(f"{d.day:%d %b} {len(d.questions)}" for d in days) + ".")
    if capacity is not None:
        text += f" Each day fits {capacity} reviews (a new question takes two: it has a learning step)."
    return chart, text


def calendar_chart(calendar: Mapping[date, int], today: date, weeks: int = CALENDAR_WEEKS):
    """The review history as a heat map: one square per day of the last `weeks` weeks, a column per week."""
    import altair as alt
    import pandas as pd

    first = today - timedelta(days=today.weekday()) - timedelta(weeks=weeks - 1)
    rows = []
    for k in range((today - first).days + 1):
        day = first + timedelta(days=k)
        rows.append({"day": day.isoformat(), "week": (first + timedelta(weeks=k // 7)).isoformat(),
                     "weekday": WEEKDAYS[day.weekday()], "reviews": calendar.get(day, 0)})
    data = pd.DataFrame(rows)
    top = max(1, max(calendar.values(), default=0))
    chart = alt.Chart(data).mark_rect(cornerRadius=2).encode(
        x=alt.X("week:O", title=None, axis=alt.Axis(labelExpr="slice(datum.value, 5)", labelAngle=-45)),
        y=alt.Y("weekday:O", sort=list(WEEKDAYS), title=None),
        color=alt.Color("reviews:Q", scale=alt.Scale(domain=[0, top], range=list(CALENDAR_RANGE)),
                        legend=alt.Legend(orient="bottom", title="reviews a day")),
        tooltip=[alt.Tooltip("day:N"), alt.Tooltip("reviews:Q")],
    ).properties(height=180)
    shown = {d: n for d, n in calendar.items() if first <= d <= today}
    if not shown:
        return chart, f"No reviews in the last {weeks} weeks."
    best = max(shown, key=lambda d: (shown[d], d))
    text = (f"{sum(shown.values())} reviews on {len(shown)} of the last {(today - first).days + 1} days; most on "
            f"{best:%a %d %b} ({shown[best]}). Days with reviews: "
            + ", ".join(f"{d:%d %b} {n}" for d, n in sorted(shown.items())) + ".")
    return chart, text
