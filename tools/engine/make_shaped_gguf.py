#!/usr/bin/python3
"""Writes GGUF files with random weights in the exact shape of Qwen2.5-0.5B-Instruct and
Qwen2.5-1.5B-Instruct: the same tensors, types, metadata and vocabulary size as the published F16 /
Q8_0 files, so that Cadence and llama.cpp can be measured side by side (speed, and the fidelity of a
quantized file against its F16 original) without downloading a model. Size "sa2-llm" is the LLM of
Step-Audio 2 mini as a Qwen2 GGUF (the shape llama.cpp's converter gives its text part): vocabulary
158720 (Qwen2's 151936 tokens, then "[PADn]" filler where Step-Audio 2 has its audio tokens), hidden
3584, 28 layers, FFN 18944, 28 / 4 heads, rope theta 1e6, q/k/v biases, an untied output matrix
(~15.2 GB in F16: quantize it with llama.cpp's llama-quantize, see docs/engine.md).

  /usr/bin/python3 tools/engine/make_shaped_gguf.py [--out /tmp/shaped] [--sizes 0.5b,1.5b,sa2-llm]
                                                    [--types f16,q8_0] [--seed 1]

Output: OUT/qwen2.5-SIZE-shaped-TYPE.gguf (hundreds of MB each, GBs for sa2-llm: keep them out of
the repository).
Deterministic: each tensor's values come from its own generator, seeded by (--seed, its index), so
the F16 and Q8_0 files of one size hold the same weights (Q8_0 quantizes the F16 values, as
llama.cpp's quantizer does from an F16 file). About a minute per size.

Weights: every matrix N(0, 1/fan_in), so every mat-mul keeps its input's scale; norms 1 + N(0, 0.1);
q/k/v biases N(0, 0.2); the tied embedding N(0, (4/sqrt(hidden))^2), which puts the logits'
standard deviation over the vocabulary near 4 and gives next-token distributions with a top
probability of tenths, not a uniform or one-hot one.

Tokenizer: Qwen2's own byte-level BPE vocabulary and merges, taken from ../shared/data/tokenizer/
ggml-vocab-qwen2.gguf (llama.cpp's vocabulary file, MIT) when it is there; else (or with
--trained-tokenizer) the 256 byte tokens, merges trained on a short bilingual text, filler tokens,
and Qwen's special tokens <|endoftext|> <|im_start|> <|im_end|> at their real ids 151643-151645.
Either way 151936 tokens, pre-tokenizer "qwen2", and the Qwen2.5-Instruct chat template (from
../shared/data/chat-templates/ when it is there, else plain ChatML).
"""
import argparse
import os
import struct
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_tiny_models as tiny  # noqa: E402  (the GGUF writer, quantizers and BPE trainer)

REPO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
SHARED = os.path.join(REPO, "..", "shared", "data")

N_VOCAB = 151936
SPECIALS = {151643: "<|endoftext|>", 151644: "<|im_start|>", 151645: "<|im_end|>"}
SHAPES = {
    "0.5b": dict(n_embd=896, n_layer=24, n_head=14, n_head_kv=2, n_ff=4864, name="Qwen2.5-0.5B-Instruct"),
    "1.5b": dict(n_embd=1536, n_layer=28, n_head=12, n_head_kv=2, n_ff=8960, name="Qwen2.5-1.5B-Instruct"),
    # Step-Audio 2 mini's LLM (Qwen2.5-7B-shaped, larger vocabulary, untied output).
    "sa2-llm": dict(n_embd=3584, n_layer=28, n_head=28, n_head_kv=4, n_ff=18944, n_vocab=158720, tied=False,
                    name="Step-Audio-2-mini LLM"),
}
FILE_TYPE = {"F16": 1, "Q8_0": 7}  # llama_ftype: MOSTLY_F16, MOSTLY_Q8_0
CHATML = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + "
          "'<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")
TRAINING_TEXT = (
    "The quick brown fox jumps over the lazy dog. A speech engine listens, thinks and answers in real time: "
    "it turns sound into words, words into a reply, and the reply back into sound. Good answers are short, "
    "clear and kind. What time is it now? Let us talk about the weather, the news and the plan for today. "
    "今天天气很好，我们一起去公园散步吧。语音助手可以听懂你说的话，然后用自然的声音回答。"
    "请问现在几点了？我想知道明天的天气怎么样。谢谢你的帮助，再见！") * 3


