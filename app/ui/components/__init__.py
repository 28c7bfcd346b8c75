"""Presentation-only building blocks of the dashboard (no service calls that change state)."""
