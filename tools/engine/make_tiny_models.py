#!/usr/bin/python3
"""Writes tiny random Qwen2 and Llama models (GGUF in F32/F16/Q8_0/Q5_0/Q5_1/Q4_0/Q4_K/Q6_K, and Hugging Face
safetensors + config.json in F16/BF16) with golden logits and greedy tokens from an independent
NumPy forward pass (Hugging Face semantics: unpermuted q/k, rotate-half RoPE).

Run from the repository root:  /usr/bin/python3 tools/engine/make_tiny_models.py
Output: tests/engine/data/. Deterministic (fixed seeds). Needs only python3-numpy (Debian).

Quantized layouts follow ggml's block formats; quantization here is a simple valid encoding (not
ggml's error-minimizing search). For quantized weight types the reference also quantizes the
activations as Cadence does (d = max|x|/127, round half away from zero): in blocks of 32 for Q8_0
and Q4_0, in blocks of 256 for the K-quants (ggml's Q8_K).
"""
import json
import os
import re
import struct
import sys

import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "engine", "data")

# ---------------------------------------------------------------- fp16 / bf16 helpers

def f16(x):
    return np.asarray(x, dtype=np.float32).astype(np.float16)

def bf16_bits(x):
    u = np.asarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)

def bf16_value(bits):
    return (bits.astype(np.uint32) << 16).view(np.float32)

# ---------------------------------------------------------------- quantizers (row-major, rows of n)

def quant_q8_0(w):
    b = w.reshape(-1, 32).astype(np.float32)
    d = np.abs(b).max(axis=1) / 127.0
    idv = np.where(d > 0, 1.0 / np.where(d > 0, d, 1), 0)
    q = np.clip(np.round(b * idv[:, None]), -127, 127).astype(np.int8)
    out = np.zeros((b.shape[0], 34), np.uint8)
    out[:, 0:2] = f16(d).view(np.uint8).reshape(-1, 2)
    out[:, 2:] = q.view(np.uint8)
    return out.tobytes()

def deq_q8_0(raw, n):
    a = np.frombuffer(raw, np.uint8).reshape(-1, 34)
    d = a[:, 0:2].copy().view(np.float16).astype(np.float64)
    q = a[:, 2:].copy().view(np.int8).astype(np.float64)
    return (d * q).reshape(-1, n)

def quant_q4_0(w):
    b = w.reshape(-1, 32).astype(np.float32)
    idx = np.abs(b).argmax(axis=1)
    mx = b[np.arange(b.shape[0]), idx]
    d = mx / -8.0
    idv = np.where(d != 0, 1.0 / np.where(d != 0, d, 1), 0)
    q = np.minimum(15, np.floor(b * idv[:, None] + 8.5)).astype(np.uint8)
    out = np.zeros((b.shape[0], 18), np.uint8)
    out[:, 0:2] = f16(d).view(np.uint8).reshape(-1, 2)
    out[:, 2:] = q[:, :16] | (q[:, 16:] << 4)
    return out.tobytes()

def deq_q4_0(raw, n):
    a = np.frombuffer(raw, np.uint8).reshape(-1, 18)
    d = a[:, 0:2].copy().view(np.float16).astype(np.float64)
    qs = a[:, 2:]
    q = np.concatenate([qs & 0xF, qs >> 4], axis=1).astype(np.float64) - 8
    return (d * q).reshape(-1, n)

def quant_q4_k(w):
    sb = w.reshape(-1, 8, 32).astype(np.float64)
    lo = np.minimum(sb.min(axis=2), 0)
    hi = sb.max(axis=2)
    scale = (hi - lo) / 15.0
    mins = -lo
    d = f16(scale.max(axis=1) / 63.0).astype(np.float64)
    dmin = f16(mins.max(axis=1) / 63.0).astype(np.float64)
    sc = np.clip(np.round(np.where(d[:, None] > 0, scale / np.where(d[:, None] > 0, d[:, None], 1), 0)), 0, 63).astype(np.uint8)
    m = np.clip(np.round(np.where(dmin[:, None] > 0, mins / np.where(dmin[:, None] > 0, dmin[:, None], 1), 0)), 0, 63).astype(np.uint8)
    eff_d = d[:, None] * sc
    eff_m = dmin[:, None] * m
    q = np.where(eff_d[:, :, None] > 0,
                 np.round((sb + eff_m[:, :, None]) / np.where(eff_d[:, :, None] > 0, eff_d[:, :, None], 1)), 0)
    q = np.clip(q, 0, 15).astype(np.uint8)
    nb = sb.shape[0]
    out = np.zeros((nb, 144), np.uint8)
    out[:, 0:2] = f16(d).view(np.uint8).reshape(-1, 2)
    out[:, 2:4] = f16(dmin).view(np.uint8).reshape(-1, 2)
    scales = np.zeros((nb, 12), np.uint8)
    for j in range(4):
        scales[:, j] = sc[:, j] | ((sc[:, j + 4] >> 4) << 6)
        scales[:, j + 4] = m[:, j] | ((m[:, j + 4] >> 4) << 6)
        scales[:, j + 8] = (sc[:, j + 4] & 0xF) | ((m[:, j + 4] & 0xF) << 4)
    out[:, 4:16] = scales
    for p in range(4):
        out[:, 16 + p * 32:16 + (p + 1) * 32] = q[:, 2 * p] | (q[:, 2 * p + 1] << 4)
    return out.tobytes()

