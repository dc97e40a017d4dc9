"""Placeholder: this command group is registered by its owner module."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this group's commands to the app (none yet)."""
