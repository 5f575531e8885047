#!/usr/bin/python3
"""Independent PyTorch reference for Step-Audio 2 token2wav's flow-matching decoder, and the
golden files its C++ port (src/engine/models/flow_dit.*, flow_matching.*) is tested against.

Run from the repository root with Debian's Python (torch 1.13 from python3-torch):

    /usr/bin/python3 tools/engine/token2wav/flow_dit_reference.py

It writes, deterministically (fixed seeds, float32, one thread):
  tests/engine/data/token2wav/flow_dit.pt            tiny random weights, saved as they sit inside
                                                     token2wav's flow.pt (`decoder.estimator.*`, plus
                                                     two unrelated flow tensors the loader must skip)
  tests/engine/data/token2wav/flow_dit_golden.json   index: config, scalars, and for every array its
                                                     float offset and shape in the .bin
  tests/engine/data/token2wav/flow_dit_golden.bin    the arrays, little-endian float32, concatenated

Every array is stored time-major ([batch][frames][channels] or [frames][channels]): the layout of
the C++ side, the transpose of PyTorch's [B][C][T].

The network is written here from the published architecture (the DiT of `cosyvoice2/flow/
decoder_dit.py` and the CausalConditionalCFM of its flow_matching.py), not copied from it:
  * estimator input: concat over channels of x (noisy mel), mu (encoder output), spks (speaker
    vector repeated over time) and cond (prompt mel, zeros after it), 4 x 80 = 320 channels;
  * in_proj, then `depth` DiT blocks, each: adaLN-zero modulation from the timestep embedding
    (9 chunks: shift/scale/gate for attention, MLP and conv, in that order), attention with
    per-head q/k LayerNorm (no positions, no causal mask; a key padding mask in the full form),
    then the causal conv block (conv k=3, LayerNorm, Mish, conv k=3), then the tanh-GELU MLP;
  * final layer: adaLN (shift, scale) over a LayerNorm, then a Linear to 80 mel channels;
  * timestep embedding: t * 1000 into 256 sinusoids (cos half first), Linear, SiLU, Linear;
  * CFM: t_span = 1 - cos(linspace(0, 1, n + 1) * pi / 2); Euler steps, each one estimator call
    on the pair (conditional: mu, spks, cond; unconditional: zeros for those three), combined as
    (1 + rate) * cond - rate * uncond, rate = 0.7;
  * streaming (forward_chunk): each Euler step keeps its own cache per block: the last 2 input
    frames of each causal conv and every past key and value; a chunk attends to its own frames and
    all cached ones, unmasked. As published, new keys are put in front of the cached ones
    ([new, old]); attention without positions does not care about the order. The noise of a chunk
    is the fixed noise buffer sliced at offset = the attention cache's length.

Goldens:
  (a) estimator: one call, batch 2 (different t; the second sequence padded: its last 3 frames
      masked out of the keys);
  (b) cfm_full: a whole CFM solve (10 steps, CFG) of one utterance with a prompt;
  (c) dit_chunk: three estimator forward_chunk calls on one cache (batch 2 as CFG pairs them);
      cfm_stream: the published streaming decode: a setup chunk with the prompt mel as cond, then
      chunks with cond = 0, each solved with 10 CFG steps on per-step caches, and before the third
      chunk the attention caches trimmed as the published driver slices them ([:first] + [-last:]
      of the newest-chunk-first layout).
"""

import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

MEL = 80
CONFIG = dict(in_channels=4 * MEL, out_channels=MEL, hidden_size=32, depth=2, num_heads=2, head_dim=16,
              mlp_ratio=4.0, frequency_embedding_size=256, conv_kernel=3)
CFG_RATE = 0.7
N_STEPS = 10
ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".."))
OUT_DIR = os.path.join(ROOT, "tests", "engine", "data", "token2wav")


class Swap12(nn.Module):
    """[B, T, C] <-> [B, C, T]; a placeholder keeping the published Sequential indices."""

    def forward(self, x):
        return x.transpose(1, 2)


