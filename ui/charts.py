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
# the width follows the page; the height is the plot's own, axes and legend added (Vega's "fit" would squeeze the
# plot into the height to make room for them)
FIT_WIDTH = {"type": "fit-x", "contains": "padding"}
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def percent(value: float) -> str:
    return f"{value:.0%}"


def readiness_chart(topics: Sequence[TopicReadiness]):
    """Bars of readiness per topic (weakest first); with an interview date, a second bar for the day itself."""
    import altair as alt
    import pandas as pd

    ordered = sorted(topics, key=lambda t: (t.readiness, t.topic))
    data = pd.DataFrame([{"topic": t.topic, "now": t.readiness, "at the interview": t.at_interview,
                          "questions": t.questions} for t in ordered])
    y = alt.Y("topic:N", sort=[t.topic for t in ordered], title=None)
    tooltip = [alt.Tooltip("topic:N"), alt.Tooltip("now:Q", format=".0%"), alt.Tooltip("questions:Q")]
    x_axis = alt.Axis(format="%", title="predicted recall")
    chart = alt.Chart(data).mark_bar(color=NOW_COLOUR).encode(
        y=y, x=alt.X("now:Q", scale=alt.Scale(domain=[0, 1]), axis=x_axis), tooltip=tooltip)
    if any(t.at_interview is not None for t in ordered):
        # a tick where each topic will stand on the interview day if practice stopped now
        ticks = alt.Chart(data).mark_tick(color=LATER_COLOUR, thickness=3, size=18).encode(
            y=y, x=alt.X("at the interview:Q", scale=alt.Scale(domain=[0, 1])),
            tooltip=tooltip + [alt.Tooltip("at the interview:Q", format=".0%")])
        chart = chart + ticks
    chart = chart.properties(height=alt.Step(26), autosize=FIT_WIDTH)
    parts = []
    for t in ordered:
        later = f", {percent(t.at_interview)} at the interview" if t.at_interview is not None else ""
        parts.append(f"{t.topic} {percent(t.readiness)}{later} ({t.questions} question{'s' if t.questions != 1 else ''})")
    text = "Readiness per topic, weakest first: " + "; ".join(parts) + "." if parts else "No topics."
    if any(t.at_interview is not None for t in ordered):
        text += " Bars: now; orange ticks: on the interview day if you stopped practising today."
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
        y=alt.Y("sum(reviews):Q", title="questions", axis=alt.Axis(tickMinStep=1, format="d")),
        color=alt.Color("kind:N", scale=alt.Scale(domain=["reviews", "new questions"],
                                                  range=[REVIEW_COLOUR, NEW_COLOUR]),
                        legend=alt.Legend(orient="bottom", title=None)),
        tooltip=[alt.Tooltip("day:O"), alt.Tooltip("kind:N"), alt.Tooltip("reviews:Q", title="questions")],
    )
    chart = bars.properties(height=200, autosize=FIT_WIDTH)
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
    ).properties(height=alt.Step(18), autosize=FIT_WIDTH)
    shown = {d: n for d, n in calendar.items() if first <= d <= today}
    if not shown:
        return chart, f"No reviews in the last {weeks} weeks."
    best = max(shown, key=lambda d: (shown[d], d))
    total = sum(shown.values())
    text = (f"{total} review{'s' if total != 1 else ''} on {len(shown)} of the last {(today - first).days + 1} days; most on "
            f"{best:%a %d %b} ({shown[best]}). Days with reviews: "
            + ", ".join(f"{d:%d %b} {n}" for d, n in sorted(shown.items())) + ".")
    return chart, text
