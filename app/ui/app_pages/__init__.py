"""Dashboard pages (each file is a Streamlit page script) and the role → pages navigation map.

The map only decides what appears in the sidebar. It grants nothing: the service layer
authorizes every call again (``app/core/authz_matrix.toml``).
"""

PAGES: dict[str, tuple[str, str]] = {
    "datasets": ("Datasets", ":material/table_chart:"),
    "new_release": ("New release", ":material/rocket_launch:"),
    "review": ("Review", ":material/gavel:"),
    "releases": ("Releases", ":material/inventory_2:"),
    "audit": ("Audit", ":material/receipt_long:"),
    "alerts": ("Alerts", ":material/notifications_active:"),
    "admin": ("Admin", ":material/admin_panel_settings:"),
    "account": ("My account", ":material/person:"),
}

ROLE_PAGES: dict[str, tuple[str, ...]] = {
    "data_owner": ("datasets", "new_release", "releases", "account"),
    "privacy_officer": ("review", "audit", "alerts", "account"),
    "ml_engineer": ("releases", "account"),
    "admin": ("admin", "datasets", "audit", "alerts", "account"),
}


def pages_for_role(role: str) -> tuple[str, ...]:
    return ROLE_PAGES.get(role, ("account",))
