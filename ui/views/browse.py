"""Browse (every question under each of its topics) and the topic map (a 2-D picture of the bank)."""

from __future__ import annotations

import streamlit as st

from ..navigation import on_map_select, open_question
from ..render import escape_md
from .. import topicmap
from ..resources import Paths, map_points


def browse_view(idx, topics) -> None:
    """Every question under each topic of the Topics filter (all topics when it is empty)."""
    if topics:
        st.caption("Topics from the Topics filter: " + escape_md(", ".join(topics)) + ".")
    else:
        st.caption("Every topic; choose some in the Topics filter to narrow the list.")
    topics = topics or idx.topics
    for topic in topics:
        st.markdown(f"**{escape_md(topic)}**")
        for q in idx.questions:
            if topic in q.topics:
                st.button(escape_md(q.title), key=f"browse-{topic}-{q.id}", on_click=open_question, args=(q.id,),
                          type="tertiary")


MAP_WIDTH, MAP_HEIGHT = 620, 440  # pixels of the plot: labels are placed for this size


def map_view(idx, index_dir) -> None:
    import altair as alt

    st.caption("Each dot is a question; questions close together are related (a 2-D projection of their "
               "vectors). Click a dot to open it. Keyboard users: the Browse view lists the same questions.")
    data = map_points(str(index_dir), idx.version.name).copy()
    by_readiness = st.segmented_control("Colour by", ["Topic", "My readiness"], key="map_colour",
                                        default="Topic") == "My readiness"
    if by_readiness:
        recall = readiness_by_question(list(data["id"]))
        if recall is None:
            by_readiness = False
        else:
            data["readiness"] = [recall[q] for q in data["id"]]
    (x0, x1), (y0, y1) = _padded(data["x"]), _padded(data["y"])
    px = (data["x"] - x0) / (x1 - x0) * MAP_WIDTH
    py = (1 - (data["y"] - y0) / (y1 - y0)) * MAP_HEIGHT
    boxes = topicmap.place_labels(list(zip(px, py)), list(data["label"]), MAP_WIDTH, MAP_HEIGHT)
    data["label_x"] = [x0 + b.left / MAP_WIDTH * (x1 - x0) if b else None for b in boxes]
    data["label_y"] = [y0 + (1 - (b.top + b.height / 2) / MAP_HEIGHT) * (y1 - y0) if b else None for b in boxes]
    topics = sorted(set(data["topic"]))
    legend = alt.Legend(orient="bottom", columns=4, title=None, symbolSize=120)
    x_scale = alt.Scale(domain=[x0, x1], nice=False, zero=False)
    y_scale = alt.Scale(domain=[y0, y1], nice=False, zero=False)
    pick = alt.selection_point(name="pick", fields=["id"], on="click")
    tooltip = [alt.Tooltip("question:N", title="Question"), alt.Tooltip("topics:N", title="Topics")]
    if by_readiness:
        color = alt.Color("readiness:Q", title="predicted recall", legend=alt.Legend(orient="bottom", format="%"),
                          scale=alt.Scale(domain=[0, 0.5, 1], range=list(topicmap.READINESS_RANGE)))
        tooltip.append(alt.Tooltip("readiness:Q", title="Predicted recall", format=".0%"))
    else:
        color = alt.Color("topic:N", scale=alt.Scale(domain=topics, range=list(topicmap.PALETTE)), legend=legend)
    dots = alt.Chart(data).mark_point(size=220, filled=True, opacity=0.95, stroke="#555555",
                                                strokeWidth=0.7).encode(
        x=alt.X("x:Q", axis=None, scale=x_scale), y=alt.Y("y:Q", axis=None, scale=y_scale), color=color,
        shape=alt.Shape("topic:N", scale=alt.Scale(domain=topics, range=list(topicmap.SHAPES)), legend=legend),
        tooltip=tooltip,
    ).add_params(pick)
    # Vega draws text black unless told: follow the page's theme (None before the browser has said: a mid grey)
    ink = {"dark": "#FAFAFA", "light": "#31333F"}.get(st.context.theme.type, "#808495")
    labels = alt.Chart(data[data["label_x"].notna()]).mark_text(align="left", baseline="middle", fontSize=11,
                                                                 color=ink).encode(
        x=alt.X("label_x:Q", axis=None, scale=x_scale), y=alt.Y("label_y:Q", axis=None, scale=y_scale),
        text="label:N")
    # "pad": the legend goes around the plot instead of shrinking it, so the plot keeps the size labels are placed for
    chart = (dots + labels).properties(width=MAP_WIDTH, height=MAP_HEIGHT,
                                       autosize=alt.AutoSizeParams(type="pad", contains="padding"))
    st.altair_chart(chart, on_select=on_map_select, selection_mode="pick", key="map", width="content",
                    alt="Map of the questions, " + ("coloured by your predicted recall, shaped by topic"
                                                    if by_readiness else "coloured and shaped by topic"))
    if by_readiness:
        st.caption(escape_md(topicmap.readiness_text(data["label"], data["readiness"])))


def readiness_by_question(ids: list[str]) -> dict[str, float] | None:
    """Each question's predicted recall now for the current learner (0 when never practised), or None after
    saying why it cannot be read."""
    from progress import ProgressError
    from progress.stats import recall

    from .. import practice
    from ..mode import error_detail
    from .progress import learner_store

    found = learner_store(Paths.from_env())
    if found is None:
        return None
    learner, store = found
    try:
        cards = store.cards(learner)
    except ProgressError as exc:
        st.error(f"Practice progress is unavailable: {escape_md(error_detail(exc, 'Reading readiness'))}")
        return None
    now = practice.now()
    return {q: recall(cards, q, now) for q in ids}


def _padded(values, share: float = 0.06) -> tuple[float, float]:
    low, high = float(values.min()), float(values.max())
    pad = (high - low) * share or 1.0
    return low - pad, high + pad
