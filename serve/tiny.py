"""Builds the tiny random-weight Phi3V checkpoint that tests and ``make dev`` serve.

Real Phi-3.5-vision weights cannot be downloaded on the machines that run our tests, so we
build a checkpoint of the same architecture (``Phi3VForCausalLM``: a CLIP ViT-L/14-336 tower
cut to one layer at full width, the HD projection, a 2-layer Phi-3 LM with head_dim 96 and the
real 32,064-token vocabulary) with seeded random weights. Answers are meaningless; everything
else is real: the tokenizer's special ids, the chat template, our image processor, image token
counts, KV cache, prefix caching and guided decoding.

The build is deterministic (same bytes every time for the same builder source), takes a few
seconds, and is skipped when an up-to-date copy exists. ``ensure_checkpoint`` is safe to call
from several processes at once: each builds into a private folder and renames it into place.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import torch
from safetensors.torch import save_file

from serve.phi3v import REMOTE_CODE_FILES
from serve.tiny_tokenizer import VOCAB_SIZE, save_tokenizer

__all__ = ["CHAT_TEMPLATE", "TINY_CONFIG", "build_checkpoint", "ensure_checkpoint"]

PHI3V_DIR = Path(__file__).parent / "phi3v"
STAMP = ".vision-stack-build"
SEED = 20261122

CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{'<|' + message['role'] + '|>' + '\\n' + message['content'] + '<|end|>\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt and messages[-1]['role'] != 'assistant' %}"
    "{{- '<|assistant|>\\n' -}}{% endif %}"
)
"""Phi-3.5-vision-instruct's chat template, unchanged."""

HIDDEN, HEADS, LAYERS, INTERMEDIATE = 192, 2, 2, 512
CLIP_WIDTH, CLIP_MLP, CLIP_POSITIONS = 1024, 4096, 577

TINY_CONFIG: dict[str, object] = {
    "architectures": ["Phi3VForCausalLM"],
    "auto_map": {"AutoConfig": "configuration_phi3_v.Phi3VConfig"},
    "model_type": "phi3_v",
    "vocab_size": VOCAB_SIZE,
    "hidden_size": HIDDEN,
    "intermediate_size": INTERMEDIATE,
    "num_hidden_layers": LAYERS,
    "num_attention_heads": HEADS,
    "num_key_value_heads": HEADS,
    "hidden_act": "silu",
    "max_position_embeddings": 16384,
    "original_max_position_embeddings": 16384,
    "rope_theta": 10000.0,
    "rms_norm_eps": 1e-5,
    "bos_token_id": 1,
    "eos_token_id": 32000,
    "pad_token_id": 32000,
    "tie_word_embeddings": False,
    "torch_dtype": "bfloat16",
    "img_processor": {
        "image_dim_out": CLIP_WIDTH,
        "model_name": "openai/clip-vit-large-patch14-336",
        "name": "clip_vision_model",
        "num_img_tokens": 144,
        # layer_idx 0 keeps one CLIP layer (the real model uses -2: 23 of 24 layers).
        "layer_idx": 0,
    },
    "embd_layer": {
        "embedding_cls": "image",
        "hd_transform_order": "sub_glb",
        "projection_cls": "mlp",
        "use_hd_transform": True,
        "with_learnable_separator": True,
    },
}

PROCESSOR_CONFIG = {
    "processor_class": "Phi3VProcessor",
    "auto_map": {"AutoProcessor": "processing_phi3_v.Phi3VProcessor"},
}
IMAGE_PROCESSOR_CONFIG = {
    "image_processor_type": "Phi3VImageProcessor",
    "processor_class": "Phi3VProcessor",
    "auto_map": {
        "AutoImageProcessor": "image_processing_phi3_v.Phi3VImageProcessor",
        "AutoProcessor": "processing_phi3_v.Phi3VProcessor",
    },
    "num_crops": 4,
    "num_img_tokens": 144,
    "do_convert_rgb": True,
    "image_mean": [0.48145466, 0.4578275, 0.40821073],
    "image_std": [0.26862954, 0.26130258, 0.27577711],
}
GENERATION_CONFIG = {"bos_token_id": 1, "eos_token_id": [32007, 32001, 32000], "do_sample": False}


