"""Synthetic data folders that look like real exports, with a known ground-truth PD.

Public API: :class:`SampleConfig`, :func:`generate_sample`, :class:`SampleResult`,
:func:`truth_path_for`, :func:`true_pd` (the oracle formula, documented in
``screening.sample.truth``).
"""

from screening.sample.generator import SampleConfig, SampleResult, generate_sample, truth_path_for
from screening.sample.truth import true_pd

__all__ = ["SampleConfig", "SampleResult", "generate_sample", "true_pd", "truth_path_for"]
