"""Reproduction package for four ML papers: a thin shared core and one package per paper.

- ``lib.core``: paths, file I/O, checksums, parameters, seeding, plotting, metrics, runner, report.
- ``lib.ecg``: notebook 01 (ODAL, ECG arrhythmia with deep active learning).
- ``lib.arxiv``: notebook 02 (arXiv topics with a frozen BERT encoder).
- ``lib.eye``: notebook 03 (eye disease, MobileNetV2 features and a self-organizing map).
- ``lib.bias``: notebook 04 (six objectives on biased data, ResNet18, mini-batch CKA).

The core never imports a paper package.
"""

__version__ = "0.1.0"
