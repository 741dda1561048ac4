"""Upload validation: plain functions per geometry family and per common field.

A batch is read whole and every offending field is reported with its path
(``annotations[17].box.width``) before anything is written.
"""

from server.services.validation.issues import Issues
from server.services.validation.rows import (
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