def _weights() -> dict[str, torch.Tensor]:
    """Every tensor vLLM's Phi3VForCausalLM loads, named as in the real checkpoint."""
    gen = torch.Generator().manual_seed(SEED)

    def normal(*shape: int) -> torch.Tensor:
        return (torch.randn(*shape, generator=gen) * 0.02).to(torch.bfloat16)

    def ones(n: int) -> torch.Tensor:
        return torch.ones(n, dtype=torch.bfloat16)

    def zeros(n: int) -> torch.Tensor:
        return torch.zeros(n, dtype=torch.bfloat16)

    head_dim = HIDDEN // HEADS
    w: dict[str, torch.Tensor] = {"model.embed_tokens.weight": normal(VOCAB_SIZE, HIDDEN)}
    for i in range(LAYERS):
        p = f"model.layers.{i}."
        w[p + "input_layernorm.weight"] = ones(HIDDEN)
        w[p + "self_attn.qkv_proj.weight"] = normal(3 * HEADS * head_dim, HIDDEN)
        w[p + "self_attn.o_proj.weight"] = normal(HIDDEN, HEADS * head_dim)
        w[p + "post_attention_layernorm.weight"] = ones(HIDDEN)
        w[p + "mlp.gate_up_proj.weight"] = normal(2 * INTERMEDIATE, HIDDEN)
        w[p + "mlp.down_proj.weight"] = normal(HIDDEN, INTERMEDIATE)
    w["model.norm.weight"] = ones(HIDDEN)
    w["lm_head.weight"] = normal(VOCAB_SIZE, HIDDEN)

    v = "model.vision_embed_tokens."
    w[v + "glb_GN"] = normal(1, 1, 4 * CLIP_WIDTH)
    w[v + "sub_GN"] = normal(1, 1, 1, 4 * CLIP_WIDTH)
    w[v + "img_projection.0.weight"] = normal(HIDDEN, 4 * CLIP_WIDTH)
    w[v + "img_projection.0.bias"] = zeros(HIDDEN)
    w[v + "img_projection.2.weight"] = normal(HIDDEN, HIDDEN)
    w[v + "img_projection.2.bias"] = zeros(HIDDEN)
    c = v + "img_processor.vision_model."
    w[c + "embeddings.class_embedding"] = normal(CLIP_WIDTH)
    w[c + "embeddings.patch_embedding.weight"] = normal(CLIP_WIDTH, 3, 14, 14)
    w[c + "embeddings.position_embedding.weight"] = normal(CLIP_POSITIONS, CLIP_WIDTH)
    w[c + "pre_layrnorm.weight"] = ones(CLIP_WIDTH)
    w[c + "pre_layrnorm.bias"] = zeros(CLIP_WIDTH)
    layer = c + "encoder.layers.0."
    for proj in ("q_proj", "k_proj", "v_proj", "out_proj"):
        w[f"{layer}self_attn.{proj}.weight"] = normal(CLIP_WIDTH, CLIP_WIDTH)
        w[f"{layer}self_attn.{proj}.bias"] = zeros(CLIP_WIDTH)
    for norm in ("layer_norm1", "layer_norm2"):
        w[f"{layer}{norm}.weight"] = ones(CLIP_WIDTH)
        w[f"{layer}{norm}.bias"] = zeros(CLIP_WIDTH)
    w[layer + "mlp.fc1.weight"] = normal(CLIP_MLP, CLIP_WIDTH)
    w[layer + "mlp.fc1.bias"] = zeros(CLIP_MLP)
    w[layer + "mlp.fc2.weight"] = normal(CLIP_WIDTH, CLIP_MLP)
    w[layer + "mlp.fc2.bias"] = zeros(CLIP_WIDTH)
    # post_layernorm is left out on purpose: vLLM does not create it for a cut-short tower.
    return w


def build_fingerprint() -> str:
    """Changes whenever anything that shapes the checkpoint's bytes changes."""
    digest = hashlib.sha256()
    sources = [Path(__file__), Path(__file__).with_name("tiny_tokenizer.py")]
    sources += [PHI3V_DIR / name for name in REMOTE_CODE_FILES]
    for path in sources:
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _write_json(path: Path, data: object) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def build_checkpoint(dest: Path) -> Path:
    """Write a complete checkpoint into ``dest`` (which must be empty or absent)."""
    dest.mkdir(parents=True, exist_ok=True)
    _write_json(dest / "config.json", TINY_CONFIG)
    _write_json(dest / "generation_config.json", GENERATION_CONFIG)
    _write_json(dest / "processor_config.json", PROCESSOR_CONFIG)
    _write_json(dest / "preprocessor_config.json", IMAGE_PROCESSOR_CONFIG)
    (dest / "chat_template.jinja").write_text(CHAT_TEMPLATE)
    save_tokenizer(dest, CHAT_TEMPLATE)
    for name in REMOTE_CODE_FILES:
        shutil.copyfile(PHI3V_DIR / name, dest / name)
    save_file(_weights(), str(dest / "model.safetensors"), metadata={"format": "pt"})
    (dest / STAMP).write_text(build_fingerprint() + "\n")
    # mkdtemp and safetensors create owner-only modes; an engine running as another user
    # (a container's service account) must be able to read the checkpoint.
    dest.chmod(0o755)
    for item in dest.iterdir():
        item.chmod(0o644)
    return dest


def is_current(path: Path) -> bool:
    stamp = path / STAMP
    return stamp.is_file() and stamp.read_text().strip() == build_fingerprint()


def ensure_checkpoint(path: Path) -> Path:
    """Return ``path`` holding an up-to-date tiny checkpoint, building it when needed."""
    path = path.resolve()
    if is_current(path):
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".tiny-build-", dir=path.parent))
    try:
        build_checkpoint(staging)
        if path.exists():
            retired = Path(tempfile.mkdtemp(prefix=".tiny-old-", dir=path.parent))
            os.replace(path, retired / "old")
            shutil.rmtree(retired, ignore_errors=True)
        try:
            os.replace(staging, path)
        except OSError:
            if not is_current(path):  # someone else won the race with an equal build
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return path
