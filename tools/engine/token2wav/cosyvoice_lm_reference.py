#!/usr/bin/python3
"""An independent PyTorch reference of CosyVoice 2's speech-token language model (Qwen2LM.inference),
and the tiny CosyVoice2-shaped folder the C++ tests load.

Modes (run from the repository root with Debian's python: /usr/bin/python3, torch + numpy):
  tools/engine/token2wav/cosyvoice_lm_reference.py
      writes tests/engine/data/cosyvoice_lm/: llm.pt (a tiny Qwen2LM state dict), CosyVoice-BlankEN/
      (config.json, vocab.json, merges.txt, tokenizer_config.json of a tiny byte-level BPE) and
      golden.json (tokenizer ids, greedy speech tokens, the first step's logits). Deterministic.
  ... --published-shape DIR
      writes a random Qwen2.5-0.5B-shaped llm.pt (f32, ~2 GB) + the same tokenizer files into DIR.
  ... --bench DIR --threads N [--tokens N]
      times this reference's greedy decode (KV cache, f32) on DIR's llm.pt: speech tokens per second.

What the reference is: a Qwen2 decoder written here (RMSNorm, rotate-half RoPE, grouped-query
attention with q/k/v biases, SiLU-gated MLP, final norm), fed the published input layout
[llm_embedding[0] (sos/eos), embed_tokens(prompt_text + text), llm_embedding[1] (task_id),
speech_embedding(prompt_speech_tokens)], decoding with logits = llm_decoder(hidden) over 6561 + 3
speech outputs, eos (6561) masked for the first text_len * 2 steps, at most text_len * 20 steps,
stopping on any of 6561..6563, the next input speech_embedding[token]. Goldens are computed in
float64 from the stored (f16-rounded where stored as f16) weights.

The tokenizer reference: Hugging Face's slow-path semantics of a Qwen2 tokenizer plus CosyVoice 2's
added special tokens (NFC, added tokens split out leftmost-longest, the Qwen2 pre-tokenizer regex,
byte-level BPE by merge rank). Python's `re` has no \\p{L}: letters are [^\\W\\d_] and numbers \\d,
which agree with the real classes on the texts used here (ASCII, CJK, fullwidth punctuation).
"""
import argparse
import json
import os
import re
import sys
import time
import unicodedata

import numpy as np
import torch

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..")
OUT = os.path.join(ROOT, "tests", "engine", "data", "cosyvoice_lm")

SPEECH_TOKEN_SIZE = 6561           # eos = 6561; outputs 6561 + 3
N_SPEECH = SPEECH_TOKEN_SIZE + 3
# CosyVoice 2's added special tokens, in the order that gives them their ids
# (cosyvoice/tokenizer/tokenizer.py, CosyVoice2Tokenizer).
COSYVOICE2_SPECIALS = [
    "<|im_start|>", "<|im_end|>", "<|endofprompt|>", "[breath]", "<strong>", "</strong>", "[noise]",
    "[laughter]", "[cough]", "[clucking]", "[accent]", "[quick_breath]", "<laughter>", "</laughter>",
    "[hissing]", "[sigh]", "[vocalized-noise]", "[lipsmack]", "[mn]"]
# The tokens a Qwen2 tokenizer_config.json declares (added_tokens_decoder) after its BPE vocabulary.
QWEN2_ADDED = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]

# ---------------------------------------------------------------- tokenizer

def bytes_to_unicode():
    keep = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    table, extra = {}, 0
    for b in range(256):
        if b in keep:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table

B2U = bytes_to_unicode()
L = r"[^\W\d_]"               # \p{L}
N = r"\d"                     # \p{N}
NOT_LN = r"(?:_|[^\w])"       # neither letter nor number
QWEN2_PRE = re.compile(
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)"
    r"|(?:_|[^\r\n\w])?" + L + "+"
    r"|" + N +
    r"| ?(?:_|[^\s\w])+[\r\n]*"
    r"|\s*[\r\n]+"
    r"|\s+(?!\S)"
    r"|\s+")

CORPUS = ("Hello world. Hello there, how are you today? The weather is nice and the sun is warm. "
          "I think that we should talk about the plan for the day. Thank you, that is very kind. "
          "Speech synthesis turns text into a voice; the model speaks in tokens. "
          "你好，今天天气很好。我们一起去公园吧。谢谢你！希望你以后能够做的比我还好。") * 3