def deq_q4_k(raw, n):
    a = np.frombuffer(raw, np.uint8).reshape(-1, 144)
    d = a[:, 0:2].copy().view(np.float16).astype(np.float64)[:, 0]
    dmin = a[:, 2:4].copy().view(np.float16).astype(np.float64)[:, 0]
    s = a[:, 4:16].astype(np.int64)
    sc = np.zeros((a.shape[0], 8)); m = np.zeros((a.shape[0], 8))
    for j in range(8):
        if j < 4:
            sc[:, j] = s[:, j] & 63; m[:, j] = s[:, j + 4] & 63
        else:
            sc[:, j] = (s[:, j + 4] & 0xF) | ((s[:, j - 4] >> 6) << 4)
            m[:, j] = (s[:, j + 4] >> 4) | ((s[:, j] >> 6) << 4)
    qs = a[:, 16:].reshape(-1, 4, 32)
    q = np.stack([qs & 0xF, qs >> 4], axis=2).reshape(-1, 8, 32).astype(np.float64)
    y = d[:, None, None] * sc[:, :, None] * q - dmin[:, None, None] * m[:, :, None]
    return y.reshape(-1, n)

def quant_q6_k(w):
    sb = w.reshape(-1, 16, 16).astype(np.float64)
    gscale = np.abs(sb).max(axis=2) / 31.0
    d = f16(gscale.max(axis=1) / 127.0).astype(np.float64)
    sc = np.clip(np.round(np.where(d[:, None] > 0, gscale / np.where(d[:, None] > 0, d[:, None], 1), 0)), -128, 127).astype(np.int8)
    eff = d[:, None] * sc
    q = np.where(eff[:, :, None] != 0, np.round(sb / np.where(eff[:, :, None] != 0, eff[:, :, None], 1)), 0)
    Q = (np.clip(q, -32, 31) + 32).astype(np.uint8).reshape(-1, 256)
    nb = Q.shape[0]
    out = np.zeros((nb, 210), np.uint8)
    for h in range(2):
        H = Q[:, h * 128:(h + 1) * 128]
        l = np.arange(32)
        out[:, h * 64 + l] = (H[:, l] & 0xF) | ((H[:, l + 64] & 0xF) << 4)
        out[:, h * 64 + 32 + l] = (H[:, l + 32] & 0xF) | ((H[:, l + 96] & 0xF) << 4)
        out[:, 128 + h * 32 + l] = (H[:, l] >> 4) | ((H[:, l + 32] >> 4) << 2) | ((H[:, l + 64] >> 4) << 4) | ((H[:, l + 96] >> 4) << 6)
    out[:, 192:208] = sc.view(np.uint8)
    out[:, 208:210] = f16(d).view(np.uint8).reshape(-1, 2)
    return out.tobytes()

def deq_q6_k(raw, n):
    a = np.frombuffer(raw, np.uint8).reshape(-1, 210)
    d = a[:, 208:210].copy().view(np.float16).astype(np.float64)[:, 0]
    sc = a[:, 192:208].copy().view(np.int8).astype(np.float64)
    Q = np.zeros((a.shape[0], 256))
    l = np.arange(32)
    for h in range(2):
        ql0 = a[:, h * 64 + l].astype(np.int64); ql1 = a[:, h * 64 + 32 + l].astype(np.int64)
        qh = a[:, 128 + h * 32 + l].astype(np.int64)
        Q[:, h * 128 + l] = (ql0 & 0xF) | ((qh & 3) << 4)
        Q[:, h * 128 + 32 + l] = (ql1 & 0xF) | (((qh >> 2) & 3) << 4)
        Q[:, h * 128 + 64 + l] = (ql0 >> 4) | (((qh >> 4) & 3) << 4)
        Q[:, h * 128 + 96 + l] = (ql1 >> 4) | (((qh >> 6) & 3) << 4)
    y = d[:, None] * np.repeat(sc, 16, axis=1) * (Q - 32)
    return y.reshape(-1, n)
def pack_q5(q):
    """32 five-bit quants per row -> (qh as 4 little-endian bytes, qs as 16 bytes of nibbles): value j
    is the low nibble of qs[j] (j < 16) or the high nibble of qs[j-16], its bit 4 is bit j of qh."""
    qs = (q[:, :16] & 0xF) | ((q[:, 16:] & 0xF) << 4)
    qh = ((q >> 4).astype(np.uint64) << np.arange(32, dtype=np.uint64)).sum(axis=1).astype("<u4")
    return qh.view(np.uint8).reshape(-1, 4), qs.astype(np.uint8)

