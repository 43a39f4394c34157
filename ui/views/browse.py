"""Browse (every question under each of its topics) and the topic map (a 2-D picture of the bank)."""

from __future__ import annotations

import streamlit as st

from ..navigation import on_map_select, open_question
from ..render import escape_md
from ..resources import map_points


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


def map_view(idx, index_dir) -> None:
    import altair as alt

    st.caption("Each dot is a question; questions close together are related (a 2-D projection of their "
               "vectors). Click a dot to open it. Keyboard users: the Browse view lists the same questions.")
    data = map_points(str(index_dir), idx.version.name)
    pick = alt.selection_point(name="pick", fields=["id"], on="click")
    base = alt.Chart(data).encode(x=alt.X("x:Q", axis=None), y=alt.Y("y:Q", axis=None))
    dots = base.mark_circle(size=220, opacity=0.9).encode(
        color=alt.Color("topic:N", title="Topic"), tooltip=[alt.Tooltip("question:N", title="Question"),
                                                            alt.Tooltip("topics:N", title="Topics")],
    ).add_params(pick)
    labels = base.mark_text(align="left", dx=9, fontSize=11).encode(text="id:N")
    st.altair_chart(dots + labels, on_select=on_map_select, selection_mode="pick", key="map", height=460,
                    alt="Map of the questions, coloured by topic")