class Attn(nn.Module):
    def __init__(self, hidden, heads, head_dim):
        super().__init__()
        self.heads, self.head_dim = heads, head_dim
        inner = heads * head_dim
        self.to_q = nn.Linear(hidden, inner)
        self.to_k = nn.Linear(hidden, inner)
        self.to_v = nn.Linear(hidden, inner)
        self.q_norm = nn.LayerNorm(head_dim)
        self.k_norm = nn.LayerNorm(head_dim)
        self.proj = nn.Linear(inner, hidden)

    def split(self, y):
        b, t, _ = y.shape
        return y.view(b, t, self.heads, self.head_dim).permute(0, 2, 1, 3)  # [B, h, T, d]

    def forward(self, x, key_valid=None, cache=None):
        """key_valid: [B, S] bool over the keys, or None. cache: [B, h, S_old, 2d] or None.
        Returns (out, new cache [B, h, T + S_old, 2d] with the new frames first)."""
        q = self.q_norm(self.split(self.to_q(x)))
        k = self.k_norm(self.split(self.to_k(x)))
        v = self.split(self.to_v(x))
        if cache is not None:
            k = torch.cat([k, cache[..., :self.head_dim]], dim=2)
            v = torch.cat([v, cache[..., self.head_dim:]], dim=2)
        scores = torch.matmul(q, k.transpose(2, 3)) / math.sqrt(self.head_dim)
        if key_valid is not None:
            scores = scores.masked_fill(~key_valid[:, None, None, :], float("-inf"))
        out = torch.matmul(torch.softmax(scores, dim=-1), v)
        b, _, t, _ = out.shape
        out = out.permute(0, 2, 1, 3).reshape(b, t, self.heads * self.head_dim)
        return self.proj(out), torch.cat([k, v], dim=3)


class ConvBlock(nn.Module):
    def __init__(self, hidden, kernel):
        super().__init__()
        self.kernel = kernel
        self.block = nn.Sequential(Swap12(), nn.Conv1d(hidden, hidden, kernel), Swap12(), nn.LayerNorm(hidden),
                                   nn.Mish(), Swap12(), nn.Conv1d(hidden, hidden, kernel), Swap12())

    def causal(self, conv, x, history):
        """x: [B, C, T]; history: [B, C, kernel - 1] (zeros at a stream's start)."""
        if history is None:
            history = x.new_zeros(x.shape[0], x.shape[1], self.kernel - 1)
        full = torch.cat([history, x], dim=2)
        return conv(full), full[..., full.shape[2] - (self.kernel - 1):]

    def forward(self, x, cache=None):
        """x: [B, T, C]; cache: [B, 2C, kernel - 1] (first conv's input history, then the second's)."""
        c = x.shape[2]
        h1, h2 = (None, None) if cache is None else (cache[:, :c], cache[:, c:])
        y, n1 = self.causal(self.block[1], x.transpose(1, 2), h1)
        y = self.block[4](self.block[3](y.transpose(1, 2)))
        y, n2 = self.causal(self.block[6], y.transpose(1, 2), h2)
        return y.transpose(1, 2), torch.cat([n1, n2], dim=1)


class Mlp(nn.Module):
    def __init__(self, hidden, inner):
        super().__init__()
        self.fc1 = nn.Linear(hidden, inner)
        self.fc2 = nn.Linear(inner, hidden)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x), approximate="tanh"))


def layer_norm_plain(x):
    return F.layer_norm(x, (x.shape[-1],), eps=1e-6)


def modulated(x, shift, scale):
    return layer_norm_plain(x) * (1 + scale) + shift