def unpack_q5(qh, qs):
    h = qh.copy().view("<u4").reshape(-1, 1).astype(np.uint64)
    bits = ((h >> np.arange(32, dtype=np.uint64)) & 1).astype(np.int64)
    return np.concatenate([qs & 0xF, qs >> 4], axis=1).astype(np.int64) | (bits << 4)

def quant_q5_0(w):
    b = w.reshape(-1, 32).astype(np.float32)
    idx = np.abs(b).argmax(axis=1)
    d = b[np.arange(b.shape[0]), idx] / -16.0
    idv = np.where(d != 0, 1.0 / np.where(d != 0, d, 1), 0)
    q = np.clip(np.floor(b * idv[:, None] + 16.5), 0, 31).astype(np.int64)
    out = np.zeros((b.shape[0], 22), np.uint8)
    out[:, 0:2] = f16(d).view(np.uint8).reshape(-1, 2)
    out[:, 2:6], out[:, 6:] = pack_q5(q)
    return out.tobytes()

def deq_q5_0(raw, n):
    a = np.frombuffer(raw, np.uint8).reshape(-1, 22)
    d = a[:, 0:2].copy().view(np.float16).astype(np.float64)
    return (d * (unpack_q5(a[:, 2:6], a[:, 6:]) - 16)).reshape(-1, n)

def quant_q5_1(w):
    b = w.reshape(-1, 32).astype(np.float32)
    lo, hi = b.min(axis=1), b.max(axis=1)
    d = (hi - lo) / 31.0
    idv = np.where(d > 0, 1.0 / np.where(d > 0, d, 1), 0)
    q = np.clip(np.floor((b - lo[:, None]) * idv[:, None] + 0.5), 0, 31).astype(np.int64)
    out = np.zeros((b.shape[0], 24), np.uint8)
    out[:, 0:2] = f16(d).view(np.uint8).reshape(-1, 2)
    out[:, 2:4] = f16(lo).view(np.uint8).reshape(-1, 2)
    out[:, 4:8], out[:, 8:] = pack_q5(q)
    return out.tobytes()

def deq_q5_1(raw, n):
    a = np.frombuffer(raw, np.uint8).reshape(-1, 24)
    d = a[:, 0:2].copy().view(np.float16).astype(np.float64)
    m = a[:, 2:4].copy().view(np.float16).astype(np.float64)
    return (d * unpack_q5(a[:, 4:8], a[:, 8:]) + m).reshape(-1, n)


GGML = {"F32": 0, "F16": 1, "Q4_0": 2, "Q5_0": 6, "Q5_1": 7, "Q8_0": 8, "Q4_K": 12, "Q6_K": 14, "BF16": 30}

def encode(w, t):
    """Returns (bytes, dequantized float64 copy) of a 2-D float matrix in type t."""
    n = w.shape[-1]
    if t == "F32":
        return w.astype(np.float32).tobytes(), w.astype(np.float32).astype(np.float64)
    if t == "F16":
        h = f16(w)
        return h.tobytes(), h.astype(np.float64)
    if t == "BF16":
        b = bf16_bits(w)
        return b.tobytes(), bf16_value(b).astype(np.float64)
    q, dq = {"Q8_0": (quant_q8_0, deq_q8_0), "Q4_0": (quant_q4_0, deq_q4_0),
             "Q5_0": (quant_q5_0, deq_q5_0), "Q5_1": (quant_q5_1, deq_q5_1),
             "Q4_K": (quant_q4_k, deq_q4_k), "Q6_K": (quant_q6_k, deq_q6_k)}[t]
    raw = q(w)
    return raw, dq(raw, n).reshape(w.shape)

# ---------------------------------------------------------------- tokenizer (tiny byte-level BPE)

def bytes_to_unicode():
    bs = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b); cs.append(256 + n); n += 1
    return dict(zip(bs, [chr(c) for c in cs]))

B2U = bytes_to_unicode()
CORPUS = ("Hello world. Hello there, how are you today? The weather is nice and the sun is warm. "
          "I think that we should talk about the plan for the day. Thank you, that is very kind. "
          "你好，今天天气很好。我们一起去公园吧。谢谢你！") * 4
ASCII_PRE = re.compile(r"'s|'t|'re|'ve|'m|'ll|'d|[^\r\n A-Za-z0-9\x80-\uffff]?[A-Za-z\u4e00-\u9fff]+|[0-9]| ?[^\sA-Za-z0-9\u4e00-\u9fff]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")

def pre_tokenize(text):
    # Matches the C++ qwen2 / llama-bpe pre-tokenizers on this corpus's alphabet (ASCII, CJK, a
    # space before words); enough for the prompts the tests use.
    return ASCII_PRE.findall(text)

def train_bpe(n_merges, corpus=CORPUS):
    words = {}
    for wd in pre_tokenize(corpus):
        key = tuple(B2U[b] for b in wd.encode("utf-8"))
        words[key] = words.get(key, 0) + 1
    merges = []
    for _ in range(n_merges):
        pairs = {}
        for wd, c in words.items():
            for a, b in zip(wd, wd[1:]):
                pairs[(a, b)] = pairs.get((a, b), 0) + c
        if not pairs:
            break
        best = max(sorted(pairs), key=lambda p: pairs[p])
        merges.append(best)
        new = {}
        for wd, c in words.items():
            out = []; i = 0
            while i < len(wd):
                if i + 1 < len(wd) and (wd[i], wd[i + 1]) == best:
                    out.append(wd[i] + wd[i + 1]); i += 2
                else:
                    out.append(wd[i]); i += 1
            new[tuple(out)] = new.get(tuple(out), 0) + c
        words = new
    return merges

