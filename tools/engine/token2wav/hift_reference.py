#!/usr/bin/python3
"""Cadence's own PyTorch reference of the HiFT vocoder (CosyVoice 2 / Step-Audio 2 `hift.pt`).

Written from reading the published architecture (CosyVoice `cosyvoice/hifigan/generator.py`,
`f0_predictor.py`, `examples/libritts/cosyvoice2/conf/cosyvoice2.yaml`; Step-Audio 2's
`flashcosyvoice/modules/hifigan.py` builds the same network with the same defaults), not copied:
same parameter names, same operations in the same order and precision (float32), so that a
checkpoint saved from the published model loads here and the other way round.

What it writes (default --out tests/engine/data/token2wav):
  hift-tiny-wg.pt      a tiny random HiFT state dict (base_channels 16, F0 cond_channels 16, all
                       else published: 80 mels, 3 upsamples [8, 5, 3], resblock kernels [3, 7, 11],
                       source resblock kernels [7, 7, 11], 8 harmonics, n_fft 16, hop 4, 24 kHz),
                       weight norm stored as `weight_g` / `weight_v` (torch.nn.utils.weight_norm)
  hift-tiny-param.pt   the same weights with weight norm stored as
                       `parametrizations.weight.original0` / `original1` (the newer form)
  hift-tiny.golden.json  config, the noise seeds, and an index of arrays in the .bin:
                       {"arrays": {name: {"offset": float index, "shape": [...]}}}
  hift-tiny.golden.bin   those arrays, raw little-endian float32, one after the other

Goldens (all float32, computed by this reference in float32 like the published inference):
  full.mel [T][80] (time-major), full.f0 [T], full.source [T*480], full.audio [T*480]: one
  `inference(mel)` call. chunkK.mel / chunkK.cache / chunkK.source / chunkK.audio: a streamed
  run the way CosyVoice 2's token2wav drives HiFT (each call's mel starts with the previous
  call's last 8 mel frames and `cache_source` is the previous call's last 8 * 480 source samples).

Randomness: SineGen2's Gaussian noise is taken from `test_normals(seed, n)` (a splitmix64 stream,
4 uniforms summed, exact in float64 so C++ reproduces every draw) instead of torch.randn; the seed
of each call is in the JSON. SineGen2's random initial phases (`rand_ini`) are added to sample 0
only, which the linear down-interpolation (source points 480 i + 239.5) never reads: they have no
effect on the output; `main` checks that (two different rand_ini give identical sources).

Run:   /usr/bin/python3 tools/engine/token2wav/hift_reference.py
       /usr/bin/python3 tools/engine/token2wav/hift_reference.py --published-shape /tmp/hift-published.pt
           (random weights with the published shapes, for benchmarks; about 80 MB)
       /usr/bin/python3 tools/engine/token2wav/hift_reference.py --bench /tmp/hift-published.pt \
           --seconds 10 --threads 1     (real-time factor of this reference on that checkpoint)
"""

import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

PUBLISHED = dict(
    in_channels=80, base_channels=512, nb_harmonics=8, sampling_rate=24000, nsf_alpha=0.1, nsf_sigma=0.003,
    nsf_voiced_threshold=10.0, upsample_rates=[8, 5, 3], upsample_kernel_sizes=[16, 11, 7], n_fft=16, hop_len=4,
    resblock_kernel_sizes=[3, 7, 11], resblock_dilation_sizes=[[1, 3, 5]] * 3,
    source_resblock_kernel_sizes=[7, 7, 11], source_resblock_dilation_sizes=[[1, 3, 5]] * 3,
    lrelu_slope=0.1, audio_limit=0.99, f0_cond_channels=512)

TINY = dict(PUBLISHED, base_channels=16, f0_cond_channels=16)


def wn(module):
    """Weight norm over every dim but 0, stored as weight_g / weight_v (torch 1.13's form)."""
    return nn.utils.weight_norm(module, name="weight", dim=0)


