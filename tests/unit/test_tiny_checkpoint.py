"""The tiny checkpoint: deterministic, loadable by transformers, Phi-3's ids and template."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from PIL import Image
from transformers import AutoConfig, AutoProcessor, AutoTokenizer

from serve.tiny import build_checkpoint, ensure_checkpoint, is_current


def digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_build_is_deterministic(tmp_path: Path) -> None:
    a = build_checkpoint(tmp_path / "a")
    b = build_checkpoint(tmp_path / "b")
    assert digest(a) == digest(b)
    assert (a / "model.safetensors").stat().st_size < 64 * 2**20


def test_ensure_rebuilds_a_stale_copy(tmp_path: Path) -> None:
    path = ensure_checkpoint(tmp_path / "ckpt")
    (path / ".vision-stack-build").write_text("stale\n")
    assert not is_current(path)
    assert is_current(ensure_checkpoint(path))


def test_config_describes_phi3v_with_head_dim_96(tiny_checkpoint: Path) -> None:
    config = AutoConfig.from_pretrained(tiny_checkpoint, trust_remote_code=True)
    assert config.architectures == ["Phi3VForCausalLM"]
    assert config.hidden_size // config.num_attention_heads == 96
    assert config.vocab_size == 32064
    assert config.img_processor["layer_idx"] == 0


def test_special_tokens_sit_at_phi3_ids(tiny_checkpoint: Path) -> None:
    tok = AutoTokenizer.from_pretrained(tiny_checkpoint, trust_remote_code=True)
    expected = {"<s>": 1, "<|endoftext|>": 32000, "<|assistant|>": 32001, "<|system|>": 32006}
    expected |= {"<|end|>": 32007, "<|user|>": 32010, "<|image|>": 32044}
    assert {t: tok.convert_tokens_to_ids(t) for t in expected} == expected
    assert tok("hello").input_ids[0] == 1  # BOS on every encoded chunk


def test_chat_template_is_phi3(tiny_checkpoint: Path) -> None:
    tok = AutoTokenizer.from_pretrained(tiny_checkpoint, trust_remote_code=True)
    text = tok.apply_chat_template(
        [{"role": "system", "content": "S"}, {"role": "user", "content": "Hi"}],
        tokenize=False,
        add_generation_prompt=True,
    )
    assert text == "<|system|>\nS<|end|>\n<|user|>\nHi<|end|>\n<|assistant|>\n"


def test_decode_encode_round_trip_is_lossless(tiny_checkpoint: Path) -> None:
    """vLLM's Phi3V code decodes prompts and encodes them again; nothing may change."""
    tok = AutoTokenizer.from_pretrained(tiny_checkpoint, trust_remote_code=True)
    text = '<|user|>\n<|image_1|>\nÜber {"a": [1, 2.5]}\t\u4e2d\u6587<|end|>\n<|assistant|>\n'
    ids = tok(text, add_special_tokens=False).input_ids
    assert tok.decode(ids) == text


def test_processor_splits_text_at_image_tags_with_a_bos_each(tiny_checkpoint: Path) -> None:
    proc = AutoProcessor.from_pretrained(tiny_checkpoint, trust_remote_code=True, num_crops=4)
    prompt = "<|user|>\n<|image_1|>\nWhat is this?<|end|>\n<|assistant|>\n"
    out = proc(text=prompt, images=[Image.new("RGB", (640, 480))])
    ids = out["input_ids"][0].tolist()
    assert ids.count(-1) == 757
    before, after = prompt.split("<|image_1|>")
    text_ids = proc.tokenizer(before).input_ids + proc.tokenizer(after).input_ids
    assert len(ids) == 757 + len(text_ids)
    assert ids.count(1) == 2


def test_per_request_num_crops_reaches_the_image_processor(tiny_checkpoint: Path) -> None:
    proc = AutoProcessor.from_pretrained(tiny_checkpoint, trust_remote_code=True, num_crops=16)
    assert proc.calc_num_image_tokens_from_image_size(1024, 768) == 1921
    assert proc.img_tokens[:2] == ["<|image_1|>", "<|image_2|>"]


def test_processor_refuses_tags_that_do_not_match_images(tiny_checkpoint: Path) -> None:
    proc = AutoProcessor.from_pretrained(tiny_checkpoint, trust_remote_code=True)
    with pytest.raises(ValueError, match="refers to images"):
        proc(text="<|image_2|> hi", images=[Image.new("RGB", (64, 64))])


def test_checkpoint_is_readable_by_other_users(tmp_path: Path) -> None:
    path = ensure_checkpoint(tmp_path / "ckpt")
    assert path.stat().st_mode & 0o005 == 0o005
    assert all(p.stat().st_mode & 0o004 for p in path.iterdir())