def bpe_encode(text, vocab, ranks, ignore_merges):
    ids = []
    for wd in pre_tokenize(text):
        syms = [B2U[b] for b in wd.encode("utf-8")]
        if ignore_merges and "".join(syms) in vocab:
            ids.append(vocab["".join(syms)]); continue
        while len(syms) > 1:
            cands = [(ranks.get((a, b), 1 << 30), i) for i, (a, b) in enumerate(zip(syms, syms[1:]))]
            r, i = min(cands)
            if r == 1 << 30:
                break
            syms[i:i + 2] = [syms[i] + syms[i + 1]]
        ids.extend(vocab[s] for s in syms)
    return ids

def make_tokenizer(arch):
    tokens = [B2U[b] for b in range(256)]
    merges = train_bpe(64)
    for a, b in merges:
        if a + b not in tokens:
            tokens.append(a + b)
    types = [1] * len(tokens)
    if arch == "qwen2":
        specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    else:
        specials = ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]
    for s in specials:
        tokens.append(s); types.append(3)
    while len(tokens) % 8:
        tokens.append("[PAD%d]" % len(tokens)); types.append(5)
    vocab = {t: i for i, t in enumerate(tokens)}
    ranks = {m: i for i, m in enumerate(merges)}
    meta = {"tokens": tokens, "types": types, "merges": [a + " " + b for a, b in merges]}
    if arch == "qwen2":
        meta.update(pre="qwen2", bos=vocab["<|endoftext|>"], eos=vocab["<|im_end|>"], add_bos=False)
    else:
        meta.update(pre="llama-bpe", bos=vocab["<|begin_of_text|>"], eos=vocab["<|eot_id|>"], add_bos=True)
    return meta, vocab, ranks

# ---------------------------------------------------------------- GGUF writer

def gguf_string(s):
    b = s.encode("utf-8")
    return struct.pack("<Q", len(b)) + b

class U32(int):
    """An int stored as GGUF uint32, as llama.cpp's loader requires for counts, lengths and token ids."""

def gguf_kv(key, value):
    out = gguf_string(key)
    if isinstance(value, U32):
        return out + struct.pack("<II", 4, value)
    if isinstance(value, bool):
        return out + struct.pack("<IB", 7, int(value))
    if isinstance(value, int):
        return out + struct.pack("<Ii", 5, value) if value < 2**31 else out + struct.pack("<IQ", 10, value)
    if isinstance(value, float):
        return out + struct.pack("<If", 6, value)
    if isinstance(value, str):
        return out + struct.pack("<I", 8) + gguf_string(value)
    if isinstance(value, list) and value and isinstance(value[0], str):
        return out + struct.pack("<IIQ", 9, 8, len(value)) + b"".join(gguf_string(v) for v in value)
    if isinstance(value, list):
        return out + struct.pack("<IIQ", 9, 5, len(value)) + struct.pack("<%di" % len(value), *value)
    raise TypeError(key)

BLOCK = {"F32": (1, 4), "F16": (1, 2), "BF16": (1, 2), "Q8_0": (32, 34), "Q4_0": (32, 18), "Q5_0": (32, 22),
         "Q5_1": (32, 24), "Q4_K": (256, 144), "Q6_K": (256, 210)}  # values per block, bytes per block

def tensor_nbytes(shape, t):
    n = int(np.prod(shape))
    per, size = BLOCK[t]
    assert n % per == 0, (shape, t)
    return n // per * size

def write_gguf(path, kv, tensors):
    """tensors: list of (name, ggml shape [cols, rows] or [n], type name, bytes or a function returning
    them). Functions are called one at a time while writing, so a large model need not sit in memory."""
    align = 32
    head = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kv))
    head += b"".join(gguf_kv(k, v) for k, v in kv.items())
    offset = 0
    infos = b""
    for name, shape, t, raw in tensors:
        infos += gguf_string(name) + struct.pack("<I", len(shape)) + struct.pack("<%dQ" % len(shape), *shape)
        infos += struct.pack("<IQ", GGML[t], offset)
        offset += tensor_nbytes(shape, t)
        offset += (-offset) % align
    blob = head + infos
    blob += b"\0" * ((-len(blob)) % align)
    with open(path, "wb") as f:
        f.write(blob)
        for name, shape, t, raw in tensors:
            data = raw() if callable(raw) else raw
            assert len(data) == tensor_nbytes(shape, t), name
            f.write(data)
            f.write(b"\0" * ((-len(data)) % align))

def write_safetensors(path, tensors):
    header = {}
    off = 0
    for name, shape, t, raw in tensors:
        header[name] = {"dtype": t, "shape": shape, "data_offsets": [off, off + len(raw)]}
        off += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((-len(h)) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(raw for _, _, _, raw in tensors))

