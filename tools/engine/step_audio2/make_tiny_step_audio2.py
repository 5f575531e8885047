#!/usr/bin/python3
"""Writes Step-Audio 2 mini-shaped checkpoint folders with random weights, in the published layout
(config.json with text_config + audio_encoder_config, model.safetensors.index.json + BF16 shards,
vocab.json / merges.txt / tokenizer_config.json of a byte-level BPE plus Step-Audio 2's added tokens).

Run from the repository root with Debian's python (torch + numpy; no safetensors module needed):

  /usr/bin/python3 tools/engine/step_audio2/make_tiny_step_audio2.py
      writes tests/engine/data/step_audio2/tiny/ (deterministic, ~3.3 MB): text hidden 64,
      intermediate 160, 2 layers, 4 heads / 2 kv heads; encoder n_mels 128, n_audio_ctx 1500,
      state 64, 4 heads, 2 layers; adaptor 64 -> 2048 -> 64. 2 shards. Then run
      /usr/bin/python3 tools/engine/step_audio2/step_audio2_reference.py  (writes golden.json + clip.wav).

  /usr/bin/python3 tools/engine/step_audio2/make_tiny_step_audio2.py --published-shape DIR
        [--llm-layers N] [--encoder-layers N]
      writes DIR with the real sizes (vocab 158720, hidden 3584, 28 layers, encoder 1280 x 32 layers,
      ~15 GB of BF16) for benchmarks; tensors are generated and written chunk by chunk, so memory
      stays low. --llm-layers / --encoder-layers override the layer counts for quick trials.

Tiny vocabulary: the 256 byte symbols + a few dozen merges (trained on a small English corpus with
the BPE trainer of tools/engine/token2wav/cosyvoice_lm_reference.py), then the added tokens
<|endoftext|> <|im_start|> <|im_end|> <|BOT|> <|EOT|> <audio_start> <audio_end> <audio_patch>
<tts_start> <tts_end> <tts_pad> <audio_0> .. <audio_6561> with consecutive ids; config vocab_size is
that count rounded up to a multiple of 64 (extra rows unused).
Published-shape vocabulary: byte-level vocab, <|reserved_N|> placeholders, <|endoftext|> 151643,
<|im_start|> 151644, <|im_end|> 151645 (the Qwen2 ids), placeholders up to 151687, then
<audio_start> 151688, <audio_end> 151689, <audio_patch> 151690, <|BOT|> 151691, <|EOT|> 151692
(the real ids of these two are unknown here), <tts_start> 151693, <tts_end> 151694, <tts_pad> 151695,
<audio_0> 151696 .. <audio_6561> 158257, placeholders up to 158719.
"""
import argparse
import json
import os
import struct
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
OUT = os.path.join(ROOT, "tests", "engine", "data", "step_audio2", "tiny")
sys.path.insert(0, os.path.join(ROOT, "tools", "engine", "token2wav"))
sys.dont_write_bytecode = True
import cosyvoice_lm_reference as cv  # noqa: E402  (byte-level BPE trainer + tokenizer reference)

N_AUDIO_TOKENS = 6562  # <audio_0> .. <audio_6561>
STEP_SPECIALS = ["<|BOT|>", "<|EOT|>", "<audio_start>", "<audio_end>", "<audio_patch>", "<tts_start>",
                 "<tts_end>", "<tts_pad>"]
ADDED = cv.QWEN2_ADDED + STEP_SPECIALS + ["<audio_%d>" % i for i in range(N_AUDIO_TOKENS)]
ADAPTOR_HIDDEN = 2048  # hard-coded in the published Adaptor

CORPUS = ("You are a helpful assistant. Give me a brief introduction to the Great Wall. "
          "The Great Wall of China is a series of walls and fortifications built across the north. "
          "Hello, how are you today? I am fine, thank you. What is the weather like? It is sunny and warm. "
          "Please tell me a story about the sea and the mountains. ") * 3
N_MERGES = 48

TINY_TEXT = {"vocab_size": None, "hidden_size": 64, "intermediate_size": 160, "num_hidden_layers": 2,
             "num_attention_heads": 4, "num_attention_groups": 2, "num_key_value_heads": 2,
             "max_seq_len": 16384, "max_position_embeddings": 16384, "rms_norm_eps": 1e-6,
             "rope_theta": 1000000.0, "hidden_act": "silu", "torch_dtype": "bfloat16"}
TINY_AUDIO = {"n_mels": 128, "n_audio_ctx": 1500, "n_audio_state": 64, "n_audio_head": 4, "n_audio_layer": 2,
              "n_codebook_size": 4096, "llm_dim": 64, "kernel_size": 3, "adapter_stride": 2}
