#!/usr/bin/python3
"""Our own PyTorch reference of the token encoder of Step-Audio 2 mini's token2wav flow: the flow's
`input_embedding` (speech tokens -> vectors), the `UpsampleConformerEncoderV2` (a linear embedding,
a pre-look-ahead convolution, conformer blocks with espnet relative-position self-attention, a 2x
nearest-neighbour upsampling convolution, a second embedding and more conformer blocks, a final
LayerNorm) and the flow's `encoder_proj` (encoder width -> 80 mel channels). Written from the
published architecture (stepfun-ai/Step-Audio2 cosyvoice2/transformer/upsample_encoder_v2.py and the
CosyVoice transformer modules it builds on), not copied; parameter names are the published ones, so
a state dict of this module loads as the encoder part of token2wav's flow.pt.

Run from the repository root:  /usr/bin/python3 tools/engine/token2wav/flow_encoder_reference.py
Needs Debian's python3-torch (torch 1.13) and numpy. Deterministic (fixed seeds, CPU, float32).

Writes to tests/engine/data/token2wav/:
  flow_encoder.pt           tiny random weights, torch.save'd state dict in the published key layout:
                            input_embedding.weight (F16, the rest F32), encoder.embed.out.0.weight,
                            encoder.encoders.0.self_attn.pos_bias_u, ..., encoder_proj.bias.
  flow_encoder.golden.json  the configuration, the token ids, and expected outputs:
    "config":  the dimensions of the tiny model (the published structure, small widths).
    "tokens":  the token ids of the utterance (T of them).
    "full":    {"frames": 2T, "dim": 80, "values": [2T * 80 floats, time-major]}: flow.encoder_proj(
               encoder.forward(input_embedding(tokens))), the whole utterance at once.
    "chunks":  the published streaming (forward_chunk with its caches): a list of calls, each
               {"tokens": ids given to that call (the new tokens plus 3 look-ahead tokens, or, for
               the last call, the remaining tokens only), "last": bool, "frames": frames out,
               "values": [frames * 80 floats]}. The first call's look-ahead tokens are silence
               (token 4218), as token2wav's setup_cache pads its prompt; later calls overlap by the
               look-ahead as a streaming caller does.
    "trimmed": {"head_frames", "tail_frames", "chunks"}: the same calls, the attention cache trimmed
               after each as Step-Audio 2's token2wav stream does (when its time axis is longer than
               head + tail: keep the first head and the last tail entries; head = the first call's
               frames, the prompt's; tail = 10 here, 100 there).
  Floats are written with 9 significant digits (exact for float32).

Tiny dimensions: width 32 (input_size = output_size), 2 heads, linear_units 64, 2 blocks + 2 up
blocks, pre_lookahead_len 3, up_stride 2, output 80; the vocabulary keeps the published 6561 ids
(the table stored as F16 keeps the file small). Published: width 512, 8 heads, linear_units 2048,
6 + 4 blocks.
"""
import json
import math
import os
from collections import OrderedDict

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

REPO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..")
OUT_DIR = os.path.join(REPO, "tests", "engine", "data", "token2wav")

SILENCE_TOKEN = 4218
TRIM_TAIL_FRAMES = 10


def rel_positions(size, d_model):
    """espnet's relative position table for `size` keys: 2 * size - 1 rows, row k the encoding of
    relative position size - 1 - k (keys to the left positive), sin / cos interleaved; float32."""
    pos = torch.arange(0, size, dtype=torch.float32).unsqueeze(1)
    div = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32) * -(math.log(10000.0) / d_model))
    pe_pos = torch.zeros(size, d_model)
    pe_neg = torch.zeros(size, d_model)
    pe_pos[:, 0::2] = torch.sin(pos * div)
    pe_pos[:, 1::2] = torch.cos(pos * div)
    pe_neg[:, 0::2] = torch.sin(-1 * pos * div)
    pe_neg[:, 1::2] = torch.cos(-1 * pos * div)
    return torch.cat([torch.flip(pe_pos, [0]), pe_neg[1:]], dim=0).unsqueeze(0)  # (1, 2*size-1, d)