# ---------------------------------------------------------------- the model and its NumPy reference

def permute_rows(w, n_head):
    # llama.cpp's convert_hf_to_gguf permutation of Llama q/k rows (for its non-NeoX RoPE).
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)

def q8_act(x, block):
    shp = x.shape
    b = x.reshape(-1, block).astype(np.float32)
    d = (np.abs(b).max(axis=1) / np.float32(127.0)).astype(np.float32)
    idv = np.where(d > 0, np.float32(1.0) / np.where(d > 0, d, 1), 0).astype(np.float32)
    v = b * idv[:, None]
    q = np.clip(np.sign(v) * np.floor(np.abs(v) + 0.5), -127, 127)
    return (q.astype(np.float64) * d[:, None].astype(np.float64)).reshape(shp)

def forward(cfg, W, ids, quant_act, noise=None):
    """quant_act: activation block size for the mat-muls (32 or 256), or 0 for none, or a function
    of the weight matrix giving it (mixed-type models). noise: a NumPy
    generator to perturb every mat-mul output by 1e-6 relative (float32 rounding's order of size),
    to measure how sensitive the reference itself is."""
    E, H, KV, hd = cfg["n_embd"], cfg["n_head"], cfg["n_head_kv"], cfg["head_dim"]
    T = len(ids)
    def mm(x, w):
        block = quant_act(w) if callable(quant_act) else quant_act
        y = (q8_act(x, block) if block else x) @ w.T
        return y * (1 + 1e-6 * noise.standard_normal(y.shape)) if noise is not None else y
    def rms(x, w):
        return x / np.sqrt((x * x).mean(axis=-1, keepdims=True) + cfg["eps"]) * w
    inv = 1.0 / (cfg["theta"] ** (np.arange(0, hd, 2) / hd))
    ang = np.arange(T)[:, None] * inv[None, :]
    cos = np.concatenate([np.cos(ang)] * 2, axis=1); sin = np.concatenate([np.sin(ang)] * 2, axis=1)
    def rope(x):  # x [T, heads, hd], rotate_half
        half = hd // 2
        rot = np.concatenate([-x[..., half:], x[..., :half]], axis=-1)
        return x * cos[:, None, :] + rot * sin[:, None, :]
    x = W["embd"][ids].copy()
    mask = np.triu(np.full((T, T), -np.inf), 1)
    for L in W["layers"]:
        h = rms(x, L["attn_norm"])
        q = mm(h, L["wq"]) + L.get("bq", 0)
        k = mm(h, L["wk"]) + L.get("bk", 0)
        v = mm(h, L["wv"]) + L.get("bv", 0)
        q = rope(q.reshape(T, H, hd)); k = rope(k.reshape(T, KV, hd)); v = v.reshape(T, KV, hd)
        rep = H // KV
        k = np.repeat(k, rep, axis=1); v = np.repeat(v, rep, axis=1)
        s = np.einsum("thd,uhd->htu", q, k) / np.sqrt(hd) + mask[None]
        s = np.exp(s - s.max(axis=-1, keepdims=True)); s /= s.sum(axis=-1, keepdims=True)
        o = np.einsum("htu,uhd->thd", s, v).reshape(T, H * hd)
        x = x + mm(o, L["wo"])
        h = rms(x, L["ffn_norm"])
        g = mm(h, L["w_gate"]); u = mm(h, L["w_up"])
        x = x + mm(g / (1 + np.exp(-g)) * u, L["w_down"])
    return mm(rms(x, W["norm"]), W["out"])

def greedy(cfg, W, ids, n, quant_act, noise=None):
    ids = list(ids); out = []
    for _ in range(n):
        nxt = int(np.argmax(forward(cfg, W, ids, quant_act, noise)[-1]))
        out.append(nxt); ids.append(nxt)
    return out

def random_weights(cfg, rng, tied):
    E, F, hd = cfg["n_embd"], cfg["n_ff"], cfg["head_dim"]
    qd, kd = cfg["n_head"] * hd, cfg["n_head_kv"] * hd
    def lin(o, i):
        return rng.standard_normal((o, i)) * (1.0 / np.sqrt(i))
    # Small embeddings and strong residual branches, so that with tied embeddings the next token
    # is not simply the current one (which would make greedy tests weak).
    W = {"embd": 0.3 * rng.standard_normal((cfg["n_vocab"], E)), "norm": 1 + 0.1 * rng.standard_normal(E), "layers": []}
    W["out"] = W["embd"] if tied else lin(cfg["n_vocab"], E) * 2.0
    for _ in range(cfg["n_layer"]):
        L = {"attn_norm": 1 + 0.1 * rng.standard_normal(E), "ffn_norm": 1 + 0.1 * rng.standard_normal(E),
             "wq": lin(qd, E), "wk": lin(kd, E), "wv": lin(kd, E), "wo": lin(E, qd) * 2.0,
             "w_gate": lin(F, E), "w_up": lin(F, E), "w_down": lin(E, F) * 2.0}
        if cfg["arch"] == "qwen2":
            L.update(bq=0.1 * rng.standard_normal(qd), bk=0.1 * rng.standard_normal(kd), bv=0.1 * rng.standard_normal(kd))
        W["layers"].append(L)
    return W

