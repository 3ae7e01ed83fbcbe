"""Static site generator for honest PyPI download-stats reports."""

__version__ = "0.1.0"