class LinearEmbed(nn.Module):
    """Linear + LayerNorm (eps 1e-5), then x * sqrt(d) (the positional module's scale)."""

    def __init__(self, idim, odim):
        super().__init__()
        self.out = nn.Sequential(nn.Linear(idim, odim), nn.LayerNorm(odim, eps=1e-5))
        self.xscale = math.sqrt(odim)

    def forward(self, x):
        return self.out(x) * self.xscale


class RelSelfAttention(nn.Module):
    """Multi-head self-attention with Transformer-XL relative positions (pos_bias_u / pos_bias_v)."""

    def __init__(self, heads, d, key_bias=True):
        super().__init__()
        self.h, self.d_k = heads, d // heads
        self.linear_q = nn.Linear(d, d)
        self.linear_k = nn.Linear(d, d, bias=key_bias)
        self.linear_v = nn.Linear(d, d)
        self.linear_out = nn.Linear(d, d)
        self.linear_pos = nn.Linear(d, d, bias=False)
        self.pos_bias_u = nn.Parameter(torch.zeros(heads, self.d_k))
        self.pos_bias_v = nn.Parameter(torch.zeros(heads, self.d_k))

    @staticmethod
    def rel_shift(x):
        # The padding trick of Transformer-XL / espnet: (b, h, t1, 2*t2-1) -> (b, h, t1, t2).
        b, h, t1, n = x.shape
        padded = torch.cat([x.new_zeros(b, h, t1, 1), x], dim=-1).view(b, h, n + 1, t1)
        return padded[:, :, 1:].reshape(b, h, t1, n)[:, :, :, : n // 2 + 1]

    def forward(self, x, pos_emb, cache=None):
        """x: (b, t, d); pos_emb: (1, 2*(cache_t + t)-1, d); cache: (b, h, cache_t, 2*d_k) or None.
        Returns the output and the new cache (b, h, cache_t + t, 2*d_k), keys then values."""
        b, t, _ = x.shape
        q = self.linear_q(x).view(b, t, self.h, self.d_k)
        k = self.linear_k(x).view(b, t, self.h, self.d_k).transpose(1, 2)
        v = self.linear_v(x).view(b, t, self.h, self.d_k).transpose(1, 2)
        if cache is not None and cache.shape[2] > 0:
            k = torch.cat([cache[..., : self.d_k], k], dim=2)
            v = torch.cat([cache[..., self.d_k :], v], dim=2)
        new_cache = torch.cat([k, v], dim=-1)
        p = self.linear_pos(pos_emb).view(1, -1, self.h, self.d_k).transpose(1, 2)
        ac = torch.matmul((q + self.pos_bias_u).transpose(1, 2), k.transpose(-2, -1))
        bd = torch.matmul((q + self.pos_bias_v).transpose(1, 2), p.transpose(-2, -1))
        if ac.shape != bd.shape:
            bd = self.rel_shift(bd)
        attn = torch.softmax((ac + bd) / math.sqrt(self.d_k), dim=-1)
        out = torch.matmul(attn, v).transpose(1, 2).reshape(b, t, self.h * self.d_k)
        return self.linear_out(out), new_cache


class FeedForward(nn.Module):
    def __init__(self, d, units):
        super().__init__()
        self.w_1 = nn.Linear(d, units)
        self.w_2 = nn.Linear(units, d)

    def forward(self, x):
        return self.w_2(F.silu(self.w_1(x)))


class ConformerLayer(nn.Module):
    """Pre-norm block without macaron or convolution module (as token2wav's): x + MHA(LN(x)), then
    x + FFN(LN(x)); both LayerNorms eps 1e-12."""

    def __init__(self, d, heads, units, key_bias):
        super().__init__()
        self.self_attn = RelSelfAttention(heads, d, key_bias)
        self.feed_forward = FeedForward(d, units)
        self.norm_ff = nn.LayerNorm(d, eps=1e-12)
        self.norm_mha = nn.LayerNorm(d, eps=1e-12)

    def forward(self, x, pos_emb, cache=None):
        att, new_cache = self.self_attn(self.norm_mha(x), pos_emb, cache)
        x = x + att
        x = x + self.feed_forward(self.norm_ff(x))
        return x, new_cache


class PreLookahead(nn.Module):
    """conv1 (kernel look-ahead + 1) over the current and next `look-ahead` frames, leaky ReLU,
    conv2 (kernel 3, causal: 2 frames of left context), residual."""

    def __init__(self, c, lookahead):
        super().__init__()
        self.lookahead = lookahead
        self.conv1 = nn.Conv1d(c, c, lookahead + 1)
        self.conv2 = nn.Conv1d(c, c, 3)

    def forward(self, x):  # (b, t, c) -> (b, t, c)
        y = F.pad(x.transpose(1, 2), (0, self.lookahead))
        y = F.leaky_relu(self.conv1(y))
        y = self.conv2(F.pad(y, (2, 0)))
        return y.transpose(1, 2) + x

    def forward_chunk(self, x, cache):
        """x: (b, t + look-ahead, c), cache: (b, c, 2) conv1 outputs of the 2 frames before.
        Returns (b, t, c) and the new cache."""
        y = torch.cat([cache, F.leaky_relu(self.conv1(x.transpose(1, 2)))], dim=2)
        # The published code keeps the last 2 of this chunk's conv1 outputs alone; that is the same
        # for chunks of 2 or more new tokens, and it fails its cache-shape check after a 1-token
        # chunk, where this keeps the stream's last two (what a whole-stream convolution would see).
        new_cache = y[..., -2:]
        y = self.conv2(y)
        return y.transpose(1, 2) + x[:, : -self.lookahead], new_cache


class Upsample(nn.Module):
    """Nearest-neighbour repeat by `stride`, then a causal conv (kernel 2 * stride + 1)."""

    def __init__(self, c, stride):
        super().__init__()
        self.stride = stride
        self.conv = nn.Conv1d(c, c, 2 * stride + 1)

    def forward(self, x):  # (b, c, t) -> (b, c, stride * t)
        y = F.interpolate(x, scale_factor=float(self.stride), mode="nearest")
        return self.conv(F.pad(y, (2 * self.stride, 0)))

    def forward_chunk(self, x, cache):
        """cache: (b, c, 2 * stride), the last upsampled input frames of the previous chunk."""
        y = torch.cat([cache, F.interpolate(x, scale_factor=float(self.stride), mode="nearest")], dim=2)
        return self.conv(y), y[..., -2 * self.stride :]


class UpsampleConformerEncoderV2(nn.Module):
    def __init__(self, input_size, output_size, heads, units, blocks, up_blocks, lookahead, stride, key_bias=True):
        super().__init__()
        self.d, self.stride = output_size, stride
        self.embed = LinearEmbed(input_size, output_size)
        self.pre_lookahead_layer = PreLookahead(output_size, lookahead)
        self.encoders = nn.ModuleList(ConformerLayer(output_size, heads, units, key_bias) for _ in range(blocks))
        self.up_layer = Upsample(output_size, stride)
        self.up_embed = LinearEmbed(input_size, output_size)
        self.up_encoders = nn.ModuleList(
            ConformerLayer(output_size, heads, units, key_bias) for _ in range(up_blocks))
        self.after_norm = nn.LayerNorm(output_size, eps=1e-5)

    def forward(self, xs):
        """xs: (1, t, input_size) embedded tokens -> (1, stride * t, output_size). Every position
        attends to every other (one utterance, no padding)."""
        x = self.pre_lookahead_layer(self.embed(xs))
        pos = rel_positions(x.shape[1], self.d)
        for layer in self.encoders:
            x, _ = layer(x, pos)
        x = self.up_layer(x.transpose(1, 2)).transpose(1, 2)
        x = self.up_embed(x)
        pos = rel_positions(x.shape[1], self.d)
        for layer in self.up_encoders:
            x, _ = layer(x, pos)
        return self.after_norm(x)

    def forward_chunk(self, xs, last_chunk, cnn_cache, att_cache):
        """The published streaming step. xs: (1, n + look-ahead, input_size), or (1, n, input_size)
        when last_chunk (then zero frames stand in for the look-ahead). cnn_cache: (1, c, 2 + 2 *
        stride) or None; att_cache: (blocks + up_blocks, 1, heads, 2 * past, 2 * d_k) or None, the
        first stack's entries repeated twice along time so both stacks share one tensor.
        Returns (1, stride * n, c) and the new caches."""
        n1 = len(self.encoders)
        past = att_cache.shape[3] // 2 if att_cache is not None else 0
        cache1 = att_cache[:n1, :, :, :past] if att_cache is not None else [None] * n1
        cache2 = att_cache[n1:] if att_cache is not None else [None] * len(self.up_encoders)
        if cnn_cache is None:
            cnn_cache = xs.new_zeros(1, self.d, 2 + 2 * self.stride)
        x = self.embed(xs)
        if last_chunk:
            x = F.pad(x, (0, 0, 0, self.pre_lookahead_layer.lookahead))
        x, new_cnn1 = self.pre_lookahead_layer.forward_chunk(x, cnn_cache[:, :, :2])
        pos = rel_positions(past + x.shape[1], self.d)
        new1 = []
        for i, layer in enumerate(self.encoders):
            x, c = layer(x, pos, cache1[i])
            new1.append(c)
        x, new_cnn2 = self.up_layer.forward_chunk(x.transpose(1, 2), cnn_cache[:, :, 2:])
        x = self.up_embed(x.transpose(1, 2))
        pos = rel_positions(past * self.stride + x.shape[1], self.d)
        new2 = []
        for i, layer in enumerate(self.up_encoders):
            x, c = layer(x, pos, cache2[i])
            new2.append(c)
        x = self.after_norm(x)
        new_att = torch.cat([torch.stack(new1).repeat(1, 1, 1, self.stride, 1), torch.stack(new2)], dim=0)
        return x, torch.cat([new_cnn1, new_cnn2], dim=2), new_att


class FlowTokenEncoder(nn.Module):
    """The encoder part of CausalMaskedDiffWithXvec: input_embedding, encoder, encoder_proj."""

    def __init__(self, cfg):
        super().__init__()
        self.input_embedding = nn.Embedding(cfg["vocab_size"], cfg["input_size"])
        self.encoder = UpsampleConformerEncoderV2(
            cfg["input_size"], cfg["output_size"], cfg["attention_heads"], cfg["linear_units"], cfg["num_blocks"],
            cfg["num_up_blocks"], cfg["pre_lookahead_len"], cfg["up_stride"], cfg["key_bias"])
        self.encoder_proj = nn.Linear(cfg["output_size"], cfg["mel_dim"])

    def forward(self, tokens):  # list of ids -> (stride * t, mel_dim)
        x = self.input_embedding(torch.tensor([tokens]))
        return self.encoder_proj(self.encoder(x))[0]

    def forward_chunk(self, tokens, last_chunk, caches):
        x = self.input_embedding(torch.tensor([tokens]))
        h, cnn, att = self.encoder.forward_chunk(x, last_chunk, caches[0], caches[1])
        return self.encoder_proj(h)[0], (cnn, att)


CONFIG = OrderedDict(
    vocab_size=6561, input_size=32, output_size=32, mel_dim=80, attention_heads=2, linear_units=64,
    num_blocks=2, num_up_blocks=2, pre_lookahead_len=3, up_stride=2, key_bias=True)


def init_weights(model, seed):
    """Matrices N(0, 1/fan_in) (kernels: fan_in = in_channels * kernel), biases N(0, 0.1^2), norms
    1 + N(0, 0.1^2) with N(0, 0.1^2) biases, pos_bias_u / pos_bias_v N(0, 0.5^2), the embedding
    table N(0, 1) rounded to float16 (as stored)."""
    g = torch.Generator().manual_seed(seed)
    for name, p in model.named_parameters():
        with torch.no_grad():
            if name == "input_embedding.weight":
                p.copy_(torch.randn(p.shape, generator=g).half().float())
            elif "pos_bias" in name:
                p.copy_(0.5 * torch.randn(p.shape, generator=g))
            elif ".norm" in name or "after_norm" in name or ".out.1." in name:
                base = 1.0 if name.endswith("weight") else 0.0
                p.copy_(base + 0.1 * torch.randn(p.shape, generator=g))
            elif name.endswith("bias"):
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
            else:
                fan_in = p.shape[1] * (p.shape[2] if p.dim() == 3 else 1)
                p.copy_(torch.randn(p.shape, generator=g) / math.sqrt(fan_in))


def floats(t):
    return [float(f"{v:.9g}") for v in t.detach().reshape(-1).tolist()]


def main():
    torch.manual_seed(0)
    torch.set_num_threads(1)
    model = FlowTokenEncoder(CONFIG).eval()
    init_weights(model, seed=20)

    rng = np.random.default_rng(7)
    tokens = [int(t) for t in rng.integers(0, CONFIG["vocab_size"], size=37)]
    lookahead = CONFIG["pre_lookahead_len"]

    with torch.no_grad():
        full = model(tokens)
        # One last chunk without caches is the whole-utterance forward (a self-check of the chunk path).
        one, _ = model.forward_chunk(tokens, True, (None, None))
        assert torch.allclose(one, full, atol=1e-5), (one - full).abs().max()

        calls = []
        news = [10, 7, 1, 9]  # new tokens per call; the last call takes the rest (10)
        start, caches = 0, (None, None)
        for i, n in enumerate(news):
            ahead = [SILENCE_TOKEN] * lookahead if i == 0 else tokens[start + n : start + n + lookahead]
            calls.append((tokens[start : start + n] + ahead, False))
            start += n
        calls.append((tokens[start:], True))
        chunks = []
        for ids, last in calls:
            out, caches = model.forward_chunk(ids, last, caches)
            chunks.append({"tokens": ids, "last": last, "frames": out.shape[0], "values": floats(out)})

        # The same calls with token2wav's cache trimming after each (Step-Audio 2's stream keeps the
        # prompt's mel frames and the last 100 of the attention cache's time axis; here the first call
        # is the prompt and the tail is 10 frames so that the tiny run trims).
        head, tail = 2 * news[0], TRIM_TAIL_FRAMES
        trimmed, caches = [], (None, None)
        for ids, last in calls:
            out, (cnn, att) = model.forward_chunk(ids, last, caches)
            if att.shape[3] > head + tail:
                att = torch.cat([att[:, :, :, :head], att[:, :, :, -tail:]], dim=3)
            caches = (cnn, att)
            trimmed.append({"tokens": ids, "last": last, "frames": out.shape[0], "values": floats(out)})

    state = OrderedDict()
    for k, v in model.state_dict().items():
        state[k] = v.half() if k == "input_embedding.weight" else v.clone()
    os.makedirs(OUT_DIR, exist_ok=True)
    torch.save(state, os.path.join(OUT_DIR, "flow_encoder.pt"))
    golden = OrderedDict(
        config=CONFIG, tokens=tokens,
        full={"frames": full.shape[0], "dim": full.shape[1], "values": floats(full)},
        chunks=chunks,
        trimmed={"head_frames": head, "tail_frames": tail, "chunks": trimmed})
    with open(os.path.join(OUT_DIR, "flow_encoder.golden.json"), "w") as f:
        json.dump(golden, f, separators=(",", ":"))
        f.write("\n")
    print("wrote", OUT_DIR, "full", tuple(full.shape), "chunks", [c["frames"] for c in chunks],
          "max|full|", float(full.abs().max()))


if __name__ == "__main__":
    main()