# ---------------------------------------------------------------- GGUF metadata reading (vocabulary)

def read_gguf_kv(path):
    scalar = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
    with open(path, "rb") as f:
        def rd(fmt):
            return struct.unpack("<" + fmt, f.read(struct.calcsize("<" + fmt)))
        def string():
            n, = rd("Q")
            return f.read(n).decode("utf-8")
        def value(t):
            if t == 8:
                return string()
            if t == 9:
                et, n = rd("IQ")
                return [value(et) for _ in range(n)]
            return rd(scalar[t])[0]
        if f.read(4) != b"GGUF":
            raise ValueError(path + ": not a GGUF file")
        _, _, n_kv = rd("IQQ")
        kv = {}
        for _ in range(n_kv):
            key = string()
            t, = rd("I")
            kv[key] = value(t)
        return kv


def qwen_vocabulary(trained):
    """(tokens, token types, merges) of 151936 tokens."""
    path = os.path.join(SHARED, "tokenizer", "ggml-vocab-qwen2.gguf")
    if not trained and os.path.exists(path):
        kv = read_gguf_kv(path)
        tokens, types = kv["tokenizer.ggml.tokens"], kv["tokenizer.ggml.token_type"]
        assert len(tokens) == N_VOCAB and all(tokens[i] == s for i, s in SPECIALS.items()), path
        return tokens, types, kv["tokenizer.ggml.merges"], "Qwen2's (" + os.path.relpath(path, REPO) + ")"
    tokens = [tiny.B2U[b] for b in range(256)]
    merges = tiny.train_bpe(4000, TRAINING_TEXT)
    seen = set(tokens)
    for a, b in merges:
        if a + b not in seen:
            tokens.append(a + b)
            seen.add(a + b)
    types = [1] * len(tokens)
    while len(tokens) < N_VOCAB:  # filler up to the specials, then padding as Qwen's files have
        i = len(tokens)
        tokens.append(SPECIALS.get(i, "[PAD%d]" % i))
        types.append(3 if i in SPECIALS else 4)
    return tokens, types, [a + " " + b for a, b in merges], "trained (%d merges)" % len(merges)


def chat_template():
    path = os.path.join(SHARED, "chat-templates", "Qwen-Qwen2.5-7B-Instruct.jinja")  # the 0.5B/1.5B ship the same
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            return f.read()
    return CHATML


# ---------------------------------------------------------------- weights

def tensor_specs(shape):
    """(name, ggml shape, kind, fan_in) for every tensor, in llama.cpp's converter's order."""
    E, F = shape["n_embd"], shape["n_ff"]
    hd = E // shape["n_head"]
    qd, kd = shape["n_head"] * hd, shape["n_head_kv"] * hd
    V = shape.get("n_vocab", N_VOCAB)
    specs = [("token_embd.weight", [E, V], "embd", E)]
    for i in range(shape["n_layer"]):
        p = "blk.%d." % i
        specs += [(p + "attn_norm.weight", [E], "norm", 0),
                  (p + "attn_q.bias", [qd], "bias", 0), (p + "attn_q.weight", [E, qd], "mat", E),
                  (p + "attn_k.bias", [kd], "bias", 0), (p + "attn_k.weight", [E, kd], "mat", E),
                  (p + "attn_v.bias", [kd], "bias", 0), (p + "attn_v.weight", [E, kd], "mat", E),
                  (p + "attn_output.weight", [qd, E], "mat", qd),
                  (p + "ffn_norm.weight", [E], "norm", 0),
                  (p + "ffn_gate.weight", [E, F], "mat", E), (p + "ffn_up.weight", [E, F], "mat", E),
                  (p + "ffn_down.weight", [F, E], "mat", F)]
    specs.append(("output_norm.weight", [E], "norm", 0))
    if not shape.get("tied", True):  # llama.cpp's converter writes an untied lm_head as output.weight
        specs.append(("output.weight", [E, V], "embd", E))
    return specs


