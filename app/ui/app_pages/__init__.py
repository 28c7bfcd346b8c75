"""Dashboard pages (each file is a Streamlit page script) and the role → pages navigation map.

The map only decides what appears in the sidebar. It grants nothing: the service layer
authorizes every call again (``app/core/authz_matrix.toml``).
"""

PAGES: dict[str, tuple[str, str]] = {
    "datasets": ("Datasets", "🗂️"),
    "new_release": ("New release", "🚀"),
    "review": ("Review", "⚖️"),
    "releases": ("Releases", "📦"),
    "audit": ("Audit", "📜"),
    "admin": ("Admin", "🛠️"),
    "account": ("My account", "👤"),
}

ROLE_PAGES: dict[str, tuple[str, ...]] = {
    "data_owner": ("datasets", "new_release", "releases", "account"),
    "privacy_officer": ("review", "audit", "account"),
    "ml_engineer": ("releases", "account"),
    "admin": ("admin", "datasets", "audit", "account"),
}


def pages_for_role(role: str) -> tuple[str, ...]:
    return ROLE_PAGES.get(role, ("account",))