def train_bpe(n_merges):
    words = {}
    for w in QWEN2_PRE.findall(CORPUS):
        key = tuple(B2U[b] for b in w.encode("utf-8"))
        words[key] = words.get(key, 0) + 1
    merges = []
    for _ in range(n_merges):
        pairs = {}
        for w, c in words.items():
            for p in zip(w, w[1:]):
                pairs[p] = pairs.get(p, 0) + c
        if not pairs:
            break
        best = max(sorted(pairs), key=lambda p: pairs[p])
        merges.append(best)
        merged = {}
        for w, c in words.items():
            out, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and (w[i], w[i + 1]) == best:
                    out.append(w[i] + w[i + 1])
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            merged[tuple(out)] = merged.get(tuple(out), 0) + c
        words = merged
    return merges


class Tokenizer:
    """vocab.json + merges.txt + added tokens (ids after the vocabulary, in declaration order)."""

    def __init__(self, vocab, merges, added):
        self.vocab = dict(vocab)
        self.ranks = {tuple(m.split(" ")): i for i, m in enumerate(merges)}
        self.added = {}
        next_id = max(self.vocab.values()) + 1
        for t in added:
            if t in self.vocab or t in self.added:
                continue
            self.added[t] = next_id
            next_id += 1
        self.size = next_id
        alt = "|".join(re.escape(t) for t in sorted(self.added, key=len, reverse=True))
        self.split = re.compile("(" + alt + ")")

    def bpe(self, word):
        syms = [B2U[b] for b in word.encode("utf-8")]
        while len(syms) > 1:
            rank, i = min((self.ranks.get(p, 1 << 30), i) for i, p in enumerate(zip(syms, syms[1:])))
            if rank == 1 << 30:
                break
            syms[i:i + 2] = [syms[i] + syms[i + 1]]
        return [self.vocab[s] for s in syms]

    def encode(self, text):
        ids = []
        for part in self.split.split(text):
            if not part:
                continue
            if part in self.added:
                ids.append(self.added[part])
                continue
            for w in QWEN2_PRE.findall(unicodedata.normalize("NFC", part)):
                ids.extend(self.bpe(w))
        return ids


