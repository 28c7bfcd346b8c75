"""Alerts (privacy officer, admin): what the alert rules see now, and every alert recorded."""

import json

import streamlit as st

from app.core import alerts
from app.ui import state

actor = state.require_actor()
platform = state.platform()

st.title("Alerts")
st.caption("Rules on the audit log and the privacy ledger: failed sign-in bursts, download bursts, budgets nearly "
           "spent, and an audit chain that fails verification. The worker checks them every minute, records each "
           "new alert in the audit log and, when configured, sends it to the alert webhook.")

# Reading the recorded alerts goes through the service (view_audit: administrators and privacy
# officers; audited). Only when that is allowed are the rules evaluated for this page.
recorded = state.call(platform.audit_log, actor, action="alert", newest=True, limit=200)
if recorded is not None:
    st.subheader("Active now")
    active = alerts.evaluate(platform, platform.now())
    if not active:
        st.success("No rule is firing.")
    for alert in active:
        (st.error if alert.severity == "critical" else st.warning)(f"**{alert.rule}**: {alert.message}")
    st.subheader("Recorded")
    if recorded:
        st.dataframe([{"At (UTC)": e.at[:19].replace("T", " "), "Rule": e.details.get("rule"),
                       "Severity": e.details.get("severity"), "Message": e.details.get("message"),
                       "Details": json.dumps({k: v for k, v in e.details.items()
                                              if k not in ("rule", "severity", "message")}, sort_keys=True)}
                      for e in reversed(recorded)], hide_index=True, width="stretch")
    else:
        st.caption("No alert has been recorded.")