PUBLISHED_TEXT = dict(TINY_TEXT, vocab_size=158720, hidden_size=3584, intermediate_size=18944, num_hidden_layers=28,
                      num_attention_heads=28, num_attention_groups=4, num_key_value_heads=4)
PUBLISHED_AUDIO = dict(TINY_AUDIO, n_audio_state=1280, n_audio_head=20, n_audio_layer=32, llm_dim=3584)

# ---------------------------------------------------------------- tokenizer files


def train_merges():
    saved = cv.CORPUS
    cv.CORPUS = CORPUS
    try:
        return cv.train_bpe(N_MERGES)
    finally:
        cv.CORPUS = saved


def write_tokenizer(folder, added_by_id, vocab, merges):
    """added_by_id: {id: content} (all special)."""
    with open(os.path.join(folder, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False)
    with open(os.path.join(folder, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n" + "\n".join(a + " " + b for a, b in merges) + "\n")
    # Only "content" and "special" per entry (the other AddedToken fields take their defaults), to keep
    # the 6562 audio tokens' file small.
    decoder = {str(i): {"content": t, "special": True} for i, t in sorted(added_by_id.items())}
    config = {"add_bos_token": False, "add_prefix_space": False, "added_tokens_decoder": decoder,
              "additional_special_tokens": ["<|im_start|>", "<|im_end|>"], "bos_token": None,
              "clean_up_tokenization_spaces": False, "eos_token": "<|endoftext|>", "errors": "replace",
              "model_max_length": 16384, "pad_token": "<|endoftext|>", "split_special_tokens": False,
              "tokenizer_class": "Qwen2TokenizerFast", "unk_token": None}
    with open(os.path.join(folder, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f, ensure_ascii=False, separators=(",", ":"))


def base_vocab():
    merges = train_merges()
    tokens = [cv.B2U[b] for b in range(256)]
    for a, b in merges:
        if a + b not in tokens:
            tokens.append(a + b)
    return {t: i for i, t in enumerate(tokens)}, merges


def tiny_tokenizer(folder):
    vocab, merges = base_vocab()
    n = len(vocab)
    added = {n + i: t for i, t in enumerate(ADDED)}
    write_tokenizer(folder, added, vocab, merges)
    return n + len(ADDED), {t: i for i, t in added.items()}


def published_tokenizer(folder, vocab_size):
    vocab, merges = base_vocab()
    fixed = {151643: "<|endoftext|>", 151644: "<|im_start|>", 151645: "<|im_end|>",
             151688: "<audio_start>", 151689: "<audio_end>", 151690: "<audio_patch>", 151691: "<|BOT|>",
             151692: "<|EOT|>", 151693: "<tts_start>", 151694: "<tts_end>", 151695: "<tts_pad>"}
    for i in range(N_AUDIO_TOKENS):
        fixed[151696 + i] = "<audio_%d>" % i
    added, r = {}, 0
    for i in range(len(vocab), vocab_size):
        if i in fixed:
            added[i] = fixed[i]
        else:
            added[i] = "<|reserved_%d|>" % r
            r += 1
    write_tokenizer(folder, added, vocab, merges)
    return {t: i for i, t in added.items() if not t.startswith("<|reserved_")}

# ---------------------------------------------------------------- tensor plan


def tensor_plan(text, audio):
    """[(name, shape, init)] in the published order; init = (kind, scale) with kind 'normal' (std scale),
    'one' (1 + normal(scale)) or 'zero'."""
    E, F, V = text["hidden_size"], text["intermediate_size"], text["vocab_size"]
    hd = E // text["num_attention_heads"]
    kv = text["num_key_value_heads"] * hd
    S, M, D, k = audio["n_audio_state"], audio["n_mels"], audio["llm_dim"], audio["kernel_size"]
    plan = []
    add = lambda n, s, kind, scale: plan.append((n, tuple(s), (kind, scale)))
    # audio encoder
    add("encoder.conv1.weight", (S, M, 3), "normal", 1.0 / (M * 3) ** 0.5)
    add("encoder.conv1.bias", (S,), "normal", 0.1)
    add("encoder.conv2.weight", (S, S, 3), "normal", 1.0 / (S * 3) ** 0.5)
    add("encoder.conv2.bias", (S,), "normal", 0.1)
    add("encoder.positional_embedding.weight", (audio["n_audio_ctx"], S), "normal", 0.3)
    for i in range(audio["n_audio_layer"]):
        p = "encoder.blocks.%d." % i
        add(p + "attn.query.weight", (S, S), "normal", 1.0 / S ** 0.5)
        add(p + "attn.query.bias", (S,), "normal", 0.1)
        add(p + "attn.key.weight", (S, S), "normal", 1.0 / S ** 0.5)
        add(p + "attn.value.weight", (S, S), "normal", 1.0 / S ** 0.5)
        add(p + "attn.value.bias", (S,), "normal", 0.1)
        add(p + "attn.out.weight", (S, S), "normal", 1.0 / S ** 0.5)
        add(p + "attn.out.bias", (S,), "normal", 0.1)
        add(p + "attn_ln.weight", (S,), "one", 0.1)
        add(p + "attn_ln.bias", (S,), "normal", 0.1)
        add(p + "mlp.0.weight", (4 * S, S), "normal", 1.0 / S ** 0.5)
        add(p + "mlp.0.bias", (4 * S,), "normal", 0.1)
        add(p + "mlp.2.weight", (S, 4 * S), "normal", 1.0 / (4 * S) ** 0.5)
        add(p + "mlp.2.bias", (S,), "normal", 0.1)
        add(p + "mlp_ln.weight", (S,), "one", 0.1)
        add(p + "mlp_ln.bias", (S,), "normal", 0.1)
    add("encoder.after_norm.weight", (S,), "one", 0.1)
    add("encoder.after_norm.bias", (S,), "normal", 0.1)
    # adaptor
    add("adapter.conv.weight", (S, S, k), "normal", 1.0 / (S * k) ** 0.5)
    add("adapter.conv.bias", (S,), "normal", 0.1)
    add("adapter.linear1.weight", (ADAPTOR_HIDDEN, S), "normal", 1.0 / S ** 0.5)
    add("adapter.linear1.bias", (ADAPTOR_HIDDEN,), "normal", 0.1)
    add("adapter.linear2.weight", (D, ADAPTOR_HIDDEN), "normal", 1.5 / ADAPTOR_HIDDEN ** 0.5)
    add("adapter.linear2.bias", (D,), "normal", 0.1)
    # LLM (Qwen2)
    add("model.embed_tokens.weight", (V, E), "normal", 1.0)
    for i in range(text["num_hidden_layers"]):
        p = "model.layers.%d." % i
        add(p + "input_layernorm.weight", (E,), "one", 0.1)
        for n, o in (("q_proj", E), ("k_proj", kv), ("v_proj", kv)):
            add(p + "self_attn.%s.weight" % n, (o, E), "normal", 1.0 / E ** 0.5)
            add(p + "self_attn.%s.bias" % n, (o,), "normal", 0.1)
        add(p + "self_attn.o_proj.weight", (E, E), "normal", 1.0 / E ** 0.5)
        add(p + "post_attention_layernorm.weight", (E,), "one", 0.1)
        add(p + "mlp.gate_proj.weight", (F, E), "normal", 1.0 / E ** 0.5)
        add(p + "mlp.up_proj.weight", (F, E), "normal", 1.0 / E ** 0.5)
        add(p + "mlp.down_proj.weight", (E, F), "normal", 1.0 / F ** 0.5)
    add("model.norm.weight", (E,), "one", 0.1)
    add("lm_head.weight", (V, E), "normal", 1.0 / E ** 0.5)
    return plan


def nbytes(shape):
    return int(np.prod(shape)) * 2


def split_shards(plan, n_shards=None, max_bytes=None):
    """Contiguous groups of the plan: n_shards of about equal size, or groups of at most max_bytes."""
    total = sum(nbytes(s) for _, s, _ in plan)
    if n_shards:
        max_bytes = (total + n_shards - 1) // n_shards
    shards, cur, size = [], [], 0
    for entry in plan:
        b = nbytes(entry[1])
        if cur and size + b > max_bytes and (not n_shards or len(shards) < n_shards - 1):
            shards.append(cur)
            cur, size = [], 0
        cur.append(entry)
        size += b
    shards.append(cur)
    return shards, total


def to_bf16_bytes(t):
    """float32 tensor -> little-endian BF16 bytes (round to nearest even, as torch does)."""
    return t.contiguous().to(torch.bfloat16).view(torch.int16).numpy().astype("<i2").tobytes()


def write_shards(folder, plan, shards, total, fill, progress=False):
    """fill(name, shape, init, out_write): writes the tensor's BF16 bytes via out_write (may be called
    several times, in row-major order)."""
    n = len(shards)
    weight_map = {}
    done, t0 = 0, time.time()
    for si, shard in enumerate(shards):
        fname = "model-%05d-of-%05d.safetensors" % (si + 1, n)
        header, off = {"__metadata__": {"format": "pt"}}, 0
        for name, shape, _ in shard:
            header[name] = {"dtype": "BF16", "shape": list(shape), "data_offsets": [off, off + nbytes(shape)]}
            off += nbytes(shape)
            weight_map[name] = fname
        hj = json.dumps(header, separators=(",", ":")).encode("utf-8")
        hj += b" " * ((8 - len(hj) % 8) % 8)
        with open(os.path.join(folder, fname), "wb") as f:
            f.write(struct.pack("<Q", len(hj)))
            f.write(hj)
            for name, shape, init in shard:
                fill(name, shape, init, f.write)
                done += nbytes(shape)
                if progress:
                    print("  %s %s  [%.1f / %.1f GB, %.0f s]" % (name, list(shape), done / 1e9, total / 1e9,
                                                                 time.time() - t0), flush=True)
    with open(os.path.join(folder, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=1)


def write_config(folder, text, audio):
    cfg = {"architectures": ["StepAudio2ForCausalLM"], "model_type": "step_audio_2", "torch_dtype": "bfloat16",
           "text_config": text, "audio_encoder_config": audio}
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)

# ---------------------------------------------------------------- tiny


# Text rows of the lm_head (ids below <audio_start>) are scaled up so that text ids compete with the
# 6562 audio ids in greedy decoding (otherwise audio ids, being 95% of the rows, always win).
TEXT_ROW_GAIN = 1.35


def make_tiny():
    os.makedirs(OUT, exist_ok=True)
    n_tokens, ids = tiny_tokenizer(OUT)
    text = dict(TINY_TEXT, vocab_size=(n_tokens + 63) // 64 * 64, eos_token_id=ids["<|EOT|>"],
                pad_token_id=ids["<|endoftext|>"])
    audio = dict(TINY_AUDIO)
    write_config(OUT, text, audio)
    plan = tensor_plan(text, audio)
    gen = torch.Generator().manual_seed(20250829)
    tensors = {}
    for name, shape, (kind, scale) in plan:
        t = torch.randn(*shape, generator=gen) * scale
        if kind == "one":
            t = t + 1.0
        tensors[name] = t
    tensors["lm_head.weight"][:ids["<audio_start>"]] *= TEXT_ROW_GAIN
    shards, total = split_shards(plan, n_shards=2)
    write_shards(OUT, plan, shards, total, lambda name, shape, init, w: w(to_bf16_bytes(tensors[name])))
    size = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print("wrote %s: %d tensors, %d tokens (vocab_size %d), %d bytes" % (OUT, len(plan), n_tokens,
                                                                         text["vocab_size"], size))
    for t in ["<|endoftext|>", "<|BOT|>", "<|EOT|>", "<audio_start>", "<audio_end>", "<audio_patch>",
              "<tts_start>", "<tts_end>", "<tts_pad>", "<audio_0>", "<audio_6561>"]:
        print("  %-14s %d" % (t, ids[t]))

# ---------------------------------------------------------------- published shape


def make_published(folder, llm_layers=None, encoder_layers=None):
    os.makedirs(folder, exist_ok=True)
    text, audio = dict(PUBLISHED_TEXT), dict(PUBLISHED_AUDIO)
    if llm_layers:
        text["num_hidden_layers"] = llm_layers
    if encoder_layers:
        audio["n_audio_layer"] = encoder_layers
    ids = published_tokenizer(folder, text["vocab_size"])
    text.update(eos_token_id=ids["<|EOT|>"], pad_token_id=ids["<|endoftext|>"])
    write_config(folder, text, audio)
    plan = tensor_plan(text, audio)
    gen = torch.Generator().manual_seed(1)
    rows_per_chunk = 1 << 22

    def fill(name, shape, init, write):
        kind, scale = init
        rows = shape[0]
        per_row = int(np.prod(shape[1:])) if len(shape) > 1 else 1
        step = max(1, rows_per_chunk // per_row)
        for r0 in range(0, rows, step):
            r1 = min(rows, r0 + step)
            t = torch.randn((r1 - r0,) + tuple(shape[1:]), generator=gen) * scale
            if kind == "one":
                t += 1.0
            write(to_bf16_bytes(t))

    shards, total = split_shards(plan, max_bytes=4 << 30)
    print("writing %s: %d tensors, %.2f GB in %d shards" % (folder, len(plan), total / 1e9, len(shards)), flush=True)
    write_shards(folder, plan, shards, total, fill, progress=True)
    print("wrote %s" % folder)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--published-shape", metavar="DIR")
    ap.add_argument("--llm-layers", type=int)
    ap.add_argument("--encoder-layers", type=int)
    a = ap.parse_args()
    if a.published_shape:
        make_published(a.published_shape, a.llm_layers, a.encoder_layers)
    else:
        make_tiny()


if __name__ == "__main__":
    main()
