"""Read stage: the run summary (`build`) and its rows and columns (`rows`)."""

from .build import compare, gains, settings, store_settings, summarize, summarize_segmentation
from .rows import (
    ACCURACY_COLUMNS,
    COMPARISON_COLUMNS,
    GAIN_COLUMNS,
    SEGMENTATION_COLUMNS,
    ComparisonRow,
    GainRow,
    Interval,
    SegmentationRow,
    SummaryRow,
    as_cells,
    interval_note,
    lead_cells,
    lead_columns,
    summary_json,
)

__all__ = [
    "compare",
    "gains",
    "settings",
    "store_settings",
    "summarize",
    "summarize_segmentation",
    "ACCURACY_COLUMNS",
    "COMPARISON_COLUMNS",
    "GAIN_COLUMNS",
    "SEGMENTATION_COLUMNS",
    "ComparisonRow",
    "GainRow",
    "Interval",
    "SegmentationRow",
    "SummaryRow",
    "as_cells",
    "interval_note",
    "lead_cells",
    "lead_columns",
    "summary_json",
]
