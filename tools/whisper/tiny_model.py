#!/usr/bin/python3
"""Tiny random Whisper model in both on-disk forms, plus a NumPy reference forward pass.

Writes into OUT_DIR:
  model.safetensors + config.json + generation_config.json + vocab.json (Hugging Face layout)
  ggml-tiny-random.bin                                       (whisper.cpp legacy ggml layout)
  ggml-tiny-random-q8_0.bin   the same with 2-D matrices quantized to ggml Q8_0 (as whisper.cpp's
                              quantize does: positional embeddings and convs keep their type)
  reference_encoder_out_q8_0.bin  encoder output on the dequantized Q8_0 weights
  reference_input_mel.bin     the encoder input ([n_mels][2 * n_audio_ctx], CMEL, see reference.py)
  reference_encoder_out.bin   encoder output ([n_audio_ctx][d_model], CMEL-style rows x cols)
  reference_tokens.txt        prompt ids, then the greedy ids until <|endoftext|> or max_tokens
  reference_input_mel_zh.bin  the encoder input of 2 s of a Mandarin clip (zh_aishell)
  reference_decoding.txt      per clip (en, zh): language detection (argmax over the language
                              tokens after <|startoftranscript|>, with probabilities), greedy ids after
                              the <|zh|> prompt, and beam-search ids (beam 5, openai-whisper's
                              BeamSearchDecoder + MaximumLikelihoodRanker without length penalty)

The reference forward pass follows openai/whisper model.py (conv stem with exact GELU, sinusoidal
positions, pre-norm residual blocks, q and k each scaled by head_dim**-0.25, causal self-attention
and cross-attention in the decoder, logits tied to the token embedding) in float64 on the weights as
stored (float16 matrices are widened), so C++ and NumPy see identical parameters.

Both files are read back by independent parsers below and the forward pass is run from each; the
script fails if they disagree. Python 3 + NumPy only (Debian python3-numpy).

Usage: /usr/bin/python3 tools/whisper/tiny_model.py OUT_DIR
"""
import json
import math
import os
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference  # noqa: E402

# Shape: Whisper-architecture, tiny. whisper.cpp fixes the MLP width at 4 * d_model.
D_MODEL = 64
N_HEAD = 4
N_AUDIO_LAYER = 2
N_TEXT_LAYER = 2
N_MELS = 80
N_AUDIO_CTX = 100   # 200 mel frames = 2 s of audio
N_TEXT_CTX = 32
MAX_TOKENS = 20
SEED = 20261129

# Vocabulary: 96 printable-ASCII byte tokens, then the special tokens in the order the real
# multilingual tokenizer uses (two languages: en, zh).
BASE_TOKENS = [chr(c) for c in range(32, 128)]
SPECIALS = ["<|endoftext|>", "<|startoftranscript|>", "<|en|>", "<|zh|>", "<|translate|>",
            "<|transcribe|>", "<|startoflm|>", "<|startofprev|>", "<|nospeech|>", "<|notimestamps|>"]
VOCAB = BASE_TOKENS + SPECIALS
TOKEN_ID = {t: i for i, t in enumerate(VOCAB)}
PROMPT = [TOKEN_ID[t] for t in ("<|startoftranscript|>", "<|en|>", "<|transcribe|>", "<|notimestamps|>")]
EOT = TOKEN_ID["<|endoftext|>"]
BLANK = TOKEN_ID[" "]

BLANK_OVER_FIRST, NOSPEECH_SCALE = 1.05, 3.0  # embedding rows of the logit-filter fixtures
SILENCE_OVER_TOP = 7.0  # the <|nospeech|> row of the silence-rule fixture

F16_MATRICES = True  # 2-D weights stored as float16 (as released ggml f16 files); the rest float32


