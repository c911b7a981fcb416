"""The one device picker for torch code."""

from __future__ import annotations

DEVICES = ("auto", "cpu", "cuda")


def pick_device(device: str = "auto"):
    """``torch.device``: CUDA when available for device='auto', else the named one ('cpu' | 'cuda')."""
    import torch

    if device not in DEVICES:
        raise ValueError(f"device must be one of {DEVICES}, got {device!r}")
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(device)
