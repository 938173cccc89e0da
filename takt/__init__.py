"""Takt: work orders and MES for small factories."""

__version__ = "0.1.0"
