"""Validation: the rule library, the vectorised engine and its reports."""

from aedx.validation.engine import Options, validate_file
from aedx.validation.report import Report

__all__ = ["Options", "Report", "validate_file"]