def tensor_values(seed, index, ggml_shape, kind, fan_in):
    """float32 values of one tensor ([rows, cols] for matrices), from a generator of its own."""
    rng = np.random.default_rng([seed, index])
    shape = ggml_shape[::-1]
    x = rng.standard_normal(shape, dtype=np.float32)
    if kind == "norm":
        return 1 + np.float32(0.1) * x
    if kind == "bias":
        return np.float32(0.2) * x
    if kind == "embd":
        return x * np.float32(4.0 / np.sqrt(fan_in))
    return x * np.float32(1.0 / np.sqrt(fan_in))


def encoder(seed, index, ggml_shape, kind, fan_in, qtype):
    def encode():
        x = tensor_values(seed, index, ggml_shape, kind, fan_in)
        if kind in ("norm", "bias"):
            return x.astype(np.float32).tobytes()
        h = tiny.f16(x)
        if qtype == "F16":
            return h.tobytes()
        return tiny.quant_q8_0(h.astype(np.float32))
    return encode


def write(size, qtype, seed, out_dir, vocab):
    shape = SHAPES[size]
    tokens, types, merges, _ = vocab
    V = shape.get("n_vocab", N_VOCAB)
    if V > len(tokens):  # filler rows up to the model's vocabulary (unused by the tokenizer's merges)
        tokens = list(tokens) + ["[PAD%d]" % i for i in range(len(tokens), V)]
        types = list(types) + [4] * (V - len(types))
    E = shape["n_embd"]
    a = "qwen2."
    kv = {"general.architecture": "qwen2", "general.type": "model",
          "general.name": shape["name"] + " (random weights, shape only)",
          "general.file_type": tiny.U32(FILE_TYPE[qtype]), "general.alignment": tiny.U32(32),
          a + "block_count": tiny.U32(shape["n_layer"]), a + "context_length": tiny.U32(32768),
          a + "embedding_length": tiny.U32(E), a + "feed_forward_length": tiny.U32(shape["n_ff"]),
          a + "attention.head_count": tiny.U32(shape["n_head"]),
          a + "attention.head_count_kv": tiny.U32(shape["n_head_kv"]),
          a + "rope.freq_base": 1000000.0, a + "attention.layer_norm_rms_epsilon": 1e-6,
          "tokenizer.ggml.model": "gpt2", "tokenizer.ggml.pre": "qwen2",
          "tokenizer.ggml.tokens": tokens, "tokenizer.ggml.token_type": types, "tokenizer.ggml.merges": merges,
          "tokenizer.ggml.eos_token_id": tiny.U32(151645), "tokenizer.ggml.padding_token_id": tiny.U32(151643),
          "tokenizer.ggml.bos_token_id": tiny.U32(151643), "tokenizer.ggml.add_bos_token": False,
          "tokenizer.chat_template": chat_template()}
    tensors = []
    for index, (name, ggml_shape, kind, fan_in) in enumerate(tensor_specs(shape)):
        t = "F32" if kind in ("norm", "bias") else qtype
        tensors.append((name, ggml_shape, t, encoder(seed, index, ggml_shape, kind, fan_in, qtype)))
    path = os.path.join(out_dir, "qwen2.5-%s-shaped-%s.gguf" % (size, qtype.lower()))
    t0 = time.time()
    tiny.write_gguf(path, kv, tensors)
    print("%s  %.0f MB  %.0f s" % (path, os.path.getsize(path) / 1e6, time.time() - t0), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="/tmp/shaped")
    ap.add_argument("--sizes", default="0.5b,1.5b")
    ap.add_argument("--types", default="f16", help="f16 and/or q8_0, comma separated")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--trained-tokenizer", action="store_true",
                    help="a small trained BPE instead of Qwen2's vocabulary from ../shared/data")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    vocab = qwen_vocabulary(args.trained_tokenizer)
    print("tokenizer: " + vocab[3])
    for size in args.sizes.split(","):
        if size not in SHAPES:
            ap.error("unknown size %r (%s)" % (size, ", ".join(SHAPES)))
        for qtype in args.types.upper().split(","):
            if qtype not in FILE_TYPE:
                ap.error("unknown type %r (f16, q8_0)" % qtype)
            write(size, qtype, args.seed, args.out, vocab)


if __name__ == "__main__":
    main()