class Snake(nn.Module):
    """x + 1 / (alpha + 1e-9) * sin(alpha * x)^2, alpha per channel (linear scale)."""

    def __init__(self, channels):
        super().__init__()
        self.alpha = nn.Parameter(torch.ones(channels))

    def forward(self, x):  # [B, C, T]
        a = self.alpha[None, :, None]
        return x + (1.0 / (a + 1e-9)) * torch.sin(x * a).pow(2)


class ResBlock(nn.Module):
    """Three (Snake, dilated conv, Snake, conv) units with residuals; 'same' padding."""

    def __init__(self, channels, kernel, dilations):
        super().__init__()
        pad = lambda d: (kernel * d - d) // 2
        self.convs1 = nn.ModuleList(
            [wn(nn.Conv1d(channels, channels, kernel, 1, dilation=d, padding=pad(d))) for d in dilations])
        self.convs2 = nn.ModuleList(
            [wn(nn.Conv1d(channels, channels, kernel, 1, dilation=1, padding=pad(1))) for _ in dilations])
        self.activations1 = nn.ModuleList([Snake(channels) for _ in dilations])
        self.activations2 = nn.ModuleList([Snake(channels) for _ in dilations])

    def forward(self, x):
        for c1, c2, a1, a2 in zip(self.convs1, self.convs2, self.activations1, self.activations2):
            x = c2(a2(c1(a1(x)))) + x
        return x


class F0Predictor(nn.Module):
    """ConvRNNF0Predictor: 5 x (conv k3 p1, ELU), Linear to 1, abs. mel [B, 80, T] -> f0 [B, T]."""

    def __init__(self, in_channels, cond_channels):
        super().__init__()
        layers = []
        for i in range(5):
            layers += [wn(nn.Conv1d(in_channels if i == 0 else cond_channels, cond_channels, 3, padding=1)), nn.ELU()]
        self.condnet = nn.Sequential(*layers)
        self.classifier = nn.Linear(cond_channels, 1)

    def forward(self, mel):
        x = self.condnet(mel).transpose(1, 2)
        return torch.abs(self.classifier(x).squeeze(-1))


class SourceModule(nn.Module):
    """SourceModuleHnNSF with SineGen2 (used at 24 kHz), noise injected. f0_up [B, L, 1] -> [B, L, 1]."""

    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.l_linear = nn.Linear(cfg["nb_harmonics"] + 1, 1)

    def sine_gen(self, f0_up, normals, rand_ini):
        cfg = self.cfg
        scale = int(np.prod(cfg["upsample_rates"])) * cfg["hop_len"]
        harmonics = torch.FloatTensor([[list(range(1, cfg["nb_harmonics"] + 2))]])
        fn = torch.multiply(f0_up, harmonics)  # [B, L, H]
        rad = (fn / cfg["sampling_rate"]) % 1
        rad[:, 0, :] = rad[:, 0, :] + rand_ini  # sample 0 only (never read below)
        rad = F.interpolate(rad.transpose(1, 2), scale_factor=1 / np.int64(scale), mode="linear").transpose(1, 2)
        phase = torch.cumsum(rad, dim=1) * 2 * np.pi
        phase = F.interpolate(phase.transpose(1, 2) * scale, scale_factor=np.int64(scale), mode="linear").transpose(1, 2)
        sines = torch.sin(phase) * cfg["nsf_alpha"]
        uv = (f0_up > cfg["nsf_voiced_threshold"]).type(torch.float32)
        noise_amp = uv * cfg["nsf_sigma"] + (1 - uv) * cfg["nsf_alpha"] / 3
        noise = noise_amp * normals
        return sines * uv + noise

    def forward(self, f0_up, normals, rand_ini):
        return torch.tanh(self.l_linear(self.sine_gen(f0_up, normals, rand_ini)))


