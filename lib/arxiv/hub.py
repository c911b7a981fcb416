"""Facts about the paper's encoder on the Hugging Face hub and the local hub cache (notebook 02).

Its own module so that the data layer (:func:`lib.arxiv.data.prepare_paper` names what is missing) and the encoder
both read it without importing each other.
"""

from __future__ import annotations

from pathlib import Path

PAPER = "distilbert-base-cased"
#: the paper's encoder on the Hugging Face hub (the old id ``distilbert-base-cased`` redirects there) and the commit we
#: pin. Source of the revision: public code that pins this model to it, e.g. revision tables
#: ``'distilbert-base-cased': '6ea8117...'`` and the hub-cache paths
#: ``models--distilbert--distilbert-base-cased/snapshots/6ea8117...`` (found with a code search, December 2026; the
#: snapshot folder name of the hub cache is the repository commit).
PAPER_REPOS = ("distilbert/distilbert-base-cased", "distilbert-base-cased")
PAPER_REVISION = "6ea81172465e8b0ad3fddeed32b986cdcdcffcf0"
#: sha256 of the files of that revision (model.safetensors, config.json, vocab.txt, tokenizer.json,
#: tokenizer_config.json): NOT FOUND in any source reachable here, so none is pinned (no value is made up).
#: Meanwhile the hub cache's own check applies (model.safetensors is stored as a blob named by its sha256, which
#: :func:`lib.arxiv.encoder.model_files` compares), and every file's hash enters the cache key and the metrics.
#: Fill this from the hub's file pages ("SHA256" of each file) to make a mismatch an error, as for
#: :data:`lib.arxiv.encoder.PACKAGED_SHA256`.
PAPER_SHA256: dict[str, str] = {}


def hf_cache_dir(model_id: str = PAPER, cache_dir=None) -> Path:
    """Snapshot folder of ``model_id`` in the local Hugging Face cache (or ``cache_dir``); never downloads.

    The paper's encoder is looked up at :data:`PAPER_REVISION` under either of its hub ids (:data:`PAPER_REPOS`).
    """
    from huggingface_hub import snapshot_download

    repos, revision = (PAPER_REPOS, PAPER_REVISION) if model_id == PAPER else ((model_id,), None)
    for repo in repos:
        try:
            return Path(snapshot_download(repo, revision=revision, local_files_only=True, cache_dir=cache_dir))
        except Exception:  # any failure means "not in the cache"; the error below says what to do
            continue
    pinned = f" --revision {revision}" if revision else ""
    raise FileNotFoundError(
        f"{model_id!r}{' at revision ' + revision if revision else ''} is not in the local Hugging Face cache and "
        f"is never downloaded at run time. On a machine with internet run `hf download {repos[0]}{pinned}` and "
        f"copy the cache (HF_HOME) here, or use encoder='all-MiniLM-L6-v2'."
    )
