"""Release card embed and the evaluation summary (verdicts with their reasons inline)."""

from __future__ import annotations

import html as html_lib

import streamlit as st

from app.ui.components import verdicts

VERDICT_ICON = verdicts.VERDICT_WORD
STATE_LABEL = {
    "draft": "queued", "running": "running", "failed": "failed", "evaluated": "waiting for review",
    "second_review": "waiting for a second officer",
    "approved": "approved", "rejected": "rejected", "published": "published", "revoked": "revoked",
}
_BADGE = {"pass": "green", "fail": "red", "inconclusive": "orange", "info": "gray"}


def card_frame(card_html: str, *, height: int) -> str:
    """The wrapper page embedded by :func:`embed_card`.

    Why a nested frame: a ``data:`` URL is refused by Chromium above 2 MB (an empty frame, no
    error), so the card travels in the ``srcdoc`` attribute instead, which has no size limit.
    Streamlit's own HTML iframes run scripts with the dashboard's origin, and the card quotes
    values from the data; so the card goes one level deeper, in an ``<iframe sandbox>`` with no
    permissions at all: no scripts, an opaque origin, no access to the dashboard's session. The
    outer page is only this fixed markup; the card is attribute-escaped into it."""
    return ("<!doctype html><html><head><meta charset='utf-8'><style>html,body{margin:0;height:100%}"
            "iframe{border:0;width:100%;height:100%}</style></head><body>"
            f"<iframe sandbox title='Release card' style='height:{int(height)}px' "
            f"srcdoc=\"{html_lib.escape(card_html, quote=True)}\"></iframe></body></html>")


def embed_card(card_html: str, *, height: int = 900, file_name: str = "release-card.html") -> None:
    """Show the self-contained card in the page (any size) and offer it as a file."""
    st.iframe(card_frame(card_html, height=height), height=height + 8)
    st.download_button("Download the card (HTML)", data=card_html.encode("utf-8"), file_name=file_name,
                       mime="text/html", icon=":material/download:", key=f"card_dl_{file_name}")


_MD_SPECIAL = str.maketrans({c: "\\" + c for c in "\\`*_[]<>#|~$:"})


def md(text: str) -> str:
    """Text (which may quote column names from the data) shown literally inside markdown."""
    return str(text).translate(_MD_SPECIAL)


def verdict_label(verdict: str | None) -> str:
    return VERDICT_ICON.get(verdict or "", verdict or "—")


def verdict_badge(verdict: str | None) -> str:
    """Markdown badge of a verdict (colour and word, so it reads without colour too)."""
    v = verdict or "info"
    return f":{_BADGE.get(v, 'gray')}-badge[{verdict_label(v)}]"


def metrics_table(report: dict) -> None:
    """Every gate with its verdict, its figures and the reason of the verdict on the same line."""
    rows = verdicts.rows(report)
    if not rows:
        st.caption("The report has no metrics.")
        return
    groups = (("risk", "Privacy risk", "lower is better; the interval is the 95 % uncertainty of the attack "
                                       "estimate"),
              (None, "Utility", "how faithful the synthetic table is to the real one"))
    for group, title, hint in groups:
        chosen = [r for r in rows if (r["group"] == "risk") == (group == "risk")]
        if not chosen:
            continue
        st.markdown(f"**{title}** ({hint})")
        for r in chosen:
            interval = f" · interval {r['interval']}" if r["interval"] != "—" else ""
            st.markdown(f"{verdict_badge(r['verdict'])} **{md(r['metric'])}**: {r['value']}{interval}. "
                        f"*Why:* {md(r['reason'])}.")
            if r["what"]:
                st.caption(f"What it measures: {md(r['what'])}")