class HiFT(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        base, n_fft = cfg["base_channels"], cfg["n_fft"]
        self.m_source = SourceModule(cfg)
        self.conv_pre = wn(nn.Conv1d(cfg["in_channels"], base, 7, 1, padding=3))
        self.ups = nn.ModuleList()
        for i, (u, k) in enumerate(zip(cfg["upsample_rates"], cfg["upsample_kernel_sizes"])):
            self.ups.append(wn(nn.ConvTranspose1d(base // 2**i, base // 2**(i + 1), k, u, padding=(k - u) // 2)))
        self.source_downs = nn.ModuleList()
        self.source_resblocks = nn.ModuleList()
        rates = cfg["upsample_rates"]
        cum = np.cumprod([1] + rates[::-1][:-1])[::-1]
        for i, (u, k, d) in enumerate(zip(cum, cfg["source_resblock_kernel_sizes"],
                                          cfg["source_resblock_dilation_sizes"])):
            ch = base // 2**(i + 1)
            u = int(u)
            if u == 1:
                self.source_downs.append(nn.Conv1d(n_fft + 2, ch, 1, 1))
            else:
                self.source_downs.append(nn.Conv1d(n_fft + 2, ch, u * 2, u, padding=u // 2))
            self.source_resblocks.append(ResBlock(ch, k, d))
        self.resblocks = nn.ModuleList()
        for i in range(len(rates)):
            ch = base // 2**(i + 1)
            for k, d in zip(cfg["resblock_kernel_sizes"], cfg["resblock_dilation_sizes"]):
                self.resblocks.append(ResBlock(ch, k, d))
        self.conv_post = wn(nn.Conv1d(ch, n_fft + 2, 7, 1, padding=3))
        n = np.arange(n_fft)
        self.window = torch.from_numpy((0.5 - 0.5 * np.cos(2 * np.pi * n / n_fft)).astype(np.float32))
        self.f0_predictor = F0Predictor(cfg["in_channels"], cfg["f0_cond_channels"])

    def samples_per_frame(self):
        return int(np.prod(self.cfg["upsample_rates"])) * self.cfg["hop_len"]

    def source(self, f0, normals, rand_ini):
        """f0 [B, T] -> source [B, 1, L]; normals [B, L, H+1] standard normal draws."""
        f0_up = F.interpolate(f0[:, None], scale_factor=np.int64(self.samples_per_frame()), mode="nearest")
        return self.m_source(f0_up.transpose(1, 2), normals, rand_ini).transpose(1, 2)

    def decode(self, mel, s):
        cfg = self.cfg
        n_fft, hop = cfg["n_fft"], cfg["hop_len"]
        spec = torch.view_as_real(torch.stft(s.squeeze(1), n_fft, hop, n_fft, window=self.window, return_complex=True))
        s_stft = torch.cat([spec[..., 0], spec[..., 1]], dim=1)
        x = self.conv_pre(mel)
        k = len(cfg["resblock_kernel_sizes"])
        for i, up in enumerate(self.ups):
            x = up(F.leaky_relu(x, cfg["lrelu_slope"]))
            if i == len(self.ups) - 1:
                x = F.pad(x, (1, 0), mode="reflect")
            x = x + self.source_resblocks[i](self.source_downs[i](s_stft))
            xs = None
            for j in range(k):
                y = self.resblocks[i * k + j](x)
                xs = y if xs is None else xs + y
            x = xs / k
        x = self.conv_post(F.leaky_relu(x))  # default slope 0.01 here, as published
        magnitude = torch.clip(torch.exp(x[:, :n_fft // 2 + 1, :]), max=1e2)
        phase = torch.sin(x[:, n_fft // 2 + 1:, :])
        spec = torch.complex(magnitude * torch.cos(phase), magnitude * torch.sin(phase))
        audio = torch.istft(spec, n_fft, hop, n_fft, window=self.window)
        return torch.clamp(audio, -cfg["audio_limit"], cfg["audio_limit"])

    @torch.no_grad()
    def inference(self, mel, normals, cache_source=None, rand_ini=None):
        """The published HiFTGenerator.inference: mel [1, 80, T] -> (audio [1, L], source [1, 1, L])."""
        f0 = self.f0_predictor(mel)
        if rand_ini is None:
            rand_ini = torch.zeros(self.cfg["nb_harmonics"] + 1)
        s = self.source(f0, normals, rand_ini)
        if cache_source is not None and cache_source.shape[2] != 0:
            s[:, :, :cache_source.shape[2]] = cache_source
        return self.decode(mel, s), s, f0


def test_normals(seed, count):
    """count standard-ish normal draws: (u1 + u2 + u3 + u4 - 2) * sqrt(3), u from splitmix64."""
    i = np.arange(1, 4 * count + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = np.uint64(seed) + i * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    u = (z >> np.uint64(11)).astype(np.float64) * (1.0 / 9007199254740992.0)
    u = u.reshape(count, 4)
    n = (((u[:, 0] + u[:, 1]) + u[:, 2]) + u[:, 3] - 2.0) * 1.7320508075688772
    return n.astype(np.float32)


def randomize(model, seed):
    """Random weights that give a plausible signal: f0 mostly 0-400 Hz (some frames unvoiced),
    audio mostly inside the clamp."""
    g = torch.Generator().manual_seed(seed)
    for name, p in model.named_parameters():
        if name.endswith(".alpha"):
            p.data = 0.5 + torch.rand(p.shape, generator=g)
        elif name.endswith("weight_g"):
            p.data = 0.5 + 0.5 * torch.rand(p.shape, generator=g)
        elif name.endswith("bias"):
            p.data = 0.1 * torch.randn(p.shape, generator=g)
        else:
            p.data = torch.randn(p.shape, generator=g) / math.sqrt(max(1, p[0].numel()))
    with torch.no_grad():
        model.f0_predictor.classifier.weight.mul_(150.0 / math.sqrt(model.cfg["f0_cond_channels"]) * 4)
        model.f0_predictor.classifier.bias.fill_(15.0)
        model.conv_post.weight_g.mul_(0.6)
        model.conv_post.bias.add_(-1.0)


def state_dict_wg(model):
    return {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}


def state_dict_param(sd):
    out = {}
    for k, v in sd.items():
        if k.endswith(".weight_g"):
            k = k[:-len("weight_g")] + "parametrizations.weight.original0"
        elif k.endswith(".weight_v"):
            k = k[:-len("weight_v")] + "parametrizations.weight.original1"
        out[k] = v
    return out


class Golden:
    def __init__(self):
        self.arrays, self.chunks = {}, []

    def add(self, name, t):
        a = t.detach().numpy().astype("<f4") if isinstance(t, torch.Tensor) else np.asarray(t, dtype="<f4")
        self.arrays[name] = a

    def write(self, out_dir, meta):
        index, offset = {}, 0
        with open(os.path.join(out_dir, "hift-tiny.golden.bin"), "wb") as f:
            for name, a in self.arrays.items():
                index[name] = {"offset": offset, "shape": list(a.shape)}
                f.write(np.ascontiguousarray(a).tobytes())
                offset += a.size
        meta["arrays"] = index
        with open(os.path.join(out_dir, "hift-tiny.golden.json"), "w") as f:
            json.dump(meta, f, indent=1)
            f.write("\n")


def normals_for(model, seed, frames):
    h = model.cfg["nb_harmonics"] + 1
    return torch.from_numpy(test_normals(seed, frames * model.samples_per_frame() * h)).reshape(1, -1, h)


def write_goldens(out_dir):
    torch.manual_seed(0)
    model = HiFT(TINY)
    randomize(model, 1234)
    model.eval()
    os.makedirs(out_dir, exist_ok=True)
    sd = state_dict_wg(model)
    torch.save(sd, os.path.join(out_dir, "hift-tiny-wg.pt"))
    torch.save(state_dict_param(sd), os.path.join(out_dir, "hift-tiny-param.pt"))

    rng = np.random.default_rng(5)
    spf = model.samples_per_frame()
    golden = Golden()
    meta = {"config": TINY, "weights": ["hift-tiny-wg.pt", "hift-tiny-param.pt"], "noise": "test_normals(seed, n)"}

    # One call over 12 frames.
    frames = 12
    mel = torch.from_numpy(rng.normal(-4.0, 2.0, size=(1, 80, frames)).astype(np.float32))
    audio, source, f0 = model.inference(mel, normals_for(model, 101, frames))
    # rand_ini never reaches the output: a different one gives the same source bit for bit.
    _, source2, _ = model.inference(mel, normals_for(model, 101, frames), rand_ini=torch.rand(9))
    assert torch.equal(source, source2), "rand_ini changed the source"
    golden.add("full.mel", mel[0].T)
    golden.add("full.f0", f0[0])
    golden.add("full.source", source[0, 0])
    golden.add("full.audio", audio[0])
    meta["full"] = {"frames": frames, "seed": 101}
    print(f"f0 {f0[0].numpy().round(1)}", file=sys.stderr)
    print(f"audio max |x| {audio.abs().max().item():.3f}, rms {audio.pow(2).mean().sqrt().item():.3f}, "
          f"clipped {(audio.abs() >= 0.99).float().mean().item():.3f}", file=sys.stderr)

    # Streamed: CosyVoice 2's hift cache (mel_cache_len 8 frames, source_cache_len 8 * 480).
    cache_frames = 8
    new_frames = [10, 7, 5]
    total = sum(new_frames)
    stream_mel = torch.from_numpy(rng.normal(-4.0, 2.0, size=(1, 80, total)).astype(np.float32))
    golden.add("stream.mel", stream_mel[0].T)
    cache_mel, cache_source = torch.zeros(1, 80, 0), torch.zeros(1, 1, 0)
    start = 0
    meta["stream"] = {"cache_frames": cache_frames, "chunks": []}
    for k, n in enumerate(new_frames):
        mel_k = torch.cat([cache_mel, stream_mel[:, :, start:start + n]], dim=2)
        seed = 200 + k
        audio_k, source_k, _ = model.inference(mel_k, normals_for(model, seed, mel_k.shape[2]), cache_source)
        golden.add(f"stream{k}.source", source_k[0, 0])
        golden.add(f"stream{k}.audio", audio_k[0])
        meta["stream"]["chunks"].append({"new_frames": n, "frames": mel_k.shape[2], "seed": seed,
                                         "cache_samples": cache_source.shape[2]})
        cache_mel = mel_k[:, :, -cache_frames:]
        cache_source = source_k[:, :, -cache_frames * spf:]
        start += n
    golden.write(out_dir, meta)
    total_bytes = sum(os.path.getsize(os.path.join(out_dir, f)) for f in os.listdir(out_dir) if f.startswith("hift-"))
    print(f"wrote {out_dir} ({total_bytes} bytes)", file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--out", default=os.path.join(here, "..", "..", "..", "tests", "engine", "data", "token2wav"))
    ap.add_argument("--published-shape", metavar="PATH", help="write random published-shape weights to PATH")
    ap.add_argument("--bench", metavar="PATH", help="time inference of the hift.pt at PATH (published shapes)")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    if args.published_shape:
        model = HiFT(PUBLISHED)
        randomize(model, 99)
        torch.save(state_dict_wg(model), args.published_shape)
        print(f"wrote {args.published_shape}", file=sys.stderr)
        return
    if args.bench:
        torch.set_num_threads(args.threads)
        model = HiFT(PUBLISHED)
        model.load_state_dict(torch.load(args.bench))
        model.eval()
        frames = int(round(args.seconds * PUBLISHED["sampling_rate"] / model.samples_per_frame()))
        mel = torch.from_numpy(np.random.default_rng(1).normal(-4, 2, (1, 80, frames)).astype(np.float32))
        normals = torch.randn(1, frames * model.samples_per_frame(), PUBLISHED["nb_harmonics"] + 1)
        best, best_cpu = float("inf"), float("inf")
        for _ in range(args.runs):
            t0, c0 = time.perf_counter(), time.process_time()
            model.inference(mel, normals)
            best = min(best, time.perf_counter() - t0)
            best_cpu = min(best_cpu, time.process_time() - c0)
        audio_s = frames * model.samples_per_frame() / PUBLISHED["sampling_rate"]
        print(f"pytorch {torch.__version__} reference HiFT, published shapes, {audio_s:.1f} s of audio, "
              f"{args.threads} thread(s): best of {args.runs} {best:.3f} s, real-time factor {best / audio_s:.3f}; "
              f"least CPU time {best_cpu:.3f} s (RTF {best_cpu / audio_s:.3f})")
        return
    write_goldens(os.path.normpath(args.out))


if __name__ == "__main__":
    main()