class Block(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        h = cfg["hidden_size"]
        self.attn = Attn(h, cfg["num_heads"], cfg["head_dim"])
        self.mlp = Mlp(h, int(h * cfg["mlp_ratio"]))
        self.conv = ConvBlock(h, cfg["conv_kernel"])
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(h, 9 * h))

    def forward(self, x, c, key_valid=None, conv_cache=None, att_cache=None):
        m = self.adaLN_modulation(c).chunk(9, dim=-1)  # each [B, 1, H]
        a, new_att = self.attn(modulated(x, m[0], m[1]), key_valid, att_cache)
        x = x + m[2] * a
        y, new_conv = self.conv(modulated(x, m[6], m[7]), conv_cache)
        x = x + m[8] * y
        x = x + m[5] * self.mlp(modulated(x, m[3], m[4]))
        return x, new_conv, new_att


class TimeEmbedding(nn.Module):
    def __init__(self, hidden, freq):
        super().__init__()
        self.freq = freq
        self.mlp = nn.Sequential(nn.Linear(freq, hidden), nn.SiLU(), nn.Linear(hidden, hidden))

    def forward(self, t):
        half = self.freq // 2
        rates = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32) / half)
        angles = (t * 1000.0)[:, None] * rates[None, :]
        return self.mlp(torch.cat([torch.cos(angles), torch.sin(angles)], dim=-1))


class Final(nn.Module):
    def __init__(self, hidden, out):
        super().__init__()
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(hidden, 2 * hidden))
        self.linear = nn.Linear(hidden, out)

    def forward(self, x, c):
        shift, scale = self.adaLN_modulation(c).chunk(2, dim=-1)
        return self.linear(modulated(x, shift, scale))


