"""features layer: entity resolution, the feature registry and point-in-time indicators.

Public API
----------
build_feature_matrix(pairs, data, *, links=None, progress=None, ...)
    One row per (uscc, as_of) pair: every registry feature known at as_of.
resolve_entities(data, *, fuzzy_threshold=95) -> EntityLinks
    Link patents, transfer parties, credit records, programmes and nominations to firms.
pledgeable_patents(data, pairs_or_as_of, *, min_remaining_years=1.0, links=None)
build_feature_store(data, *, links, memory_limit=None)
    Build the store the two above share ahead of them; afterwards they read only the
    patents' required columns and no event column (a caller may drop the rest).
active_credit_records(credit_records, as_of), latest_tax_ratings(credit_records, as_of)
effective_end(records)
    Each credit record's listing end (its end date, else its type's default window).
rejected_event_rows(data)
    The legal-event rows the reader rejected, read again once per bundle: what the state,
    transfers and a training row's decision date still learn from them.
active_programmes(programmes, as_of)
peer_percentiles(matrix, reference, by="firm_industry_section", features=...)
peer_medians(reference, by, features, min_peers=1)
    Each peer group's median firm, feature by feature, counted as peer_percentiles counts.
registry(), by_name(), feature_names(), monotone_signs()
INPUT_COLUMNS, REQUIRED_COLUMNS
    Per canonical table, the columns this layer reads (a caller may load only these), and
    those any table given to it must have.
CATEGORICAL_COLUMNS
    Text columns whose values repeat (names in patent lists, codes): this layer reads them
    as pandas categoricals as well (``read_data_dir(categorical=...)``), with the same
    results in about half the memory at national scale.
ENTITY_ONLY_COLUMNS
    Patent and event columns only ``resolve_entities`` reads: with its links, the feature
    matrix and the pledge list are the same without them (a caller holding national-scale
    tables may drop them once the links exist).
"""

from features._credit import active_credit_records, effective_end, latest_tax_ratings
from features._engine import STORE_COLUMNS as _STORE_COLUMNS
from features._entities import EntityLinks, resolve_entities
from features._matrix import build_feature_matrix, build_feature_store, pledgeable_patents
from features._names import DEFAULT_FUZZY_THRESHOLD
from features._peer import ALL_PEERS, peer_medians, peer_percentiles
from features._programmes import active_programmes
from features._rejected_events import rejected_event_rows
from features._tables import COLUMNS as _COLUMNS
from features._tables import REPEATED as _REPEATED
from features._tables import REQUIRED as REQUIRED_COLUMNS
from features.registry import FeatureSpec, by_name, feature_names, monotone_signs, registry

INPUT_COLUMNS: dict[str, tuple[str, ...]] = {t: tuple(c) for t, c in _COLUMNS.items()}
CATEGORICAL_COLUMNS: dict[str, tuple[str, ...]] = dict(_REPEATED)
ENTITY_ONLY_COLUMNS: dict[str, tuple[str, ...]] = {
    t: tuple(c for c in INPUT_COLUMNS[t] if c not in cols) for t, cols in _STORE_COLUMNS.items()
}

__all__ = [
    "CATEGORICAL_COLUMNS",
    "DEFAULT_FUZZY_THRESHOLD",
    "ENTITY_ONLY_COLUMNS",
    "INPUT_COLUMNS",
    "REQUIRED_COLUMNS",
    "EntityLinks",
    "ALL_PEERS",
    "FeatureSpec",
    "active_credit_records",
    "effective_end",
    "active_programmes",
    "build_feature_matrix",
    "build_feature_store",
    "by_name",
    "feature_names",
    "latest_tax_ratings",
    "monotone_signs",
    "peer_medians",
    "peer_percentiles",
    "pledgeable_patents",
    "registry",
    "rejected_event_rows",
    "resolve_entities",
]
