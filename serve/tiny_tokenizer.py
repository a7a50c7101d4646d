"""A deterministic byte-level BPE tokenizer with Phi-3's special tokens at their real ids.

The real Phi-3 tokenizer cannot be downloaded here. What the stack depends on is its shape:
32,000 ordinary ids, then ``<|endoftext|>`` at 32000, ``<|assistant|>`` 32001, ``<|system|>``
32006, ``<|end|>`` 32007, ``<|user|>`` 32010, BOS ``<s>`` at 1, a BOS added to every encoded
chunk, and lossless decode/encode round trips (vLLM's Phi3V code decodes and re-encodes
prompts). A small BPE trained on a fixed corpus gives realistic token counts for English and
JSON; the remaining ordinary ids are unreachable fillers.
"""

from __future__ import annotations

import json
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

__all__ = ["ADDED_TOKENS", "BOS", "EOS", "VOCAB_SIZE", "build_tokenizer", "save_tokenizer"]

VOCAB_SIZE = 32064
"""Phi-3.5-vision's embedding rows (ordinary + added tokens, padded)."""
ORDINARY = 32000
BOS, EOS, UNK = "<s>", "<|endoftext|>", "<unk>"


def _added_tokens() -> list[str]:
    names = ["<|endoftext|>", "<|assistant|>"]
    names += [f"<|placeholder{i}|>" for i in range(1, 5)]
    names += ["<|system|>", "<|end|>", "<|placeholder5|>", "<|placeholder6|>", "<|user|>"]
    names += [f"<|placeholder{i}|>" for i in range(7, 7 + 44 - 11)]
    names.append("<|image|>")  # id 32044: vLLM's hard-coded image placeholder
    return names


ADDED_TOKENS = _added_tokens()

_WORDS = """
the of and to in is it you that he was for on are with as his they be at one have this from
or had by word but what some we can out other were all there when up use your how said an
each she which do their time if will way about many then them write would like so these her
long make thing see him two has look more day could go come did number sound no most people
my over know water than call first who may down side been now find any new work part take
get place made live where after back little only round man year came show every good me give
our under name very through just form sentence great think say help low line differ turn
cause much mean before move right boy old too same tell does set three want air well also play
small end put home read hand port large spell add even land here must big high such follow act
why ask men change went light kind off need house picture try us again animal point mother world
near build self earth father head stand own page should country found answer school grow study
still learn plant cover food sun four between state keep eye never last let thought city tree
cross farm hard start might story saw far sea draw left late run while press close night real
life few north image photo document passport identity card invoice receipt table scene count
person people object subject foreground background total amount tax currency date vendor item
quantity price description caption tag fact risk hazard level name surname given birth issue
expiry authority nationality sex address number column row value text field json schema answer
""".split()


def _corpus() -> list[str]:
    """A fixed corpus: the words alone, in sentences, and inside JSON objects."""
    lines: list[str] = []
    for i, word in enumerate(_WORDS):
        nxt = _WORDS[(i * 7 + 3) % len(_WORDS)]
        lines.append(f"The {word} and the {nxt}. {word.capitalize()} {nxt}, {i} {i * 37 % 1000}.")
        lines.append(json.dumps({word: nxt, "count": i, "value": i / 4, "ok": i % 2 == 0}))
    return lines


_CONSONANTS = "bdfgklmnprstvz"
_VOWELS = "aeiou"


def _pseudo_word(serial: int) -> str:
    """A pronounceable filler such as ' kanore', so random output reads as words."""
    syllables = []
    for _ in range(3):
        serial, c = divmod(serial, len(_CONSONANTS))
        serial, v = divmod(serial, len(_VOWELS))
        syllables.append(_CONSONANTS[c] + _VOWELS[v])
    return "\u0120" + "".join(syllables)  # byte-level BPE spells a leading space as U+0120


def build_tokenizer() -> Tokenizer:
    """Train the BPE on the fixed corpus and lay out ids exactly as Phi-3 does."""
    trainer = trainers.BpeTrainer(
        vocab_size=4096,
        special_tokens=[UNK, BOS, "</s>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    draft = Tokenizer(models.BPE())
    draft.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    draft.train_from_iterator(_corpus(), trainer)
    trained = json.loads(draft.to_str())["model"]
    vocab: dict[str, int] = dict(trained["vocab"])
    serial = 0
    while len(vocab) < ORDINARY:
        word = _pseudo_word(serial)
        serial += 1
        if word not in vocab:
            vocab[word] = len(vocab)
    merges = [tuple(m.split(" ", 1)) if isinstance(m, str) else tuple(m) for m in trained["merges"]]

    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, unk_token=UNK))  # type: ignore[arg-type]
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens(ADDED_TOKENS)
    tok.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A", pair=f"{BOS} $A {BOS} $B", special_tokens=[(BOS, 1)]
    )
    for offset, token in enumerate(ADDED_TOKENS):
        got = tok.token_to_id(token)
        if got != ORDINARY + offset:
            raise RuntimeError(f"{token} landed at id {got}, expected {ORDINARY + offset}")
    return tok


def save_tokenizer(dest: Path, chat_template: str) -> None:
    """Write tokenizer.json and tokenizer_config.json the way transformers 5 loads them."""
    build_tokenizer().save(str(dest / "tokenizer.json"))
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": BOS,
        "eos_token": EOS,
        "unk_token": UNK,
        "pad_token": EOS,
        "add_bos_token": True,
        "add_eos_token": False,
        "clean_up_tokenization_spaces": False,
        "model_max_length": 131072,
        "padding_side": "right",
        "chat_template": chat_template,
    }
    (dest / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n")
