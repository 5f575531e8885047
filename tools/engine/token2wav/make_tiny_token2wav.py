#!/usr/bin/python3
"""Writes a tiny Step-Audio 2 `token2wav/` folder (flow.yaml, flow.pt, hift.pt in the published
layout and key names, random weights) and end-to-end goldens of the flow from our own PyTorch
references of its parts (flow_encoder_reference.py, flow_dit_reference.py, hift_reference.py in this
folder), composed the way the published CausalMaskedDiffWithXvec composes them:

  spk  = spk_embed_affine_layer(normalize(speaker_embedding))
  mu   = encoder_proj(encoder(input_embedding(prompt tokens ++ tokens)))
  cond = prompt mel on the prompt's frames, zeros after
  mel  = CFM Euler solve with CFG (10 steps, rate 0.7) from the noise, prompt frames dropped

and the published streaming decode (setup_cache with the prompt and three silence tokens 4218 as
look-ahead, then chunks of new tokens plus look-ahead with cond = 0, the encoder's and the
estimator's attention caches trimmed to the prompt plus the newest 100 frames after each chunk).

Noise: Cadence's counter-based buffer (src/engine/models/token2wav.h): value i of seed s is
Box-Muller of two SplitMix64 draws, reproduced here bit for bit in float64.

Run from the repository root:  /usr/bin/python3 tools/engine/token2wav/make_tiny_token2wav.py
       /usr/bin/python3 tools/engine/token2wav/make_tiny_token2wav.py --published-shape /tmp/t2w
           (random weights in Step-Audio 2 mini's shapes, for `cadence bench token2wav`; ~600 MB)
Output: tests/engine/data/token2wav/tiny/ (the folder) and tests/engine/data/token2wav/
token2wav_golden.{json,bin} (an index of float offsets and shapes, and the little-endian float32
arrays, time-major [frames][80]). Deterministic. Needs python3-torch (Debian).
"""
import argparse
import json
import math
import os
import sys
from collections import OrderedDict

import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import flow_dit_reference as fd  # noqa: E402
import flow_encoder_reference as fe  # noqa: E402
import hift_reference as hr  # noqa: E402

ROOT = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
OUT = os.path.join(ROOT, "tests", "engine", "data", "token2wav")
FOLDER = os.path.join(OUT, "tiny")
SILENCE = 4218
SPK_DIM = 192
MEL = 80
SEED = 1234
TAIL = 100
MASK64 = (1 << 64) - 1


def splitmix64(x):
    x = (x + 0x9E3779B97F4A7C15) & MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK64
    return x ^ (x >> 31)


def noise(seed, start_frame, frames):
    """Frames [start, start + frames) of Cadence's noise buffer: [frames][80] float32."""
    key = splitmix64(seed ^ 0x746F6B656E327761)
    out = np.empty(frames * MEL, dtype=np.float32)
    for k in range(frames * MEL):
        i = start_frame * MEL + k
        u1 = ((splitmix64((key + 2 * i) & MASK64) >> 11) + 1) * 2.0 ** -53
        u2 = ((splitmix64((key + 2 * i + 1) & MASK64) >> 11) + 1) * 2.0 ** -53
        out[k] = math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)
    return torch.from_numpy(out.reshape(frames, MEL))


