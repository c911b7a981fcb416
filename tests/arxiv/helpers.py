"""Test-only helpers of tests/arxiv."""

from __future__ import annotations

from pathlib import Path


def write_tiny_bert(folder, seed: int = 0, hidden: int = 16) -> Path:
    """A tiny randomly initialised BERT folder (safetensors + vocab.txt + tokenizer) for tests/benchmarks.

    Vocabulary: the special tokens, a-z and 0-9; 1 layer, 2 heads. Same seed, same weights.
    """
    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [chr(c) for c in range(97, 123)] + list("0123456789")
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n")
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=hidden,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=2 * hidden,
        max_position_embeddings=64,
    )
    BertModel(config).save_pretrained(str(folder), safe_serialization=True)
    # transformers 5 ignores a ``vocab_file`` argument (every token would be [UNK]): pass the vocabulary itself
    tokenizer = BertTokenizerFast(vocab={w: i for i, w in enumerate(vocab)}, do_lower_case=True)
    tokenizer.save_pretrained(str(folder))
    return folder