SHAPES = {
    # Rows of 64/128: fits Q8_0 / Q4_0 blocks of 32 and keeps F32 files small.
    "small": dict(n_embd=64, n_head=4, n_head_kv=2, head_dim=16, n_ff=128, n_layer=2),
    # K-quants need rows that are multiples of 256.
    "kquant": dict(n_embd=256, n_head=2, n_head_kv=1, head_dim=128, n_ff=256, n_layer=1),
    # For the Q4_K_M-like mix: n_ff 288 is not a multiple of 256, so ffn_down falls back.
    "mixed": dict(n_embd=256, n_head=2, n_head_kv=1, head_dim=128, n_ff=288, n_layer=2),
    # For the fidelity test: an FFN of 160 = 5 Q8 blocks (an odd count: no pairing of blocks can
    # cover it), an untied output matrix, every matrix (embedding and output too) in Q8_0.
    "odd": dict(n_embd=64, n_head=4, n_head_kv=2, head_dim=16, n_ff=160, n_layer=2),
}

ACT_BLOCK = {"Q8_0": 32, "Q4_0": 32, "Q5_0": 32, "Q5_1": 32, "Q4_K": 256, "Q6_K": 256}

def tensor_type(qtype, key, layer, cols):
    """The type a tensor is stored in. Plain types: every matrix. "Q4_K_M": a small version of
    llama.cpp's mix: attn_v and ffn_down in Q6_K on even layers (its "more bits" layers) and Q4_K on
    odd ones, the output matrix in Q6_K, the rest Q4_K; rows that are not whole 256-value
    super-blocks fall back as llama.cpp's quantizer does (Q4_K -> Q5_0, Q6_K -> Q8_0)."""
    if qtype != "Q4_K_M":
        return qtype
    t = "Q4_K"
    if key in ("wv", "w_down") and layer % 2 == 0:
        t = "Q6_K"
    if key == "out":
        t = "Q6_K"
    if cols % 256:
        t = {"Q4_K": "Q5_0", "Q6_K": "Q8_0"}[t]
    return t

MATS = ["wq", "wk", "wv", "wo", "w_gate", "w_up", "w_down"]
GGUF_NAMES = {"wq": "attn_q", "wk": "attn_k", "wv": "attn_v", "wo": "attn_output",
              "w_gate": "ffn_gate", "w_up": "ffn_up", "w_down": "ffn_down"}
HF_NAMES = {"wq": "self_attn.q_proj", "wk": "self_attn.k_proj", "wv": "self_attn.v_proj", "wo": "self_attn.o_proj",
            "w_gate": "mlp.gate_proj", "w_up": "mlp.up_proj", "w_down": "mlp.down_proj"}
PROMPT = "Hello world, how are you?"
N_GREEDY = 8

