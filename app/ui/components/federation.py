"""A federated fit's part on a page: "federated across N sites", each site's part, the trust model.

Everything shown comes from the fit's federation record in the public model info (checked when it
was registered, ``synthgen.federation.record``): no statistic of any site's table.
"""

from __future__ import annotations

import streamlit as st

from synthgen.budget import rho_to_epsilon

NOT_MEASURED = ("Utility and disclosure risk were **not measured**: the platform holds no real table of this fit "
                "(every site kept its own), so nothing can be compared with real rows here. The decision rests on "
                "the DP accounting above.")


def site_rows(fed: dict) -> list[dict]:
    """One row per site: every site answers every round and charges its own ledger that round's ρ."""
    answered = [r for r in fed["rounds"] if float(r.get("noise_scale_per_site", 0)) > 0]
    rho = sum(float(r["rho"]) for r in fed["rounds"])
    eps = rho_to_epsilon(rho, float(fed["delta"]))
    return [{"Site": name, "ε charged": round(eps, 4), "ρ charged": f"{rho:.6g}", "Rounds": len(answered),
             "Colluding c (declared)": int(fed["colluding"])} for name in fed["sites"]]


def federation_panel(fed: dict, *, release: bool = True) -> None:
    n = len(fed["sites"])
    st.markdown(f"#### Federated across {n} sites")
    st.caption(f"Federated MST fit {fed['fit_id']} run by coordinator {fed['coordinator']} at ε {float(fed['epsilon']):g}, "
               f"δ {float(fed['delta']):.0e}. No site's table is on this platform; each site's own ledger paid the "
               "fit's budget, so this dataset's budget is recorded as spent.")
    import pandas as pd

    # a plain table (HTML, not a canvas grid): a handful of rows, readable and selectable
    st.table(pd.DataFrame(site_rows(fed)).set_index("Site"))
    st.markdown(f"**Trust model:** {fed['guarantee']} (up to c = {fed['colluding']} sites may collude with the "
                "coordinator). Each site's audit log records every round with the coordinator's identity "
                "(`synthgen site status`).")
    with st.expander("Rounds"):
        st.dataframe([{"Round": r["name"], "ρ": f"{float(r['rho']):.6g}",
                       "Noise std of the sum": round(float(r["noise_std_of_sum"]), 3)} for r in fed["rounds"]],
                     hide_index=True, width="stretch")
    if release:
        st.warning(NOT_MEASURED, icon=":material/info:")
