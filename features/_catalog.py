"""Feature catalog (filled by the features layer)."""

from __future__ import annotations

from features.registry import FeatureSpec

CATALOG: tuple[FeatureSpec, ...] = ()