def flow_yaml(enc, dit, hift):
    return f"""# A tiny token2wav flow in the published HiFT/flow.yaml dialect (random weights; for tests).
spk_embed_dim: {SPK_DIM}
flow: !new:cosyvoice2.flow.flow.CausalMaskedDiffWithXvec
    input_size: {enc['input_size']}
    output_size: {MEL}
    spk_embed_dim: !ref <spk_embed_dim>
    output_type: 'mel'
    vocab_size: {enc['vocab_size']}
    encoder: !new:cosyvoice2.transformer.upsample_encoder_v2.UpsampleConformerEncoderV2
        input_size: {enc['input_size']}
        output_size: {enc['output_size']}
        input_layer: 'linear'
        pre_lookahead_len: {enc['pre_lookahead_len']}
        num_blocks: {enc['num_blocks']}
        num_up_blocks: {enc['num_up_blocks']}
        up_stride: {enc['up_stride']}
        up_scale_factor: {float(enc['up_stride'])}
        attention_heads: {enc['attention_heads']}
        pos_enc_layer_type: 'rel_pos_espnet'
        selfattention_layer_type: 'rel_selfattn'
        key_bias: {str(enc['key_bias'])}
        linear_units: {enc['linear_units']}
        dropout_rate: 0.1
        positional_dropout_rate: 0.1
        attention_dropout_rate: 0.1
        normalize_before: True
    decoder: !new:cosyvoice2.flow.flow_matching.CausalConditionalCFM
        inference_cfg_rate: {fd.CFG_RATE}
        estimator: !new:cosyvoice2.flow.decoder_dit.DiT
            in_channels: {dit['in_channels']}
            out_channels: {dit['out_channels']}
            mlp_ratio: {dit['mlp_ratio']}
            depth: {dit['depth']}
            num_heads: {dit['num_heads']}
            head_dim: {dit['head_dim']}
            hidden_size: {dit['hidden_size']}
hift: !new:cosyvoice2.hifigan.generator.HiFTGenerator
    in_channels: {hift['in_channels']}
    base_channels: {hift['base_channels']}
    nb_harmonics: {hift['nb_harmonics']}
    sampling_rate: {hift['sampling_rate']}
    upsample_rates: {hift['upsample_rates']}
    upsample_kernel_sizes: {hift['upsample_kernel_sizes']}
    istft_params:
        n_fft: {hift['n_fft']}
        hop_len: {hift['hop_len']}
    f0_predictor: !new:cosyvoice2.hifigan.f0_predictor.ConvRNNF0Predictor
        num_class: 1
        in_channels: {hift['in_channels']}
        cond_channels: {hift['f0_cond_channels']}
"""


class Flow(nn.Module):
    """CausalMaskedDiffWithXvec composed of our references."""

    def __init__(self, enc_cfg, dit_cfg):
        super().__init__()
        self.enc = fe.FlowTokenEncoder(enc_cfg)
        self.spk_embed_affine_layer = nn.Linear(SPK_DIM, MEL)
        self.estimator = fd.Estimator(dit_cfg)

    def spk(self, embedding):
        e = torch.nn.functional.normalize(embedding[None, :], dim=1)
        return self.spk_embed_affine_layer(e)  # [1, 80]

    def inference(self, tokens, prompt_tokens, prompt_mel, embedding):
        spks = self.spk(embedding)
        mu = self.enc(prompt_tokens + tokens)  # [2T][80]
        frames = mu.shape[0]
        cond = torch.zeros(frames, MEL)
        cond[: prompt_mel.shape[0]] = prompt_mel
        z = noise(SEED, 0, frames)
        mask = torch.ones(1, 1, frames)
        mel = fd.euler_cfg(self.estimator, z.T[None], mu.T[None], spks, cond.T[None], mask, fd.N_STEPS, fd.CFG_RATE)
        return mel[0].T[prompt_mel.shape[0]:]  # [2N][80]

    def stream(self, tokens, prompt_tokens, prompt_mel, embedding, chunk):
        spks = self.spk(embedding)
        look = fe.CONFIG["pre_lookahead_len"]
        prompt_frames = prompt_mel.shape[0]
        enc_caches = (None, None)
        caches = [None] * fd.N_STEPS
        mu, enc_caches = self.enc.forward_chunk(prompt_tokens + [SILENCE] * look, False, enc_caches)
        z = noise(SEED, 0, mu.shape[0])
        fd.euler_cfg(self.estimator, z.T[None], mu.T[None], spks, prompt_mel.T[None], None, fd.N_STEPS, fd.CFG_RATE,
                     caches)
        out, start = [], 0
        while True:
            last = start + chunk + look > len(tokens)
            ids = tokens[start:] if last else tokens[start: start + chunk + look]
            mu, (cnn, att) = self.enc.forward_chunk(ids, last, enc_caches)
            if att.shape[3] > prompt_frames + TAIL:  # the encoder's attention cache, trimmed the same way
                att = torch.cat([att[:, :, :, :prompt_frames], att[:, :, :, -TAIL:]], dim=3)
            enc_caches = (cnn, att)
            cached = caches[0][0][1].shape[2]  # keys cached by block 0 of step 0
            z = noise(SEED, cached, mu.shape[0])
            cond = torch.zeros_like(mu)
            mel = fd.euler_cfg(self.estimator, z.T[None], mu.T[None], spks, cond.T[None], None, fd.N_STEPS,
                               fd.CFG_RATE, caches)
            caches[:] = [fd.trim(c, prompt_frames, TAIL) for c in caches]
            out.append({"tokens": ids, "last": last, "mel": mel[0].T})
            if last:
                return out
            start += chunk