def build(arch, shape, qtype, fmt, tied=None):
    """Writes one model and its golden file; returns what fidelity_golden() needs to add to it."""
    seed = {"qwen2": 11, "llama": 23}[arch] * 100 + list(SHAPES).index(shape)
    rng = np.random.default_rng(seed)
    tok, vocab, ranks = make_tokenizer(arch)
    cfg = dict(SHAPES[shape], arch=arch, n_vocab=len(tok["tokens"]),
               theta=1000000.0 if arch == "qwen2" else 500000.0, eps=1e-6 if arch == "qwen2" else 1e-5)
    if tied is None:
        tied = arch == "qwen2"
    W = random_weights(cfg, rng, tied)
    # Quantize / round every matrix; the reference runs on exactly the stored values.
    Wq = {"embd": None, "norm": W["norm"].astype(np.float32).astype(np.float64), "layers": []}
    raw, types, blocks = {}, {}, {}  # by tensor key: bytes, type name; by id(matrix): activation block
    def put(key, w, layer=0, store=None):
        t = tensor_type(qtype, key if isinstance(key, str) else key[1], layer, w.shape[-1])
        types[key] = t
        raw[key], dq = encode(w if store is None else store, t)
        return dq
    Wq["embd"] = put("embd", W["embd"])
    if tied:
        Wq["out"] = Wq["embd"]
    else:
        Wq["out"] = put("out", W["out"])
    for i, L in enumerate(W["layers"]):
        LQ = {}
        for k in ["attn_norm", "ffn_norm", "bq", "bk", "bv"]:
            if k in L:
                LQ[k] = L[k].astype(np.float32).astype(np.float64)
        for m in MATS:
            w = L[m]
            if fmt == "gguf" and arch == "llama" and m in ("wq", "wk"):
                # Row permutation commutes with row-wise quantization: quantize the permuted rows,
                # un-permute the dequantized copy for the (Hugging Face order) reference.
                n_head = cfg["n_head"] if m == "wq" else cfg["n_head_kv"]
                dq = put((i, m), w, i, store=permute_rows(w, n_head))
                inv = np.argsort(permute_rows(np.arange(w.shape[0])[:, None].astype(np.float64), n_head)[:, 0])
                LQ[m] = dq[inv]
            else:
                LQ[m] = put((i, m), w, i)
            blocks[id(LQ[m])] = ACT_BLOCK.get(types[(i, m)], 0)
        Wq["layers"].append(LQ)
    blocks[id(Wq["out"])] = ACT_BLOCK.get(types["out" if not tied else "embd"], 0)
    quant_act = lambda w: blocks[id(w)]
    ids = bpe_encode(PROMPT, vocab, ranks, ignore_merges=(arch == "llama"))
    if tok["add_bos"]:
        ids = [tok["bos"]] + ids
    logits = forward(cfg, Wq, ids, quant_act)
    logits_f32 = forward(cfg, W, ids, False)
    name = "%s-%s-%s" % (arch, shape, qtype.lower())
    golden = {"arch": arch, "type": qtype, "format": fmt, "prompt": PROMPT, "prompt_ids": ids,
              "n_vocab": cfg["n_vocab"], "logits": [float("%.7g" % v) for v in logits.reshape(-1)],
              "logits_f32": [float("%.7g" % v) for v in logits_f32.reshape(-1)],
              "greedy": greedy(cfg, Wq, ids, N_GREEDY, quant_act)}
    # How far the reference moves under float32-sized perturbations: with quantized activations a
    # value on a Q8 rounding boundary can flip and move the logits by far more than the noise.
    # The tests allow this much, and accept the greedy sequences the perturbed references produced.
    golden["reference_spread"] = max(float(np.abs(forward(cfg, Wq, ids, quant_act, np.random.default_rng(s)) -
                                                  logits).max()) for s in (1, 2, 3))
    alternatives = []
    for s in (1, 2, 3):
        g = greedy(cfg, Wq, ids, N_GREEDY, quant_act, np.random.default_rng(s))
        if g != golden["greedy"] and g not in alternatives:
            alternatives.append(g)
    golden["greedy_alternatives"] = alternatives

    if fmt == "gguf":
        kv = {"general.architecture": arch, "general.name": name, "general.alignment": 32,
              arch + ".context_length": 4096, arch + ".embedding_length": cfg["n_embd"],
              arch + ".block_count": cfg["n_layer"], arch + ".feed_forward_length": cfg["n_ff"],
              arch + ".attention.head_count": cfg["n_head"], arch + ".attention.head_count_kv": cfg["n_head_kv"],
              arch + ".rope.freq_base": cfg["theta"], arch + ".attention.layer_norm_rms_epsilon": cfg["eps"],
              "tokenizer.ggml.model": "gpt2", "tokenizer.ggml.pre": tok["pre"],
              "tokenizer.ggml.tokens": tok["tokens"], "tokenizer.ggml.token_type": tok["types"],
              "tokenizer.ggml.merges": tok["merges"], "tokenizer.ggml.bos_token_id": tok["bos"],
              "tokenizer.ggml.eos_token_id": tok["eos"], "tokenizer.ggml.add_bos_token": tok["add_bos"]}
        f32 = lambda v: v.astype(np.float32).tobytes()
        E = cfg["n_embd"]
        tensors = [("token_embd.weight", [E, cfg["n_vocab"]], types["embd"], raw["embd"]),
                   ("output_norm.weight", [E], "F32", f32(W["norm"]))]
        if not tied:
            tensors.append(("output.weight", [E, cfg["n_vocab"]], types["out"], raw["out"]))
        for i, L in enumerate(W["layers"]):
            p = "blk.%d." % i
            tensors += [(p + "attn_norm.weight", [E], "F32", f32(L["attn_norm"])),
                        (p + "ffn_norm.weight", [E], "F32", f32(L["ffn_norm"]))]
            for m in MATS:
                w = L[m]
                tensors.append((p + GGUF_NAMES[m] + ".weight", [w.shape[1], w.shape[0]], types[(i, m)], raw[(i, m)]))
            for b, nm in (("bq", "attn_q"), ("bk", "attn_k"), ("bv", "attn_v")):
                if b in L:
                    tensors.append((p + nm + ".bias", [L[b].shape[0]], "F32", f32(L[b])))
        path = os.path.join(OUT, name + ".gguf")
        write_gguf(path, kv, tensors)
        golden_path = os.path.join(OUT, name + ".golden.json")
    else:
        d = os.path.join(OUT, name + "-safetensors")
        os.makedirs(d, exist_ok=True)
        config = {"model_type": arch, "architectures": ["Qwen2ForCausalLM" if arch == "qwen2" else "LlamaForCausalLM"],
                  "hidden_size": cfg["n_embd"], "intermediate_size": cfg["n_ff"], "num_hidden_layers": cfg["n_layer"],
                  "num_attention_heads": cfg["n_head"], "num_key_value_heads": cfg["n_head_kv"],
                  "vocab_size": cfg["n_vocab"], "rms_norm_eps": cfg["eps"], "rope_theta": cfg["theta"],
                  "max_position_embeddings": 4096, "tie_word_embeddings": tied,
                  "torch_dtype": "float16" if qtype == "F16" else "bfloat16"}
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(config, f, indent=1)
        # Norms and biases stay F32 here (a checkpoint may mix dtypes); the loader handles both.
        f32 = lambda v: v.astype(np.float32).tobytes()
        tensors = [("model.embed_tokens.weight", list(W["embd"].shape), qtype, raw["embd"]),
                   ("model.norm.weight", [cfg["n_embd"]], "F32", f32(W["norm"]))]
        if not tied:
            tensors.append(("lm_head.weight", list(W["out"].shape), qtype, raw["out"]))
        for i, L in enumerate(W["layers"]):
            p = "model.layers.%d." % i
            tensors += [(p + "input_layernorm.weight", [cfg["n_embd"]], "F32", f32(L["attn_norm"])),
                        (p + "post_attention_layernorm.weight", [cfg["n_embd"]], "F32", f32(L["ffn_norm"]))]
            for m in MATS:
                tensors.append((p + HF_NAMES[m] + ".weight", list(L[m].shape), qtype, raw[(i, m)]))
            for b, nm in (("bq", "q_proj"), ("bk", "k_proj"), ("bv", "v_proj")):
                if b in L:
                    tensors.append((p + "self_attn." + nm + ".bias", [L[b].shape[0]], "F32", f32(L[b])))
        path = os.path.join(d, "model.safetensors")
        write_safetensors(path, tensors)
        golden_path = os.path.join(d, "golden.json")
    with open(golden_path, "w") as f:
        json.dump(golden, f)
    err = np.abs(logits - logits_f32).max() / np.abs(logits_f32).max()
    print("%-40s %7d bytes  greedy %s  rel.err vs f32 %.4f" % (os.path.relpath(path, OUT), os.path.getsize(path),
                                                               golden["greedy"], err))
    return dict(cfg=cfg, W=Wq, quant_act=quant_act, vocab=vocab, ranks=ranks, tok=tok, golden=golden,
                golden_path=golden_path)

