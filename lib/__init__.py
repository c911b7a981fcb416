"""Thin shared library for the four-paper reproduction package.

Modules are flat and named for one concept each (see README.md, "Layout").
"""

__version__ = "0.1.0"