# Step-Audio 2 mini's token2wav shapes (flow.yaml; HiFTGenerator() defaults).
PUBLISHED_ENC = dict(vocab_size=6561, input_size=512, output_size=512, mel_dim=MEL, attention_heads=8,
                     linear_units=2048, num_blocks=6, num_up_blocks=4, pre_lookahead_len=3, up_stride=2, key_bias=True)
PUBLISHED_DIT = dict(in_channels=4 * MEL, out_channels=MEL, hidden_size=512, depth=16, num_heads=8, head_dim=64,
                     mlp_ratio=4.0, frequency_embedding_size=256, conv_kernel=3)


def write_folder(folder, enc_cfg, dit_cfg, hift_cfg, published):
    """flow.yaml, flow.pt and hift.pt with random weights; returns the flow module."""
    os.makedirs(folder, exist_ok=True)
    flow = Flow(enc_cfg, dit_cfg).eval()
    fe.init_weights(flow.enc, seed=31)
    g = torch.Generator().manual_seed(32)
    fd.randomize(flow.estimator, g)
    with torch.no_grad():
        flow.spk_embed_affine_layer.weight.copy_(torch.randn(MEL, SPK_DIM, generator=g) / math.sqrt(SPK_DIM))
        flow.spk_embed_affine_layer.bias.copy_(0.1 * torch.randn(MEL, generator=g))
    state = OrderedDict()
    for k, v in flow.enc.state_dict().items():
        state[k] = v.half() if k == "input_embedding.weight" else v.clone()
    for k, v in flow.spk_embed_affine_layer.state_dict().items():
        state["spk_embed_affine_layer." + k] = v.clone()
    for k, v in flow.estimator.state_dict().items():
        state["decoder.estimator." + k] = v.clone()
    torch.save(state, os.path.join(folder, "flow.pt"))
    hift = hr.HiFT(hift_cfg).eval()
    hr.randomize(hift, seed=33)
    torch.save(hr.state_dict_wg(hift), os.path.join(folder, "hift.pt"))
    with open(os.path.join(folder, "flow.yaml"), "w") as f:
        f.write(flow_yaml(enc_cfg, dit_cfg, hift_cfg))
    return flow


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--published-shape", metavar="DIR", help="write random published-shape weights to DIR")
    args = parser.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(1)
    if args.published_shape:
        write_folder(args.published_shape, PUBLISHED_ENC, PUBLISHED_DIT, hr.PUBLISHED, published=True)
        print("wrote", args.published_shape)
        return
    flow = write_folder(FOLDER, fe.CONFIG, fd.CONFIG, hr.TINY, published=False)

    rng = np.random.default_rng(5)
    prompt_tokens = [int(t) for t in rng.integers(0, fe.CONFIG["vocab_size"], size=6)]
    tokens = [int(t) for t in rng.integers(0, fe.CONFIG["vocab_size"], size=70)]
    prompt_mel = torch.from_numpy(rng.normal(-5.0, 2.0, size=(12, MEL)).astype(np.float32))
    embedding = torch.from_numpy(rng.normal(0.0, 1.0, size=SPK_DIM).astype(np.float32))
    arrays, index, offset = [], {}, 0

    def add(name, value):
        nonlocal offset
        a = np.ascontiguousarray(value.detach().numpy(), dtype="<f4")
        index[name] = {"offset": offset, "shape": list(a.shape)}
        arrays.append(a.reshape(-1))
        offset += a.size

    with torch.no_grad():
        add("prompt_mel", prompt_mel)
        add("embedding", embedding)
        add("spk", flow.spk(embedding)[0])
        add("mel", flow.inference(tokens, prompt_tokens, prompt_mel, embedding))
        chunks = flow.stream(tokens, prompt_tokens, prompt_mel, embedding, chunk=15)
        for i, c in enumerate(chunks):
            add(f"stream{i}", c["mel"])
    golden = OrderedDict(seed=SEED, n_timesteps=fd.N_STEPS, prompt_tokens=prompt_tokens, tokens=tokens, chunk=15,
                         stream=[{"tokens": c["tokens"], "last": c["last"]} for c in chunks], arrays=index)
    with open(os.path.join(OUT, "token2wav_golden.json"), "w") as f:
        json.dump(golden, f, separators=(",", ":"))
        f.write("\n")
    np.concatenate(arrays).astype("<f4").tofile(os.path.join(OUT, "token2wav_golden.bin"))
    print("wrote", FOLDER, "and token2wav_golden.{json,bin}:", {k: v["shape"] for k, v in index.items()})


if __name__ == "__main__":
    main()
