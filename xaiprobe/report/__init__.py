"""The report: sections written by the stages, rendered into one self-contained HTML file."""
from ._section import Figure, Section, Table

__all__ = ["Section", "Table", "Figure"]
