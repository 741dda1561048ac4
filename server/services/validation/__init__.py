"""Upload validation: plain functions per geometry family and per common field.

A batch is read whole and every offending field is reported with its path
(``annotations[17].box.width``) before anything is written.
"""

from sliceboard.services.validation.issues import Issues
from sliceboard.services.validation.rows import (
    check_row_limit,
    validate_annotations,
    validate_items,
    validate_predictions,
)

__all__ = [
    "Issues",
    "check_row_limit",
    "validate_annotations",
    "validate_items",
    "validate_predictions",
]