class Estimator(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        h = cfg["hidden_size"]
        self.t_embedder = TimeEmbedding(h, cfg["frequency_embedding_size"])
        self.in_proj = nn.Linear(cfg["in_channels"], h)
        self.blocks = nn.ModuleList([Block(cfg) for _ in range(cfg["depth"])])
        self.final_layer = Final(h, cfg["out_channels"])

    @staticmethod
    def pack(x, mu, spks, cond):
        """All [B, C, T] but spks [B, C]; returns [B, T, 4C]."""
        spk = spks[:, :, None].expand(-1, -1, x.shape[2])
        return torch.cat([x, mu, spk, cond], dim=1).transpose(1, 2)

    def forward(self, x, mask, mu, t, spks, cond):
        """The full form: mask [B, 1, T] (1 = a frame of the sequence) masks keys only."""
        c = self.t_embedder(t)[:, None, :]
        h = self.in_proj(self.pack(x, mu, spks, cond))
        key_valid = mask[:, 0, :].bool()
        for block in self.blocks:
            h, _, _ = block(h, c, key_valid)
        return self.final_layer(h, c).transpose(1, 2)

    def forward_chunk(self, x, mu, t, spks, cond, cache):
        """cache: list per block of (conv [B, 2H, 2], att [B, h, S, 2d]) or None at the start."""
        c = self.t_embedder(t)[:, None, :]
        h = self.in_proj(self.pack(x, mu, spks, cond))
        new_cache = []
        for i, block in enumerate(self.blocks):
            conv_c, att_c = (None, None) if cache is None else cache[i]
            h, nc, na = block(h, c, None, conv_c, att_c)
            new_cache.append((nc, na))
        return self.final_layer(h, c).transpose(1, 2), new_cache


def t_span_of(n_steps):
    span = torch.linspace(0, 1, n_steps + 1, dtype=torch.float32)
    return 1 - torch.cos(span * 0.5 * math.pi)


def euler_cfg(estimator, z, mu, spks, cond, mask, n_steps, rate, caches=None):
    """The published solver: x advances by dt * ((1 + rate) * cond - rate * uncond); t accumulates
    in float32 and the next dt is t_span[step + 1] - t, as published. With caches (a list per
    step), each step runs forward_chunk on its own cache and the list is replaced by the new ones."""
    span = t_span_of(n_steps)
    x = z.clone()
    t = span[0:1].clone()
    dt = span[1] - span[0]
    mu2 = torch.cat([mu, torch.zeros_like(mu)])
    spks2 = torch.cat([spks, torch.zeros_like(spks)])
    cond2 = torch.cat([cond, torch.zeros_like(cond)])
    for step in range(1, n_steps + 1):
        t2 = torch.cat([t, t])
        if caches is None:
            d = estimator(torch.cat([x, x]), torch.cat([mask, mask]), mu2, t2, spks2, cond2)
        else:
            d, caches[step - 1] = estimator.forward_chunk(torch.cat([x, x]), mu2, t2, spks2, cond2, caches[step - 1])
        c, u = d.chunk(2, dim=0)
        x = x + dt * ((1.0 + rate) * c - rate * u)
        t = t + dt
        if step < n_steps:
            dt = span[step + 1] - t
    return x


def trim(cache, first, last):
    """The streaming driver's bound on the attention caches, as Step-Audio 2's token2wav.stream
    slices them (att_cache[..., :prompt_frames] and [..., -100:] once longer than their sum): keep
    the first `first` and the last `last` entries of the cache's layout (newest chunk first, each
    chunk's frames in time order)."""
    out = []
    for conv_c, att_c in cache:
        s = att_c.shape[2]
        if s > first + last:
            att_c = torch.cat([att_c[:, :, :first], att_c[:, :, s - last:]], dim=2)
        out.append((conv_c, att_c))
    return out


def randomize(model, gen):
    """Random weights that let every path carry signal (the published init zeroes the adaLN and the
    output layer). LayerNorm gains around 1."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight") or name.endswith("block.3.weight"):
                p.copy_(1.0 + 0.2 * torch.randn(p.shape, generator=gen))
            elif p.dim() == 1:
                p.copy_(0.1 * torch.randn(p.shape, generator=gen))
            else:
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=gen) / math.sqrt(fan_in))


class Golden:
    def __init__(self):
        self.arrays, self.index, self.offset = [], {}, 0

    def add(self, name, value):
        a = np.ascontiguousarray(value.detach().numpy() if torch.is_tensor(value) else value, dtype="<f4")
        self.index[name] = {"offset": self.offset, "shape": list(a.shape)}
        self.arrays.append(a.reshape(-1))
        self.offset += a.size


def time_major(x):
    """[B, C, T] -> [B, T, C] (or [C, T] -> [T, C])."""
    return x.transpose(-1, -2).contiguous()


def main():
    torch.set_num_threads(1)
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(20)
    est = Estimator(CONFIG).eval()
    randomize(est, gen)
    g = Golden()

    def rnd(*shape, scale=1.0):
        return scale * torch.randn(*shape, generator=gen)

    with torch.no_grad():
        g.add("t_span", t_span_of(N_STEPS))
        # (a) one estimator call, batch 2, second sequence padded.
        T = 16
        x, mu, cond = rnd(2, MEL, T), rnd(2, MEL, T), rnd(2, MEL, T)
        spks = rnd(2, MEL)
        t = torch.tensor([0.3, 0.75])
        mask = torch.ones(2, 1, T)
        mask[1, :, 13:] = 0
        out = est(x, mask, mu, t, spks, cond)
        for k, v in dict(x=x, mu=mu, cond=cond, out=out).items():
            g.add(f"estimator.{k}", time_major(v))
        g.add("estimator.spks", spks)
        g.add("estimator.t", t)
        g.add("estimator.valid_frames", mask[:, 0].sum(dim=1))

        # (b) a full CFM solve: one utterance, prompt mel as cond over its first 6 frames.
        T = 20
        mu, z = rnd(1, MEL, T), rnd(1, MEL, T)
        spks = rnd(1, MEL)
        cond = torch.zeros(1, MEL, T)
        cond[:, :, :6] = rnd(1, MEL, 6)
        out = euler_cfg(est, z, mu, spks, cond, torch.ones(1, 1, T), N_STEPS, CFG_RATE)
        for k, v in dict(mu=mu, noise=z, cond=cond, out=out).items():
            g.add(f"cfm_full.{k}", time_major(v[0]))
        g.add("cfm_full.spks", spks[0])

        # (c1) the estimator's chunked form: three chunks on one cache, batch 2 (a CFG pair).
        chunks = [12, 8, 8]
        cache = None
        spks = rnd(2, MEL)
        g.add("dit_chunk.spks", spks)
        for i, n in enumerate(chunks):
            x, mu, cond = rnd(2, MEL, n), rnd(2, MEL, n), rnd(2, MEL, n)
            t = torch.tensor([0.1 + 0.3 * i, 0.1 + 0.3 * i])
            out, cache = est.forward_chunk(x, mu, t, spks, cond, cache)
            for k, v in dict(x=x, mu=mu, cond=cond, out=out).items():
                g.add(f"dit_chunk.{i}.{k}", time_major(v))
            g.add(f"dit_chunk.{i}.t", t)

        # (c2) the streaming decode: setup chunk with the prompt, then chunks with cond = 0; the
        # noise of each chunk sliced from one fixed buffer at the attention cache's length; the
        # caches trimmed as the published driver does ([:first] + [-last:], first = the prompt's
        # frames) before the third chunk: the cut falls inside the prompt chunk.
        chunks = [12, 8, 8]
        prompt, trim_last = 12, 4
        noise = rnd(1, MEL, 64)
        spks = rnd(1, MEL)
        g.add("cfm_stream.noise_buffer", time_major(noise[0]))
        g.add("cfm_stream.spks", spks[0])
        caches = [None] * N_STEPS
        offsets = []
        for i, n in enumerate(chunks):
            if i == 2:
                caches = [trim(c, prompt, trim_last) for c in caches]
            offset = 0 if caches[0] is None else caches[0][0][1].shape[2]
            offsets.append(offset)
            mu = rnd(1, MEL, n)
            cond = rnd(1, MEL, n) if i == 0 else torch.zeros(1, MEL, n)
            z = noise[:, :, offset:offset + n]
            out = euler_cfg(est, z, mu, spks, cond, None, N_STEPS, CFG_RATE, caches)
            for k, v in dict(mu=mu, cond=cond, out=out).items():
                g.add(f"cfm_stream.{i}.{k}", time_major(v[0]))

    os.makedirs(OUT_DIR, exist_ok=True)
    state = {"decoder.estimator." + k: v.clone() for k, v in est.state_dict().items()}
    # Two tensors of the rest of flow.pt, which the estimator's loader must pass over.
    state["input_embedding.weight"] = torch.randn(4, 8, generator=gen)
    state["encoder_proj.weight"] = torch.randn(MEL, 8, generator=gen)
    torch.save(state, os.path.join(OUT_DIR, "flow_dit.pt"))
    with open(os.path.join(OUT_DIR, "flow_dit_golden.bin"), "wb") as f:
        f.write(np.concatenate(g.arrays).tobytes())
    meta = {
        "generator": "tools/engine/token2wav/flow_dit_reference.py",
        "layout": "little-endian float32 arrays concatenated in flow_dit_golden.bin; offset and shape "
                  "in floats; time-major ([batch][frames][channels] or [frames][channels])",
        "config": CONFIG,
        "cfg_rate": CFG_RATE,
        "n_steps": N_STEPS,
        "dit_chunk_frames": [12, 8, 8],
        "cfm_stream": {"chunk_frames": chunks, "prompt_frames": prompt, "trim_first": prompt,
                       "trim_last": trim_last, "trim_before_chunk": 2, "noise_offsets": offsets},
        "arrays": g.index,
    }
    with open(os.path.join(OUT_DIR, "flow_dit_golden.json"), "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")
    print(f"wrote {OUT_DIR}: {g.offset} golden floats, {len(state)} tensors; stream offsets {offsets}")


if __name__ == "__main__":
    sys.exit(main())