FIDELITY_PROMPTS = ["Hello world, how are you today?", "你好，今天天气很好。我们一起去公园吧。",
                    "def add(a, b):\n    return a + b\n"]
N_FIDELITY = 24

def fidelity_golden(m):
    """Adds "fidelity" to a model's golden file: for each of FIDELITY_PROMPTS (English, Chinese,
    code), N_FIDELITY greedy tokens of the reference with quantized activations (int8 per block,
    the scale d kept in float32 as Cadence keeps it; llama.cpp's block_q8_0 rounds it to fp16), and
    per step the reference's top-two logit margin and its spread (the largest change of that step's
    logits over three reruns with every mat-mul output perturbed by 1e-6 relative). A step whose
    margin is well above its spread is one where any faithful implementation picks the same token;
    the test holds Cadence to those, teacher-forced along the reference's sequence."""
    cfg, W, quant_act = m["cfg"], m["W"], m["quant_act"]
    cases = []
    for prompt in FIDELITY_PROMPTS:
        ids = bpe_encode(prompt, m["vocab"], m["ranks"], ignore_merges=False)
        tokens = greedy(cfg, W, ids, N_FIDELITY, quant_act)
        full = ids + tokens[:-1]  # teacher-forced: one pass gives every step's logits
        steps = slice(len(ids) - 1, len(full))
        logits = forward(cfg, W, full, quant_act)[steps]
        assert [int(np.argmax(l)) for l in logits] == tokens
        top2 = np.sort(logits, axis=1)[:, -2:]
        spread = np.zeros(N_FIDELITY)
        for s in (1, 2, 3):
            noisy = forward(cfg, W, full, quant_act, np.random.default_rng(s))[steps]
            spread = np.maximum(spread, np.abs(noisy - logits).max(axis=1))
        cases.append({"prompt": prompt, "prompt_ids": ids, "greedy": tokens,
                      "margins": [float("%.7g" % v) for v in top2[:, 1] - top2[:, 0]],
                      "spreads": [float("%.7g" % v) for v in spread]})
        print("  fidelity %-36r greedy %s...  min margin %.2g, max spread %.2g" %
              (prompt[:30], tokens[:6], (top2[:, 1] - top2[:, 0]).min(), spread.max()))
    m["golden"]["fidelity"] = cases
    with open(m["golden_path"], "w") as f:
        json.dump(m["golden"], f)

def main():
    os.makedirs(OUT, exist_ok=True)
    for arch in ("qwen2", "llama"):
        for qtype in ("F32", "F16", "Q8_0", "Q5_0", "Q5_1", "Q4_0"):
            build(arch, "small", qtype, "gguf")
        for qtype in ("F32", "Q4_K", "Q6_K"):
            build(arch, "kquant", qtype, "gguf") if qtype != "F32" else None
        build(arch, "mixed", "Q4_K_M", "gguf")
        build(arch, "small", "F16" if arch == "qwen2" else "BF16", "safetensors")
    fidelity_golden(build("qwen2", "odd", "Q8_0", "gguf", tied=False))

if __name__ == "__main__":
    main()