def make_tokenizer_files(folder):
    merges = train_bpe(160)
    tokens = [B2U[b] for b in range(256)]
    for a, b in merges:
        if a + b not in tokens:
            tokens.append(a + b)
    vocab = {t: i for i, t in enumerate(tokens)}
    merge_lines = [a + " " + b for a, b in merges]
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False)
    with open(os.path.join(folder, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n" + "\n".join(merge_lines) + "\n")
    decoder = {str(len(tokens) + i): {"content": t, "lstrip": False, "normalized": False, "rstrip": False,
                                      "single_word": False, "special": True} for i, t in enumerate(QWEN2_ADDED)}
    config = {"add_prefix_space": False, "added_tokens_decoder": decoder,
              "additional_special_tokens": ["<|im_start|>", "<|im_end|>"], "bos_token": None,
              "eos_token": "<|endoftext|>", "model_max_length": 32768, "pad_token": "<|endoftext|>",
              "tokenizer_class": "Qwen2Tokenizer", "unk_token": None}
    with open(os.path.join(folder, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f, ensure_ascii=False, indent=1)
    return Tokenizer(vocab, merge_lines, QWEN2_ADDED + COSYVOICE2_SPECIALS)

# ---------------------------------------------------------------- the Qwen2 body and Qwen2LM

class Qwen2:
    def __init__(self, sd, cfg, prefix, dtype):
        self.cfg = cfg
        g = lambda n: sd[prefix + n].to(dtype)
        self.embed = g("embed_tokens.weight")
        self.norm = g("norm.weight")
        self.layers = []
        for i in range(cfg["num_hidden_layers"]):
            p = "layers.%d." % i
            self.layers.append({k: g(p + k) for k in [
                "input_layernorm.weight", "post_attention_layernorm.weight",
                "self_attn.q_proj.weight", "self_attn.q_proj.bias", "self_attn.k_proj.weight", "self_attn.k_proj.bias",
                "self_attn.v_proj.weight", "self_attn.v_proj.bias", "self_attn.o_proj.weight",
                "mlp.gate_proj.weight", "mlp.up_proj.weight", "mlp.down_proj.weight"]})
        self.H = cfg["num_attention_heads"]
        self.KV = cfg["num_key_value_heads"]
        self.hd = cfg["hidden_size"] // self.H
        self.eps = cfg["rms_norm_eps"]
        self.theta = cfg["rope_theta"]
        self.dtype = dtype

    def rms(self, x, w):
        return x * torch.rsqrt((x * x).mean(-1, keepdim=True) + self.eps) * w

    def rope(self, x, pos):  # x [T, heads, hd]; pairs (i, i + hd/2)
        half = self.hd // 2
        inv = self.theta ** (-torch.arange(half, dtype=torch.float64) * 2.0 / self.hd)
        ang = pos.to(torch.float64)[:, None] * inv[None, :]
        cos = torch.cat([ang.cos(), ang.cos()], -1).to(self.dtype)[:, None, :]
        sin = torch.cat([ang.sin(), ang.sin()], -1).to(self.dtype)[:, None, :]
        rot = torch.cat([-x[..., half:], x[..., :half]], -1)
        return x * cos + rot * sin

    def forward(self, x, cache):
        """x [T, hidden] input embeddings at the positions after `cache` (a list of (k, v) per layer,
        extended in place). Returns the final-normed hidden states [T, hidden]."""
        T = x.shape[0]
        past = cache[0][0].shape[0] if cache else 0
        pos = torch.arange(past, past + T)
        rep = self.H // self.KV
        for li, l in enumerate(self.layers):
            h = self.rms(x, l["input_layernorm.weight"])
            q = (h @ l["self_attn.q_proj.weight"].T + l["self_attn.q_proj.bias"]).reshape(T, self.H, self.hd)
            k = (h @ l["self_attn.k_proj.weight"].T + l["self_attn.k_proj.bias"]).reshape(T, self.KV, self.hd)
            v = (h @ l["self_attn.v_proj.weight"].T + l["self_attn.v_proj.bias"]).reshape(T, self.KV, self.hd)
            q, k = self.rope(q, pos), self.rope(k, pos)
            if len(cache) <= li:
                cache.append((k, v))
            else:
                cache[li] = (torch.cat([cache[li][0], k]), torch.cat([cache[li][1], v]))
            K, V = cache[li]
            S = K.shape[0]
            Kr = K.repeat_interleave(rep, dim=1)   # [S, H, hd]
            Vr = V.repeat_interleave(rep, dim=1)
            scores = torch.einsum("thd,shd->hts", q, Kr) / (self.hd ** 0.5)
            mask = torch.arange(S)[None, :] > (pos[:, None])
            scores = scores.masked_fill(mask[None], float("-inf"))
            a = torch.einsum("hts,shd->thd", scores.softmax(-1), Vr).reshape(T, self.H * self.hd)
            x = x + a @ l["self_attn.o_proj.weight"].T
            h = self.rms(x, l["post_attention_layernorm.weight"])
            g = h @ l["mlp.gate_proj.weight"].T
            x = x + (torch.nn.functional.silu(g) * (h @ l["mlp.up_proj.weight"].T)) @ l["mlp.down_proj.weight"].T
        return self.rms(x, self.norm)


class Qwen2LM:
    def __init__(self, sd, cfg, dtype):
        self.body = Qwen2(sd, cfg, "llm.model.model.", dtype)
        self.llm_embedding = sd["llm_embedding.weight"].to(dtype)
        self.speech_embedding = sd["speech_embedding.weight"].to(dtype)
        self.dec_w = sd["llm_decoder.weight"].to(dtype)
        self.dec_b = sd["llm_decoder.bias"].to(dtype)

    def inference(self, text, prompt_text, prompt_speech, max_steps=None, on_token=None):
        """Greedy decode; returns (speech tokens, first step's logits). `max_steps` caps the steps
        (benchmarks) without changing the published min/max lengths; `on_token(token)` is called as
        each token is decoded."""
        ids = torch.tensor(prompt_text + text, dtype=torch.long)
        parts = [self.llm_embedding[0:1], self.body.embed[ids], self.llm_embedding[1:2]]
        if prompt_speech:
            parts.append(self.speech_embedding[torch.tensor(prompt_speech, dtype=torch.long)])
        x = torch.cat(parts)
        min_len, max_len = len(text) * 2, len(text) * 20
        cache, out, logits0 = [], [], None
        for i in range(max_len if max_steps is None else min(max_len, max_steps)):
            h = self.body.forward(x, cache)[-1]
            logits = h @ self.dec_w.T + self.dec_b
            if logits0 is None:
                logits0 = logits.clone()
            if i < min_len:
                logits[SPEECH_TOKEN_SIZE] = float("-inf")
            top = int(torch.argmax(logits))
            if top >= SPEECH_TOKEN_SIZE:
                break
            out.append(top)
            if on_token:
                on_token(top)
            x = self.speech_embedding[top:top + 1]
        return out, logits0

# ---------------------------------------------------------------- writing folders

TINY = {"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_size": 64, "intermediate_size": 128,
        "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "rms_norm_eps": 1e-6,
        "rope_theta": 1000000.0, "max_position_embeddings": 32768, "tie_word_embeddings": True,
        "torch_dtype": "float32"}
PUBLISHED = dict(TINY, hidden_size=896, intermediate_size=4864, num_hidden_layers=24, num_attention_heads=14,
                 num_key_value_heads=2, vocab_size=151936, bfloat16=None)
del PUBLISHED["bfloat16"]


def random_state_dict(cfg, gen, std=0.05, f16_speech=True):
    E, F, V = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    hd = E // cfg["num_attention_heads"]
    kv = cfg["num_key_value_heads"] * hd
    r = lambda *s, scale=std: torch.randn(*s, generator=gen) * scale
    sd = {}
    p = "llm.model.model."
    sd[p + "embed_tokens.weight"] = r(V, E, scale=1.0)
    for i in range(cfg["num_hidden_layers"]):
        q = p + "layers.%d." % i
        sd[q + "input_layernorm.weight"] = 1.0 + r(E, scale=0.1)
        sd[q + "post_attention_layernorm.weight"] = 1.0 + r(E, scale=0.1)
        for n, (o, k) in {"q_proj": (E, E), "k_proj": (kv, E), "v_proj": (kv, E)}.items():
            sd[q + "self_attn.%s.weight" % n] = r(o, k, scale=1.0 / k ** 0.5)
            sd[q + "self_attn.%s.bias" % n] = r(o, scale=0.1)
        sd[q + "self_attn.o_proj.weight"] = r(E, E, scale=1.0 / E ** 0.5)
        sd[q + "mlp.gate_proj.weight"] = r(F, E, scale=1.0 / E ** 0.5)
        sd[q + "mlp.up_proj.weight"] = r(F, E, scale=1.0 / E ** 0.5)
        sd[q + "mlp.down_proj.weight"] = r(E, F, scale=1.0 / F ** 0.5)
    sd[p + "norm.weight"] = 1.0 + r(E, scale=0.1)
    sd["llm.model.lm_head.weight"] = sd[p + "embed_tokens.weight"]  # tied, as Qwen2.5-0.5B; unused
    sd["llm_embedding.weight"] = r(2, E, scale=1.0)
    speech = r(N_SPEECH, E, scale=1.0)
    dec = r(N_SPEECH, E, scale=1.0 / E ** 0.5)
    sd["speech_embedding.weight"] = speech.half() if f16_speech else speech
    sd["llm_decoder.weight"] = dec.half() if f16_speech else dec
    sd["llm_decoder.bias"] = r(N_SPEECH, scale=0.1)
    return sd


def write_folder(folder, cfg, sd):
    blank = os.path.join(folder, "CosyVoice-BlankEN")
    tok = make_tokenizer_files(blank)
    with open(os.path.join(blank, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)
    torch.save(sd, os.path.join(folder, "llm.pt"))
    return tok


CASES = [
    # English, no prompt, a tag inside the text.
    {"name": "english", "text": "Hello world, the weather is nice today. [laughter] Thank you!",
     "prompt_text": "", "prompt_speech": []},
    # Chinese with a prompt (text and speech tokens) and emphasis tags.
    {"name": "chinese", "text": "你好，<strong>今天</strong>天气很好。[breath]我们一起去公园吧！",
     "prompt_text": "希望你以后能够做的比我还好。<|endofprompt|>",
     "prompt_speech": [int(t) for t in np.random.RandomState(7).randint(0, SPEECH_TOKEN_SIZE, 24)]},
]
TOKENIZER_TEXTS = ["Hello world, the weather is nice today.", "[laughter][breath] <strong>Hi</strong> [mn]",
                   "你好，世界！<|endofprompt|>谢谢你。", "  two  spaces\nand a newline 123 it's",
                   "<|im_start|>x<|im_end|><|endoftext|>[quick_breath][noise]"]


def make_tiny():
    gen = torch.Generator().manual_seed(2026)
    blank = os.path.join(OUT, "CosyVoice-BlankEN")
    tok = make_tokenizer_files(blank)
    cfg = dict(TINY, vocab_size=(tok.size + 15) // 16 * 16)
    sd = random_state_dict(cfg, gen)
    # eos competes: a bias that makes it the argmax at some steps, so decoding stops between the
    # published minimum and maximum lengths.
    sd["llm_decoder.bias"][SPEECH_TOKEN_SIZE] = 1.8
    tok = write_folder(OUT, cfg, sd)
    lm = Qwen2LM(sd, cfg, torch.float64)
    golden = {"config": cfg, "tokenizer": [{"text": t, "ids": tok.encode(t)} for t in TOKENIZER_TEXTS],
              "special_ids": {t: (tok.added.get(t, tok.vocab.get(t))) for t in COSYVOICE2_SPECIALS}, "cases": []}
    for c in CASES:
        text, prompt = tok.encode(c["text"]), tok.encode(c["prompt_text"])
        tokens, logits = lm.inference(text, prompt, c["prompt_speech"])
        top2 = torch.topk(logits, 2).values
        golden["cases"].append(dict(c, text_ids=text, prompt_text_ids=prompt, min_len=len(text) * 2,
                                    max_len=len(text) * 20, tokens=tokens,
                                    first_logits=[float("%.7g" % v) for v in logits.tolist()]))
        print("%s: %d text ids, %d speech tokens (min %d, max %d), first top-2 margin %.4g"
              % (c["name"], len(text), len(tokens), len(text) * 2, len(text) * 20, float(top2[0] - top2[1])))
    with open(os.path.join(OUT, "golden.json"), "w", encoding="utf-8") as f:
        json.dump(golden, f, ensure_ascii=False)
    total = sum(os.path.getsize(os.path.join(d, n)) for d, _, ns in os.walk(OUT) for n in ns)
    print("wrote %s (%d bytes)" % (OUT, total))


def make_published(folder):
    gen = torch.Generator().manual_seed(1)
    cfg = dict(PUBLISHED)
    sd = random_state_dict(cfg, gen, f16_speech=False)
    write_folder(folder, cfg, sd)
    print("wrote %s" % folder)


def bench(folder, threads, n_tokens):
    torch.set_num_threads(threads)
    with open(os.path.join(folder, "CosyVoice-BlankEN", "config.json")) as f:
        cfg = json.load(f)
    sd = torch.load(os.path.join(folder, "llm.pt"), map_location="cpu")
    lm = Qwen2LM(sd, cfg, torch.float32)
    text = list(range(100, 100 + 40))      # 40 text tokens: min 80, max 800 speech tokens
    prompt_text = list(range(300, 320))
    prompt_speech = [100 * i for i in range(50)]
    at = []
    with torch.inference_mode():
        lm.inference(text[:4], [], [], max_steps=3)                    # warm-up
        t0 = time.time()
        tokens, _ = lm.inference(text, prompt_text, prompt_speech, max_steps=n_tokens + 1,
                                 on_token=lambda t: at.append(time.time()))
    n = len(at) - 1
    print("torch reference: threads=%d prompt %d positions + first token %.3f s, %d speech tokens in %.3f s after it: "
          "%.2f tokens/s" % (threads, 2 + len(prompt_text) + len(text) + len(prompt_speech), at[0] - t0, n,
                             at[-1] - at[0], n / (at[-1] - at[0])))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--published-shape", metavar="DIR")
    ap.add_argument("--bench", metavar="DIR")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--tokens", type=int, default=64)
    a = ap.parse_args()
    if a.published_shape:
        make_published(a.published_shape)
    elif a.bench:
        bench(a.bench, a.threads, a.tokens)
    else:
        make_tiny()


if __name__ == "__main__":
    main()