def sinusoids(length, channels, max_timescale=10000.0):
    inc = math.log(max_timescale) / (channels // 2 - 1)
    inv = np.exp(-inc * np.arange(channels // 2))
    t = np.arange(length)[:, None] * inv[None, :]
    return np.concatenate([np.sin(t), np.cos(t)], axis=1)


def random_weights():
    """Parameters under openai/whisper names (the ggml names), numpy arrays in PyTorch shapes."""
    rng = np.random.default_rng(SEED)
    d, f = D_MODEL, 4 * D_MODEL

    def mat(*shape, scale):
        return rng.normal(0.0, scale, size=shape)

    def vec(n, mean=0.0, scale=0.1):
        return mean + rng.normal(0.0, scale, size=n)

    w = {}
    w["encoder.conv1.weight"] = mat(d, N_MELS, 3, scale=1.0 / math.sqrt(3 * N_MELS))
    w["encoder.conv1.bias"] = vec(d)
    w["encoder.conv2.weight"] = mat(d, d, 3, scale=1.0 / math.sqrt(3 * d))
    w["encoder.conv2.bias"] = vec(d)
    w["encoder.positional_embedding"] = sinusoids(N_AUDIO_CTX, d)

    def block(prefix, cross):
        parts = ["attn"] + (["cross_attn"] if cross else [])
        for p in parts:
            for proj in ("query", "key", "value", "out"):
                w[f"{prefix}.{p}.{proj}.weight"] = mat(d, d, scale=1.0 / math.sqrt(d))
                if proj != "key":  # Whisper's key projection has no bias
                    w[f"{prefix}.{p}.{proj}.bias"] = vec(d)
            w[f"{prefix}.{p}_ln.weight"] = vec(d, 1.0)
            w[f"{prefix}.{p}_ln.bias"] = vec(d)
        w[f"{prefix}.mlp.0.weight"] = mat(f, d, scale=1.0 / math.sqrt(d))
        w[f"{prefix}.mlp.0.bias"] = vec(f)
        w[f"{prefix}.mlp.2.weight"] = mat(d, f, scale=1.0 / math.sqrt(f))
        w[f"{prefix}.mlp.2.bias"] = vec(d)
        w[f"{prefix}.mlp_ln.weight"] = vec(d, 1.0)
        w[f"{prefix}.mlp_ln.bias"] = vec(d)

    for i in range(N_AUDIO_LAYER):
        block(f"encoder.blocks.{i}", cross=False)
    w["encoder.ln_post.weight"] = vec(d, 1.0)
    w["encoder.ln_post.bias"] = vec(d)
    w["decoder.token_embedding.weight"] = mat(len(VOCAB), d, scale=0.05)
    w["decoder.positional_embedding"] = mat(N_TEXT_CTX, d, scale=1.0)
    for i in range(N_TEXT_LAYER):
        block(f"decoder.blocks.{i}", cross=True)
    w["decoder.ln.weight"] = vec(d, 1.0)
    w["decoder.ln.bias"] = vec(d)
    # Small token embeddings and strong positions keep the tied-logit argmax from repeating the
    # current token forever, so the greedy sequence exercises the KV cache.
    # Round to the stored precision so every reader sees the same numbers.
    for k, v in w.items():
        w[k] = v.astype(np.float16 if stored_f16(k, v) else np.float32).astype(np.float64)
    return w


def stored_f16(name, arr):
    # As whisper.cpp's convert-pt-to-ggml.py: biases, 1-D tensors and positional embeddings stay f32.
    return F16_MATRICES and arr.ndim >= 2 and "positional_embedding" not in name


# ---------------------------------------------------------------------------------------------
# Hugging Face names.

def hf_name(name):
    n = name
    if n.startswith("encoder.positional_embedding"):
        return "model.encoder.embed_positions.weight"
    if n.startswith("decoder.positional_embedding"):
        return "model.decoder.embed_positions.weight"
    n = n.replace("decoder.token_embedding", "decoder.embed_tokens")
    n = n.replace(".blocks.", ".layers.")
    n = n.replace("encoder.ln_post", "encoder.layer_norm").replace("decoder.ln.", "decoder.layer_norm.")
    for a, b in ((".cross_attn_ln.", ".encoder_attn_layer_norm."), (".attn_ln.", ".self_attn_layer_norm."),
                 (".mlp_ln.", ".final_layer_norm."), (".mlp.0.", ".fc1."), (".mlp.2.", ".fc2."),
                 (".cross_attn.", ".encoder_attn."), (".attn.", ".self_attn.")):
        n = n.replace(a, b)
    for a, b in ((".query.", ".q_proj."), (".key.", ".k_proj."), (".value.", ".v_proj."), (".out.", ".out_proj.")):
        n = n.replace(a, b)
    return "model." + n


def write_safetensors(path, w):
    header, blobs, offset = {}, [], 0
    for name in sorted(w):
        arr = w[name]
        f16 = stored_f16(name, arr)
        data = np.ascontiguousarray(arr).astype("<f2" if f16 else "<f4").tobytes()
        header[hf_name(name)] = {"dtype": "F16" if f16 else "F32", "shape": list(arr.shape),
                                 "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    header["__metadata__"] = {"format": "pt"}
    hjson = json.dumps(header, separators=(",", ":")).encode()
    hjson += b" " * ((8 - len(hjson) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hjson)))
        f.write(hjson)
        for b in blobs:
            f.write(b)


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack_from("<Q", raw, 0)
    header = json.loads(raw[8:8 + n])
    base = 8 + n
    out = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        a, b = meta["data_offsets"]
        dt = {"F16": "<f2", "F32": "<f4"}[meta["dtype"]]
        out[name] = np.frombuffer(raw[base + a:base + b], dtype=dt).reshape(meta["shape"]).astype(np.float64)
    return out


def hf_config():
    return {
        "architectures": ["WhisperForConditionalGeneration"], "model_type": "whisper",
        "d_model": D_MODEL, "encoder_layers": N_AUDIO_LAYER, "decoder_layers": N_TEXT_LAYER,
        "encoder_attention_heads": N_HEAD, "decoder_attention_heads": N_HEAD,
        "encoder_ffn_dim": 4 * D_MODEL, "decoder_ffn_dim": 4 * D_MODEL, "num_mel_bins": N_MELS,
        "max_source_positions": N_AUDIO_CTX, "max_target_positions": N_TEXT_CTX, "vocab_size": len(VOCAB),
        "activation_function": "gelu", "scale_embedding": False, "tie_word_embeddings": True,
        "decoder_start_token_id": TOKEN_ID["<|startoftranscript|>"], "eos_token_id": EOT,
        "pad_token_id": EOT, "bos_token_id": EOT, "torch_dtype": "float16",
    }


def gpt2_byte_to_unicode():
    """GPT-2's byte-level alphabet (the form Hugging Face vocab.json spells tokens in)."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(ord("\u00a1"), ord("\u00ac") + 1)) + \
        list(range(ord("\u00ae"), ord("\u00ff") + 1))
    table, extra = {}, 0
    for b in range(256):
        if b in keep:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


def hf_vocab():
    enc = gpt2_byte_to_unicode()
    vocab = {}
    for i, tok in enumerate(VOCAB):
        vocab[tok if tok in SPECIALS else "".join(enc[b] for b in tok.encode())] = i
    return vocab


def generation_config():
    return {
        "decoder_start_token_id": TOKEN_ID["<|startoftranscript|>"], "eos_token_id": EOT,
        "is_multilingual": True, "lang_to_id": {"<|en|>": TOKEN_ID["<|en|>"], "<|zh|>": TOKEN_ID["<|zh|>"]},
        "task_to_id": {"transcribe": TOKEN_ID["<|transcribe|>"], "translate": TOKEN_ID["<|translate|>"]},
        "no_timestamps_token_id": TOKEN_ID["<|notimestamps|>"], "max_length": N_TEXT_CTX,
    }


# ---------------------------------------------------------------------------------------------
# whisper.cpp legacy ggml file: magic, 11 int32 hparams, mel filters, vocab, tensors until EOF.

GGML_MAGIC = 0x67676D6C


def quantize_q8_0(arr):
    """ggml's quantize_row_q8_0 on each row (last axis): blocks of 32, d = max|x| / 127 in float32,
    q = roundf(x / d) (ties away from zero), d stored as float16. Returns (bytes, dequantized)."""
    rows = np.ascontiguousarray(arr, dtype=np.float32).reshape(-1, 32)
    amax = np.abs(rows).max(axis=1)
    d = (amax / 127.0).astype(np.float32)
    inv = np.where(d != 0, 1.0 / np.where(d != 0, d, 1), 0).astype(np.float32)
    v = rows * inv[:, None]
    q = (np.sign(v) * np.floor(np.abs(v) + 0.5)).astype(np.int8)
    d16 = d.astype(np.float16)
    blocks = np.zeros(rows.shape[0], dtype=[("d", "<f2"), ("q", "i1", 32)])
    blocks["d"] = d16
    blocks["q"] = q
    deq = (d16.astype(np.float64)[:, None] * q.astype(np.float64)).reshape(arr.shape)
    return blocks.tobytes(), deq


def quantized_q8(name, arr):
    return arr.ndim == 2 and "positional_embedding" not in name


def write_ggml(path, w, filters, q8=False):
    with open(path, "wb") as f:
        f.write(struct.pack("<I", GGML_MAGIC))
        ftype = 1 if F16_MATRICES else 0
        f.write(struct.pack("<11i", len(VOCAB), N_AUDIO_CTX, D_MODEL, N_HEAD, N_AUDIO_LAYER, N_TEXT_CTX,
                            D_MODEL, N_HEAD, N_TEXT_LAYER, N_MELS, ftype))
        f.write(struct.pack("<ii", filters.shape[0], filters.shape[1]))
        f.write(filters.astype("<f4").tobytes())
        f.write(struct.pack("<i", len(VOCAB)))
        for tok in VOCAB:
            b = tok.encode()
            f.write(struct.pack("<I", len(b)))
            f.write(b)
        for name in sorted(w):
            arr = w[name]
            f16 = stored_f16(name, arr)
            q = q8 and quantized_q8(name, arr)
            if name in ("encoder.conv1.bias", "encoder.conv2.bias"):
                arr = arr.reshape(arr.shape[0], 1)  # whisper.cpp stores conv biases as [n_state, 1]
            nb = name.encode()
            # ggml lists dimensions innermost first: the reverse of the PyTorch shape.
            f.write(struct.pack("<iii", arr.ndim, len(nb), 8 if q else (1 if f16 else 0)))
            f.write(struct.pack(f"<{arr.ndim}i", *reversed(arr.shape)))
            f.write(nb)
            if q:
                f.write(quantize_q8_0(arr)[0])
            else:
                f.write(np.ascontiguousarray(arr).astype("<f2" if f16 else "<f4").tobytes())


def read_ggml(path):
    with open(path, "rb") as f:
        raw = f.read()
    pos = 0

    def take(fmt):
        nonlocal pos
        vals = struct.unpack_from(fmt, raw, pos)
        pos += struct.calcsize(fmt)
        return vals

    (magic,) = take("<I")
    assert magic == GGML_MAGIC, "bad magic"
    hp = take("<11i")
    n_mel, n_fft = take("<ii")
    filters = np.frombuffer(raw, "<f4", n_mel * n_fft, pos).reshape(n_mel, n_fft)
    pos += 4 * n_mel * n_fft
    (n_words,) = take("<i")
    vocab = []
    for _ in range(n_words):
        (n,) = take("<I")
        vocab.append(raw[pos:pos + n].decode())
        pos += n
    tensors = {}
    while pos < len(raw):
        n_dims, name_len, ttype = take("<iii")
        ne = take(f"<{n_dims}i")
        name = raw[pos:pos + name_len].decode()
        pos += name_len
        count = int(np.prod(ne))
        if ttype == 8:
            blocks = np.frombuffer(raw, [("d", "<f2"), ("q", "i1", 32)], count // 32, pos)
            arr = (blocks["d"].astype(np.float64)[:, None] * blocks["q"].astype(np.float64)).reshape(tuple(reversed(ne)))
            pos += count // 32 * 34
        else:
            dt = "<f2" if ttype == 1 else "<f4"
            arr = np.frombuffer(raw, dt, count, pos).reshape(tuple(reversed(ne))).astype(np.float64)
            pos += count * (2 if ttype == 1 else 4)
        if name in ("encoder.conv1.bias", "encoder.conv2.bias"):
            arr = arr.reshape(-1)
        tensors[name] = arr
    return hp, filters, vocab, tensors


# ---------------------------------------------------------------------------------------------
# Reference forward pass (openai/whisper model.py semantics), float64.

def gelu(x):
    from math import erf
    return 0.5 * x * (1.0 + np.vectorize(erf)(x / math.sqrt(2.0)))


def layer_norm(x, g, b, eps=1e-5):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * g + b


def conv1d(x, w, b, stride):
    """x [c_in, t], w [c_out, c_in, 3], padding 1."""
    xp = np.pad(x, ((0, 0), (1, 1)))
    t_out = (x.shape[1] + 2 - 3) // stride + 1
    cols = np.stack([xp[:, s * stride:s * stride + 3] for s in range(t_out)])  # [t_out, c_in, 3]
    return np.einsum("tck,ock->ot", cols, w) + b[:, None]


def linear(w, x, name, bias=True):
    y = x @ w[name + ".weight"].T
    return y + w[name + ".bias"] if bias else y


def attention(w, prefix, x, kv, causal):
    d = x.shape[-1]
    hd = d // N_HEAD
    scale = hd ** -0.25
    q = linear(w, x, prefix + ".query") * scale
    k = linear(w, kv, prefix + ".key", bias=False) * scale
    v = linear(w, kv, prefix + ".value")
    out = np.zeros_like(q)
    for h in range(N_HEAD):
        s = slice(h * hd, (h + 1) * hd)
        logits = q[:, s] @ k[:, s].T
        if causal:
            logits = logits + np.triu(np.full(logits.shape, -np.inf), 1)
        logits -= logits.max(-1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(-1, keepdims=True)
        out[:, s] = p @ v[:, s]
    return linear(w, out, prefix + ".out")


def mlp(w, prefix, x):
    return linear(w, gelu(linear(w, x, prefix + ".mlp.0")), prefix + ".mlp.2")


def encode(w, mel):
    x = gelu(conv1d(mel, w["encoder.conv1.weight"], w["encoder.conv1.bias"], 1))
    x = gelu(conv1d(x, w["encoder.conv2.weight"], w["encoder.conv2.bias"], 2))
    x = x.T + w["encoder.positional_embedding"][: x.shape[1]]
    for i in range(N_AUDIO_LAYER):
        p = f"encoder.blocks.{i}"
        x = x + attention(w, p + ".attn", layer_norm(x, w[p + ".attn_ln.weight"], w[p + ".attn_ln.bias"]),
                          layer_norm(x, w[p + ".attn_ln.weight"], w[p + ".attn_ln.bias"]), False)
        x = x + mlp(w, p, layer_norm(x, w[p + ".mlp_ln.weight"], w[p + ".mlp_ln.bias"]))
    return layer_norm(x, w["encoder.ln_post.weight"], w["encoder.ln_post.bias"])


def decode_logits(w, tokens, audio):
    """Logits of the last position; the whole prefix is recomputed (no cache: an independent check
    of the C++ KV cache)."""
    x = w["decoder.token_embedding.weight"][tokens] + w["decoder.positional_embedding"][: len(tokens)]
    for i in range(N_TEXT_LAYER):
        p = f"decoder.blocks.{i}"
        h = layer_norm(x, w[p + ".attn_ln.weight"], w[p + ".attn_ln.bias"])
        x = x + attention(w, p + ".attn", h, h, True)
        h = layer_norm(x, w[p + ".cross_attn_ln.weight"], w[p + ".cross_attn_ln.bias"])
        x = x + attention(w, p + ".cross_attn", h, audio, False)
        x = x + mlp(w, p, layer_norm(x, w[p + ".mlp_ln.weight"], w[p + ".mlp_ln.bias"]))
    x = layer_norm(x, w["decoder.ln.weight"], w["decoder.ln.bias"])
    return x[-1] @ w["decoder.token_embedding.weight"].T


def suppressed(logits, first):
    """openai-whisper's logit filters for decoding without timestamps, as Cadence applies them:
    SuppressTokens with every special token after <|endoftext|> (none of them is text: start,
    language, task, no-speech, no-timestamps) and SuppressBlank (" " and <|endoftext|> at the first
    generated position)."""
    out = logits.copy()
    out[EOT + 1:] = -np.inf
    if first:
        out[[BLANK, EOT]] = -np.inf
    return out


def decode_stats(w, audio, prompt, ids):
    """openai-whisper's per-result figures for a decoded sequence: no_speech_prob (the softmax of
    the logits at the <|startoftranscript|> position, unfiltered, at <|nospeech|>) and avg_logprob
    (the log-probabilities of the generated tokens, <|endoftext|> included, under the filtered
    logits, summed and divided by the text tokens + 1)."""
    sot_logits = decode_logits(w, [prompt[0]], audio)
    p = np.exp(sot_logits - sot_logits.max())
    no_speech = p[TOKEN_ID["<|nospeech|>"]] / p.sum()
    total, text = 0.0, 0
    for i in range(len(prompt), len(ids)):
        lp = log_softmax(suppressed(decode_logits(w, ids[:i], audio), i == len(prompt)))
        total += lp[ids[i]]
        if ids[i] != EOT:
            text += 1
    return float(no_speech), total / (text + 1)


def greedy(w, audio):
    """Greedy ids and the smallest top-1 minus top-2 logit margin met (how robust the argmax is
    to float32 rounding in another implementation)."""
    tokens = list(PROMPT)
    margin = float("inf")
    while len(tokens) < len(PROMPT) + MAX_TOKENS and len(tokens) < N_TEXT_CTX:
        logits = suppressed(decode_logits(w, tokens, audio), len(tokens) == len(PROMPT))
        top2 = np.sort(logits)[-2:]
        margin = min(margin, top2[1] - top2[0])
        nxt = int(np.argmax(logits))
        tokens.append(nxt)
        if nxt == EOT:
            break
    return tokens, margin


def log_softmax(x):
    m = x.max()
    return x - m - math.log(np.exp(x - m).sum())


def detect_language(w, audio):
    """openai/whisper decoding.detect_language: logits after <|startoftranscript|>, every
    non-language token masked, argmax; returns (code, probabilities, top-1 minus top-2 logit)."""
    logits = decode_logits(w, [TOKEN_ID["<|startoftranscript|>"]], audio)
    codes = ["en", "zh"]
    ids = [TOKEN_ID["<|%s|>" % c] for c in codes]
    lang_logits = logits[ids]
    probs = np.exp(lang_logits - lang_logits.max())
    probs /= probs.sum()
    best = int(np.argmax(lang_logits))
    return codes[best], dict(zip(codes, probs)), abs(lang_logits[0] - lang_logits[1])


def greedy_prompt(w, audio, prompt):
    tokens = list(prompt)
    while len(tokens) < len(prompt) + MAX_TOKENS and len(tokens) < N_TEXT_CTX:
        nxt = int(np.argmax(suppressed(decode_logits(w, tokens, audio), len(tokens) == len(prompt))))
        tokens.append(nxt)
        if nxt == EOT:
            break
    return tokens


def beam_search(w, audio, prompt, beam_size=5, sample_len=MAX_TOKENS):
    """openai/whisper decoding.py BeamSearchDecoder (patience 1, so max_candidates = beam_size)
    and MaximumLikelihoodRanker(length_penalty=None), with the logit filters above, written from
    that code: beam_size copies of the prompt; each step every beam's beam_size + 1 best log-probs form
    candidates keyed by sequence; the beam_size best unfinished survive, finished ones are
    collected (best first) until beam_size; at the end live beams fill up the finished list; the
    winner maximizes sum logprob / generated length. Returns (ids, gap between the best two scores,
    smallest gap between adjacent candidate scores at any step's cut)."""
    tokens = [list(prompt) for _ in range(beam_size)]
    sum_logprobs = [0.0] * beam_size
    finished = {}
    min_gap = float("inf")
    for _ in range(sample_len):
        scores = {}
        for j in range(beam_size):
            lp = log_softmax(suppressed(decode_logits(w, tokens[j], audio), len(tokens[j]) == len(prompt)))
            for tok in np.argsort(-lp, kind="stable")[: beam_size + 1]:
                scores[tuple(tokens[j] + [int(tok)])] = sum_logprobs[j] + lp[tok]
        ranked = sorted(scores, key=scores.get, reverse=True)
        values = [scores[q] for q in ranked]
        min_gap = min(min_gap, min(a - b for a, b in zip(values, values[1:]) if a != b))
        next_tokens, next_sums, newly = [], [], {}
        for seq in ranked:
            if seq[-1] == EOT:
                newly[seq] = scores[seq]
            else:
                next_tokens.append(list(seq))
                next_sums.append(scores[seq])
                if len(next_tokens) == beam_size:
                    break
        for seq in sorted(newly, key=newly.get, reverse=True):
            if len(finished) >= beam_size:
                break
            finished[seq] = newly[seq]
        tokens, sum_logprobs = next_tokens, next_sums
        if len(finished) >= beam_size or len(tokens[0]) > N_TEXT_CTX:
            break
    if len(finished) < beam_size:
        for j in list(np.argsort(sum_logprobs))[::-1]:
            finished[tuple(tokens[j] + [EOT])] = sum_logprobs[j]
            if len(finished) >= beam_size:
                break
    ranked = sorted(((lp / max(1, len(seq) - len(prompt) - 1), seq) for seq, lp in finished.items()), reverse=True)
    gap = ranked[0][0] - ranked[1][0] if len(ranked) > 1 else float("inf")
    return list(ranked[0][1]), gap, min_gap


def write_decoding(path, runs):
    with open(path, "w") as f:
        f.write("# tools/whisper/tiny_model.py, seed %d: per clip, language detection and decodes\n" % SEED)
        f.write("# language CLIP CODE P(en) P(zh) | greedy_zh CLIP ids | beam5_en / beam5_zh CLIP ids\n")
        for line in runs:
            f.write(line + "\n")


def write_rows(path, arr):
    with open(path, "wb") as f:
        f.write(b"CMEL")
        f.write(struct.pack("<iii", arr.shape[0], arr.shape[1], arr.shape[1]))
        f.write(np.ascontiguousarray(arr).astype("<f4").tobytes())


def main(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    w = random_weights()
    filters = reference.mel_filters(N_MELS).astype(np.float32)
    st_path = os.path.join(out_dir, "model.safetensors")
    gg_path = os.path.join(out_dir, "ggml-tiny-random.bin")
    write_safetensors(st_path, w)
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(hf_config(), f, indent=1)
    with open(os.path.join(out_dir, "generation_config.json"), "w") as f:
        json.dump(generation_config(), f, indent=1)
    with open(os.path.join(out_dir, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(hf_vocab(), f, ensure_ascii=False)
    write_ggml(gg_path, w, filters)

    # Read both back with the independent parsers; weights must agree exactly.
    inv = {hf_name(k): k for k in w}
    from_st = {inv[k]: v for k, v in read_safetensors(st_path).items()}
    hp, gg_filters, vocab, from_gg = read_ggml(gg_path)
    assert vocab == VOCAB and hp[0] == len(VOCAB) and hp[9] == N_MELS
    assert set(from_st) == set(w) == set(from_gg), "tensor sets differ"
    for k in w:
        assert np.array_equal(from_st[k], w[k]) and np.array_equal(from_gg[k], w[k]), k

    # Input: the log-mel of 2 s of a real clip, as the encoder takes it (2 * n_audio_ctx frames).
    clip = reference.read_wav_mono16k(os.path.join(sys.argv[2] if len(sys.argv) > 2 else
                                                   "/work/shared/data/speech", "en_m_jfk.wav"))
    mel = reference.log_mel(clip[: 2 * N_AUDIO_CTX * reference.HOP], N_MELS)
    mel = mel.astype(np.float32).astype(np.float64)  # the fixture is float32; so is what C++ reads
    assert mel.shape == (N_MELS, 2 * N_AUDIO_CTX), mel.shape
    reference.write_mel(os.path.join(out_dir, "reference_input_mel.bin"), mel)

    # Q8_0 variant: read back by the parser, whose dequantized weights must equal the writer's.
    q8_path = os.path.join(out_dir, "ggml-tiny-random-q8_0.bin")
    write_ggml(q8_path, w, filters, q8=True)
    _, _, _, from_q8 = read_ggml(q8_path)
    for k in w:
        expected = quantize_q8_0(w[k])[1] if quantized_q8(k, w[k]) else w[k]
        assert np.array_equal(from_q8[k], expected), k
    write_rows(os.path.join(out_dir, "reference_encoder_out_q8_0.bin"), encode(from_q8, mel))

    audio_st = encode(from_st, mel)
    audio_gg = encode(from_gg, mel)
    assert np.array_equal(audio_st, audio_gg)
    write_rows(os.path.join(out_dir, "reference_encoder_out.bin"), audio_st)
    tokens, margin = greedy(from_st, audio_st)
    stats_plain = decode_stats(from_st, audio_st, PROMPT, tokens)
    with open(os.path.join(out_dir, "reference_tokens.txt"), "w") as f:
        f.write("# prompt (4 ids) then greedy ids; tools/whisper/tiny_model.py, seed %d\n" % SEED)
        f.write(" ".join(map(str, tokens)) + "\n")
        f.write("# smallest top-1 minus top-2 logit margin: %.4f\n" % margin)
    clip_zh = reference.read_wav_mono16k(os.path.join(sys.argv[2] if len(sys.argv) > 2 else
                                                      "/work/shared/data/speech", "zh_aishell_BAC009S0724W0121.wav"))
    mel_zh = reference.log_mel(clip_zh[: 2 * N_AUDIO_CTX * reference.HOP], N_MELS)
    mel_zh = mel_zh.astype(np.float32).astype(np.float64)
    reference.write_mel(os.path.join(out_dir, "reference_input_mel_zh.bin"), mel_zh)
    audio_zh = encode(from_st, mel_zh)
    prompt_zh = [TOKEN_ID[t] for t in ("<|startoftranscript|>", "<|zh|>", "<|transcribe|>", "<|notimestamps|>")]
    runs = []
    for clip_name, audio in (("en", audio_st), ("zh", audio_zh)):
        code, probs, lang_margin = detect_language(from_st, audio)
        runs.append("language %s %s %.6f %.6f" % (clip_name, code, probs["en"], probs["zh"]))
        runs.append("greedy_zh %s %s" % (clip_name, " ".join(map(str, greedy_prompt(from_st, audio, prompt_zh)))))
        for lang, prompt in (("en", PROMPT), ("zh", prompt_zh)):
            ids, gap, min_gap = beam_search(from_st, audio, prompt)
            runs.append("beam5_%s %s %s" % (lang, clip_name, " ".join(map(str, ids))))
            print("beam5 %s on %s: best-second score gap %.4f, smallest adjacent candidate gap %.2e" %
                  (lang, clip_name, gap, min_gap))
        print("language on %s: %s, |logit(en) - logit(zh)| = %.4f" % (clip_name, code, lang_margin))
    # The random model rarely ends a sequence; scaling the <|endoftext|> embedding row (never fed as
    # input, so only its logit changes; x2 and x2.5 are exact in float32 too) makes beams finish
    # early and exercises the finished-candidate bookkeeping and the length-normalized ranking.
    for scale in (2.0, 2.5):
        w_eot = dict(from_st)
        emb = w_eot["decoder.token_embedding.weight"].copy()
        emb[EOT] *= scale
        w_eot["decoder.token_embedding.weight"] = emb
        ids, gap, min_gap = beam_search(w_eot, audio_st, PROMPT)
        runs.append("beam5_eotx%g en %s" % (scale, " ".join(map(str, ids))))
        print("beam5 with <|endoftext|> x%g: %d ids, best-second gap %.4f" % (scale, len(ids) - len(PROMPT), gap))
    # The logit filters. With the " " row set to 1.05 x the row of the first token greedy picks,
    # unfiltered decoding starts with a blank; with the <|nospeech|> row scaled by 3, it emits
    # <|nospeech|> (both checked here). The filtered reference must do neither.
    first = greedy(from_st, audio_st)[0][len(PROMPT)]
    for name, tok in (("blank", BLANK), ("nospeech", TOKEN_ID["<|nospeech|>"])):
        w_boost = dict(from_st)
        emb = w_boost["decoder.token_embedding.weight"].copy()
        if name == "blank":
            emb[BLANK] = BLANK_OVER_FIRST * emb[first]
        else:
            emb[tok] *= NOSPEECH_SCALE
        w_boost["decoder.token_embedding.weight"] = emb
        unfiltered = list(PROMPT)
        while len(unfiltered) < len(PROMPT) + MAX_TOKENS:
            unfiltered.append(int(np.argmax(decode_logits(w_boost, unfiltered, audio_st))))
        filtered, _ = greedy(w_boost, audio_st)
        if name == "blank":
            assert unfiltered[len(PROMPT)] == BLANK and filtered[len(PROMPT)] != BLANK, (unfiltered, filtered)
        else:
            assert tok in unfiltered and tok not in filtered, (unfiltered, filtered)
        runs.append("greedy_%s en %s" % (name, " ".join(map(str, filtered))))
        runs.append("stats_%s en %.6f %.6f" % ((name,) + decode_stats(w_boost, audio_st, PROMPT, filtered)))
        ids, _, _ = beam_search(w_boost, audio_st, PROMPT)
        assert tok not in ids[len(PROMPT):len(PROMPT) + 1] and max(ids[len(PROMPT):]) <= EOT, ids
        runs.append("beam5_%s en %s" % (name, " ".join(map(str, ids))))
        print("%s fixture: unfiltered %s, filtered %s" % (name, unfiltered[len(PROMPT):], filtered[len(PROMPT):]))
    runs.append("stats_plain en %.6f %.6f" % stats_plain)
    # openai-whisper's silence rule: with the <|nospeech|> row set to SILENCE_OVER_TOP x the row of
    # the most likely token at the <|startoftranscript|> position, no_speech_prob passes 0.6 while
    # the random model's avg_logprob stays under -1: the transcript must be dropped (checked here).
    sot_logits = decode_logits(from_st, [PROMPT[0]], audio_st)
    w_silence = dict(from_st)
    emb = w_silence["decoder.token_embedding.weight"].copy()
    emb[TOKEN_ID["<|nospeech|>"]] = SILENCE_OVER_TOP * emb[int(np.argmax(sot_logits))]
    w_silence["decoder.token_embedding.weight"] = emb
    silence_ids, _ = greedy(w_silence, audio_st)
    stats_silence = decode_stats(w_silence, audio_st, PROMPT, silence_ids)
    assert stats_silence[0] > 0.6 and stats_silence[1] <= -1.0 and stats_plain[0] < 0.6, (stats_silence, stats_plain)
    runs.append("greedy_silence en %s" % " ".join(map(str, silence_ids)))
    runs.append("stats_silence en %.6f %.6f" % stats_silence)
    print("no-speech fixture: no_speech_prob %.3f, avg_logprob %.3f (plain: %.3f, %.3f)" % (stats_silence + stats_plain))
    write_decoding(os.path.join(out_dir, "reference_decoding.txt"), runs)
    print("encoder out", audio_st.shape, "std %.3f" % audio_st.std(), "min logit margin %.4f" % margin)
    print("tokens", tokens)
    for name in sorted(os.listdir(out_dir)):
        print(f"{name}: {os.path.getsize(os.path.join(out_dir, name))} bytes")


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        raise SystemExit(__doc__)
    main(sys.argv[1])
