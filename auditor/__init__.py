"""auditor: erase backdoors from image classifiers without clean data."""

__version__ = "0.1.0"
