"""Shared core used by every paper package: paths, io, checksums, params, seeding, plotting,
metrics, runner, report. Nothing here imports a paper package (``lib.ecg``, ``lib.arxiv``,
``lib.eye``, ``lib.bias``); the runner and the report find those by name only.
"""
