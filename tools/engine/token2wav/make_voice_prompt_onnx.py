#!/usr/bin/python3
"""Tiny stand-ins for the two ONNX graphs of the token2wav voice prompt, with PyTorch goldens.

The published token2wav folders (Step-Audio 2 mini `token2wav/`, CosyVoice 2) ship
`campplus.onnx` (3D-Speaker's CAM++ speaker encoder) and `speech_tokenizer_v2_25hz.onnx` (the S3
tokenizer v2). Neither can be downloaded here, so this tool writes our own small torch modules with
the same architecture and operators and exports them with torch.onnx.export, with the published
input/output names:

  campplus.onnx                   input "input" [1, T, 80] float (Kaldi fbank, mean-normalised over
                                  time) -> output "output" [1, 192]  (CosyVoice and Step-Audio 2 feed
                                  get_inputs()[0]; the TensorRT profiles in CosyVoice name it "input",
                                  min [1,4,80], opt [1,500,80], max [1,3000,80]). 3D-Speaker's exporter
                                  uses opset 11. Structure (speakerlab/models/campplus/DTDNN.py and
                                  layers.py): FCM head of 2-D convolutions + BatchNorm + ReLU with
                                  residual blocks (stride (2,1)), a TDNN (Conv1d k5 s2), CAM dense
                                  TDNN blocks (BN-ReLU-Conv1x1-BN-ReLU, then a dilated local Conv1d
                                  gated by sigmoid(Conv(ReLU(Conv(mean over time + 100-frame
                                  avg_pool1d segments, ceil_mode, expanded back))))), transit layers,
                                  statistics pooling (mean and unbiased std) and a dense Conv1x1 with an
                                  affine-free BatchNorm. The published graph has 3,206 nodes and 617
                                  initializers.
  speech_tokenizer_v2_25hz.onnx   inputs "feats" [1, 128, T] float (Whisper log-mel, 16 kHz) and
                                  "feats_length" [1] int32 -> output "indices" [1, 1, T/4] integer
                                  (tokens 0..6560). Structure (xingchensong/S3Tokenizer
                                  s3tokenizer/model_v2.py, which rebuilds it from the ONNX
                                  initializers): two Conv1d k3 stride 2 with GELU, 6 blocks of
                                  pre-LayerNorm FSMN attention (rotary q/k, head dim 64, a depthwise
                                  Conv1d k31 memory on v) + GELU MLP, then FSQ: Linear to 8, tanh,
                                  x 0.999, round, +1, sum of 3^i digits. Its initializer names
                                  (/blocks.N/attn/query/MatMul, .../Add_1 for LayerNorm bias) show
                                  Linear as MatMul+Add and LayerNorm decomposed (opset < 17); the
                                  published graph has 1,358 nodes and 102 initializers. Opset 13 here
                                  (ReduceSum with axes as an input, Softmax on the last axis).

The published opsets are not stated anywhere we could read; the interpreter accepts both the
attribute and the input forms of the operators whose signatures changed.

Also writes the front-end goldens: Kaldi fbank (torchaudio.compliance.kaldi.fbank's defaults as
CosyVoice calls it: 80 bins, 25/10 ms, povey window, preemphasis 0.97, DC removed, 512-point FFT,
power, 20 Hz..Nyquist, log with float epsilon floor, snip_edges, dither 0) written here in NumPy
from Kaldi's definition (torchaudio is not installed), the 128-bin Whisper log-mel (reusing
tools/whisper/reference.py), and CosyVoice's 24 kHz flow prompt mel (matcha mel_spectrogram:
n_fft 1920, hop 480, Hann 1920, reflect pad 720 each side, centre off, magnitude sqrt(p + 1e-9),
Slaney mel 0..8000 Hz, log(clamp(x, 1e-5))).

Run from the repository root:  /usr/bin/python3 tools/engine/token2wav/make_voice_prompt_onnx.py
        [--published-size DIR]   (also writes random graphs of the published sizes to DIR: 28 MB and
                                  496 MB, the sizes of the published files; then
                                  node tools/engine/token2wav/ort_reference.mjs DIR gives
                                  onnxruntime's outputs for the disabled *PublishedSize* test)
Output: tests/engine/data/token2wav/. Deterministic (fixed seeds). Needs python3-torch (Debian).
Golden files use the CTEN format: b"CTEN", int32 dtype (1 float32, 7 int64), int32 rank,
int64 dims[rank], then the little-endian data.
"""
import argparse
import math
import os
import struct
import sys
import wave

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..")
OUT = os.path.join(ROOT, "tests", "engine", "data", "token2wav")
sys.path.insert(0, os.path.join(ROOT, "tools", "whisper"))
import reference as whisper_reference  # noqa: E402


def write_tensor(path, array):
    a = np.ascontiguousarray(array)
    if a.dtype.kind == "f":
        a, dtype = a.astype("<f4"), 1
    else:
        a, dtype = a.astype("<i8"), 7
    with open(path, "wb") as f:
        f.write(b"CTEN" + struct.pack("<ii", dtype, a.ndim))
        f.write(struct.pack("<%dq" % a.ndim, *a.shape))
        f.write(a.tobytes())


# ---------------------------------------------------------------------------------------------
# Front-end references (float64 NumPy).

def kaldi_fbank(wave16k, num_mel_bins=80, sample_rate=16000):
    """torchaudio.compliance.kaldi.fbank(w[None], num_mel_bins=80, dither=0, sample_frequency=16000)."""
    w = np.asarray(wave16k, dtype=np.float64)
    frame_len, shift, n_fft = 400, 160, 512
    n_frames = 1 + (len(w) - frame_len) // shift  # snip_edges
    idx = np.arange(frame_len)[None, :] + shift * np.arange(n_frames)[:, None]
    frames = w[idx]
    frames = frames - frames.mean(axis=1, keepdims=True)  # remove_dc_offset
    prev = np.concatenate([frames[:, :1], frames[:, :-1]], axis=1)  # preemphasis, first sample x[0]
    frames = frames - 0.97 * prev
    n = np.arange(frame_len)
    povey = (0.5 - 0.5 * np.cos(2 * np.pi * n / (frame_len - 1))) ** 0.85
    frames = frames * povey
    power = np.abs(np.fft.rfft(frames, n=n_fft, axis=1)) ** 2  # [frames, 257]
    # Kaldi mel banks: HTK mel scale (1127 ln(1 + f/700)), triangles in mel, 20 Hz .. Nyquist,
    # over the first n_fft/2 bins (the Nyquist bin gets weight 0).
    def mel(f):
        return 1127.0 * np.log(1.0 + f / 700.0)
    low, high = 20.0, sample_rate / 2.0
    mel_low, mel_high = mel(low), mel(high)
    delta = (mel_high - mel_low) / (num_mel_bins + 1)
    bin_mel = mel(np.arange(n_fft // 2) * sample_rate / n_fft)
    banks = np.zeros((num_mel_bins, n_fft // 2 + 1))
    for m in range(num_mel_bins):
        left, center, right = mel_low + m * delta, mel_low + (m + 1) * delta, mel_low + (m + 2) * delta
        up = (bin_mel - left) / (center - left)
        down = (right - bin_mel) / (right - center)
        banks[m, :n_fft // 2] = np.maximum(0.0, np.minimum(up, down))
    energies = power @ banks.T
    eps = np.finfo(np.float32).eps
    return np.log(np.maximum(energies, eps))  # [frames, 80]


def slaney_filters(n_mels, sr, n_fft, fmin, fmax):
    fft_freqs = np.linspace(0.0, sr / 2.0, 1 + n_fft // 2)
    mel_pts = np.linspace(whisper_reference.hz_to_mel_slaney(fmin), whisper_reference.hz_to_mel_slaney(fmax), n_mels + 2)
    hz_pts = whisper_reference.mel_to_hz_slaney(mel_pts)
    fdiff = np.diff(hz_pts)
    ramps = hz_pts[:, None] - fft_freqs[None, :]
    weights = np.zeros((n_mels, len(fft_freqs)))
    for i in range(n_mels):
        weights[i] = np.maximum(0.0, np.minimum(-ramps[i] / fdiff[i], ramps[i + 2] / fdiff[i + 1]))
    return weights * (2.0 / (hz_pts[2:n_mels + 2] - hz_pts[:n_mels]))[:, None]


def prompt_mel(wave24k):
    """CosyVoice's mel_spectrogram(y, 1920, 80, 24000, 480, 1920, 0, 8000, center=False): [80, frames]."""
    n_fft, hop = 1920, 480
    pad = (n_fft - hop) // 2
    y = np.pad(np.asarray(wave24k, dtype=np.float64), (pad, pad), mode="reflect")
    n_frames = 1 + (len(y) - n_fft) // hop
    idx = np.arange(n_fft)[None, :] + hop * np.arange(n_frames)[:, None]
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)  # torch.hann_window (periodic)
    spec = np.fft.rfft(y[idx] * window, axis=1)
    mag = np.sqrt(np.abs(spec) ** 2 + 1e-9)
    mel = slaney_filters(80, 24000, n_fft, 0.0, 8000.0) @ mag.T
    return np.log(np.maximum(mel, 1e-5))


# ---------------------------------------------------------------------------------------------
# Tiny CAM++ (our own code after the architecture in 3D-Speaker's DTDNN.py / layers.py).

def bn_relu(channels, dims=1):
    bn = nn.BatchNorm1d(channels) if dims == 1 else nn.BatchNorm2d(channels)
    return nn.Sequential(bn, nn.ReLU())


class ResBlock2d(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=(stride, 1), padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=(stride, 1), bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out)) + self.shortcut(x)
        return F.relu(out)


class Head(nn.Module):
    def __init__(self, m, feat_dim=80):
        super().__init__()
        self.conv1 = nn.Conv2d(1, m, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(m)
        self.layer1 = nn.Sequential(ResBlock2d(m, m, 2), ResBlock2d(m, m, 1))
        self.layer2 = nn.Sequential(ResBlock2d(m, m, 2), ResBlock2d(m, m, 1))
        self.conv2 = nn.Conv2d(m, m, 3, stride=(2, 1), padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(m)
        self.out_channels = m * (feat_dim // 8)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x.unsqueeze(1))))
        out = self.layer2(self.layer1(out))
        out = F.relu(self.bn2(self.conv2(out)))
        s = out.shape
        return out.reshape(s[0], s[1] * s[2], s[3])


class CamLayer(nn.Module):
    def __init__(self, bn_channels, out_channels, kernel, dilation):
        super().__init__()
        self.linear_local = nn.Conv1d(bn_channels, out_channels, kernel, padding=(kernel - 1) // 2 * dilation,
                                      dilation=dilation, bias=False)
        self.linear1 = nn.Conv1d(bn_channels, bn_channels // 2, 1)
        self.linear2 = nn.Conv1d(bn_channels // 2, out_channels, 1)

    def forward(self, x):
        y = self.linear_local(x)
        seg = F.avg_pool1d(x, kernel_size=100, stride=100, ceil_mode=True)
        s = seg.shape
        seg = seg.unsqueeze(-1).expand(*s, 100).reshape(*s[:-1], -1)[..., :x.shape[-1]]
        context = x.mean(-1, keepdim=True) + seg
        m = torch.sigmoid(self.linear2(F.relu(self.linear1(context))))
        return y * m


class CamDenseLayer(nn.Module):
    def __init__(self, cin, cout, bn_channels, kernel, dilation):
        super().__init__()
        self.nonlinear1 = bn_relu(cin)
        self.linear1 = nn.Conv1d(cin, bn_channels, 1, bias=False)
        self.nonlinear2 = bn_relu(bn_channels)
        self.cam_layer = CamLayer(bn_channels, cout, kernel, dilation)

    def forward(self, x):
        return self.cam_layer(self.nonlinear2(self.linear1(self.nonlinear1(x))))


class TinyCampPlus(nn.Module):
    def __init__(self, m=4, init_channels=16, growth=8, bn_size=2, layers=(2, 2, 2), embedding=192):
        super().__init__()
        self.head = Head(m)
        ch = self.head.out_channels
        self.tdnn = nn.Conv1d(ch, init_channels, 5, stride=2, padding=2, bias=False)
        self.tdnn_nl = bn_relu(init_channels)
        ch = init_channels
        self.blocks = nn.ModuleList()
        self.transits = nn.ModuleList()
        for n, dilation in zip(layers, (1, 2, 2)):
            block = nn.ModuleList([CamDenseLayer(ch + i * growth, growth, bn_size * growth, 3, dilation) for i in range(n)])
            self.blocks.append(block)
            ch += n * growth
            self.transits.append(nn.Sequential(bn_relu(ch), nn.Conv1d(ch, ch // 2, 1, bias=False)))
            ch //= 2
        self.out_nonlinear = bn_relu(ch)
        self.dense = nn.Conv1d(ch * 2, embedding, 1, bias=False)
        self.dense_bn = nn.BatchNorm1d(embedding, affine=False)

    def forward(self, x):
        x = self.head(x.permute(0, 2, 1))
        x = self.tdnn_nl(self.tdnn(x))
        for block, transit in zip(self.blocks, self.transits):
            for layer in block:
                x = torch.cat([x, layer(x)], dim=1)
            x = transit(x)
        x = self.out_nonlinear(x)
        stats = torch.cat([x.mean(dim=-1), x.std(dim=-1, unbiased=True)], dim=-1)
        return self.dense_bn(self.dense(stats.unsqueeze(-1)).squeeze(-1))


# ---------------------------------------------------------------------------------------------
# Tiny S3 tokenizer v2 (our own code after the architecture S3Tokenizer's model_v2.py describes).

def rotary_tables(head_dim=64, length=2048, theta=10000.0):
    freqs = 1.0 / (theta ** (torch.arange(0, head_dim, 2)[: head_dim // 2].float() / head_dim))
    angles = torch.outer(torch.arange(length).float(), freqs)
    cos, sin = torch.cos(angles), torch.sin(angles)
    return torch.cat([cos, cos], dim=-1), torch.cat([sin, sin], dim=-1)  # [length, head_dim]


def rotate(x, cos, sin):
    half = x.shape[-1] // 2
    rotated = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
    return x * cos + rotated * sin


class FsmnAttention(nn.Module):
    def __init__(self, n_state, n_head, kernel=31):
        super().__init__()
        self.n_head = n_head
        self.query = nn.Linear(n_state, n_state)
        self.key = nn.Linear(n_state, n_state, bias=False)
        self.value = nn.Linear(n_state, n_state)
        self.out = nn.Linear(n_state, n_state)
        self.fsmn_block = nn.Conv1d(n_state, n_state, kernel, groups=n_state, bias=False)
        self.left, self.right = (kernel - 1) // 2, kernel - 1 - (kernel - 1) // 2

    def forward(self, x, bias, mask_pad, cos, sin):
        b, t, d = x.shape
        q = self.query(x).view(b, t, self.n_head, -1)
        k = self.key(x).view(b, t, self.n_head, -1)
        v = self.value(x).view(b, t, self.n_head, -1)
        q, k = rotate(q, cos, sin), rotate(k, cos, sin)
        memory_in = v.reshape(b, t, d) * mask_pad
        memory = self.fsmn_block(F.pad(memory_in.transpose(1, 2), (self.left, self.right))).transpose(1, 2)
        memory = (memory + memory_in) * mask_pad
        scale = (d // self.n_head) ** -0.25
        qk = (q.permute(0, 2, 1, 3) * scale) @ (k.permute(0, 2, 3, 1) * scale) + bias
        w = torch.softmax(qk, dim=-1)
        wv = (w @ v.permute(0, 2, 1, 3)).permute(0, 2, 1, 3).reshape(b, t, d)
        return self.out(wv) + memory


class Block(nn.Module):
    def __init__(self, n_state, n_head):
        super().__init__()
        self.attn = FsmnAttention(n_state, n_head)
        self.attn_ln = nn.LayerNorm(n_state, eps=1e-6)
        self.mlp = nn.Sequential(nn.Linear(n_state, 4 * n_state), nn.GELU(), nn.Linear(4 * n_state, n_state))
        self.mlp_ln = nn.LayerNorm(n_state)

    def forward(self, x, bias, mask_pad, cos, sin):
        x = x + self.attn(self.attn_ln(x), bias, mask_pad, cos, sin)
        return x + self.mlp(self.mlp_ln(x))


class TinyS3TokenizerV2(nn.Module):
    def __init__(self, n_mels=128, n_state=64, n_head=4, n_layer=2, max_tokens=256):
        super().__init__()
        self.conv1 = nn.Conv1d(n_mels, n_state, 3, stride=2, padding=1)
        self.conv2 = nn.Conv1d(n_state, n_state, 3, stride=2, padding=1)
        cos, sin = rotary_tables(n_state // n_head, max_tokens)  # published: head dim 64, 2048
        self.register_buffer("cos", cos)
        self.register_buffer("sin", sin)
        self.blocks = nn.ModuleList([Block(n_state, n_head) for _ in range(n_layer)])
        self.project_down = nn.Linear(n_state, 8)
        self.register_buffer("powers", torch.pow(3.0, torch.arange(8).float()))

    def forward(self, feats, feats_length):
        t_in = feats.shape[-1]
        x = F.gelu(self.conv1(feats))
        x = F.gelu(self.conv2(x)).permute(0, 2, 1)
        t = x.shape[1]
        # make_non_pad_mask, then the frames that survive the two stride-2 convolutions.
        positions = torch.arange(t_in, device=feats.device).unsqueeze(0)
        valid = positions < feats_length.to(torch.int64).unsqueeze(-1)
        valid = valid[:, (t_in + 1) % 2::2]
        valid = valid[:, (valid.shape[1] + 1) % 2::2]
        mask_pad = valid.unsqueeze(-1).to(x.dtype)              # [B, T, 1]
        bias = ((1.0 - valid.to(x.dtype)) * -1.0e10).unsqueeze(1).unsqueeze(1)  # [B, 1, 1, T]
        cos = self.cos[:t].unsqueeze(0).unsqueeze(2)
        sin = self.sin[:t].unsqueeze(0).unsqueeze(2)
        for block in self.blocks:
            x = block(x, bias, mask_pad, cos, sin)
        h = torch.tanh(self.project_down(x)) * 0.9990000128746033
        h = torch.round(h) + 1
        codes = torch.sum(h * self.powers, dim=-1)
        return codes.to(torch.int32).unsqueeze(1)  # [B, 1, T]


# ---------------------------------------------------------------------------------------------

def randomize_batchnorm(module, generator):
    for m in module.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=generator) * 0.2)
            m.running_var.copy_(torch.rand(m.running_var.shape, generator=generator) * 1.5 + 0.5)
            if m.affine:
                m.weight.data.copy_(torch.rand(m.weight.shape, generator=generator) + 0.5)
                m.bias.data.copy_(torch.randn(m.bias.shape, generator=generator) * 0.1)


def export_campplus(model, path, frames):
    dummy = torch.zeros(1, frames, 80)
    torch.onnx.export(model, (dummy,), path, opset_version=11, input_names=["input"], output_names=["output"],
                      dynamic_axes={"input": {0: "batch", 1: "frames"}, "output": {0: "batch"}})


def export_tokenizer(model, path, frames):
    torch.onnx.export(model, (torch.zeros(1, 128, frames), torch.tensor([frames], dtype=torch.int32)), path,
                      opset_version=13, input_names=["feats", "feats_length"], output_names=["indices"],
                      dynamic_axes={"feats": {0: "batch", 2: "frames"}, "feats_length": {0: "batch"},
                                    "indices": {0: "batch", 2: "tokens"}})


def op_types(model, args, opset, names):
    text = torch.onnx.export_to_pretty_string(model, args, opset_version=opset, input_names=names)
    ops = set()
    for line in text.splitlines():
        if 'Node {type: "' in line:
            ops.add(line.split('Node {type: "')[1].split('"')[0])
    return sorted(ops)


def read_clip(path, seconds):
    with wave.open(path, "rb") as w:
        rate, raw, ch = w.getframerate(), w.readframes(w.getnframes()), w.getnchannels()
    x = np.frombuffer(raw, dtype="<i2").astype(np.float64).reshape(-1, ch).mean(axis=1) / 32768.0
    if rate != 16000:
        raise SystemExit(f"{path}: need 16 kHz")
    return x[: int(seconds * 16000)]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--published-size", help="also write random graphs of the published sizes here")
    args = parser.parse_args()
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(20)
    g = torch.Generator().manual_seed(20)

    # Prompt audio: 3 s of a real clip at 16 kHz, and a 24 kHz copy (linear interpolation: any
    # signal will do, the 24 kHz samples are stored as they are).
    clip = read_clip(os.path.join(ROOT, "..", "shared", "data", "speech", "en_m_jfk.wav"), 3.0)
    clip = clip.astype(np.float32).astype(np.float64)
    t24 = np.arange(int(len(clip) * 1.5)) / 1.5
    clip24 = np.interp(t24, np.arange(len(clip)), clip).astype(np.float32).astype(np.float64)
    write_tensor(os.path.join(OUT, "prompt_16k.cten"), clip)
    write_tensor(os.path.join(OUT, "prompt_24k.cten"), clip24)

    fbank = kaldi_fbank(clip)
    fbank_cmn = fbank - fbank.mean(axis=0, keepdims=True)
    write_tensor(os.path.join(OUT, "fbank.cten"), fbank)              # [frames, 80]
    write_tensor(os.path.join(OUT, "fbank_cmn.cten"), fbank_cmn)
    logmel = whisper_reference.log_mel(clip, n_mels=128)                # [128, frames]
    write_tensor(os.path.join(OUT, "whisper_mel128.cten"), logmel)
    pmel = prompt_mel(clip24)                                          # [80, frames]
    write_tensor(os.path.join(OUT, "prompt_mel24k.cten"), pmel)

    campplus = TinyCampPlus()
    randomize_batchnorm(campplus, g)
    campplus.eval()
    tokenizer = TinyS3TokenizerV2()
    with torch.no_grad():
        for p in tokenizer.parameters():  # larger weights so the FSQ digits are not all 1
            p.mul_(2.0)
    tokenizer.eval()

    with torch.no_grad():
        cam_in = torch.from_numpy(fbank_cmn).float().unsqueeze(0)
        embedding = campplus(cam_in)
        tok_in = torch.from_numpy(logmel).float().unsqueeze(0)
        tok_len = torch.tensor([logmel.shape[1]], dtype=torch.int32)
        tokens = tokenizer(tok_in, tok_len)
        # A padded batch row: 40 trailing frames beyond feats_length must not change the rest.
        padded = torch.cat([tok_in, torch.zeros(1, 128, 40)], dim=-1)
        tokens_padded = tokenizer(padded, tok_len)

    export_campplus(campplus, os.path.join(OUT, "campplus_tiny.onnx"), cam_in.shape[1])
    export_tokenizer(tokenizer, os.path.join(OUT, "speech_tokenizer_v2_tiny.onnx"), tok_in.shape[2])
    write_tensor(os.path.join(OUT, "campplus_tiny.embedding.cten"), embedding.numpy().astype(np.float64))
    write_tensor(os.path.join(OUT, "speech_tokenizer_v2_tiny.tokens.cten"), tokens.numpy())
    write_tensor(os.path.join(OUT, "speech_tokenizer_v2_tiny.tokens_padded.cten"), tokens_padded.numpy())

    print("campplus ops (opset 11):", " ".join(op_types(campplus, (cam_in,), 11, ["input"])))
    print("tokenizer ops (opset 13):", " ".join(op_types(tokenizer, (tok_in, tok_len), 13, ["feats", "feats_length"])))
    print("embedding[:4]", embedding[0, :4].tolist(), "tokens", tokens.reshape(-1)[:16].tolist(),
          "distinct", len(set(tokens.reshape(-1).tolist())))

    if args.published_size:
        os.makedirs(args.published_size, exist_ok=True)
        big_cam = TinyCampPlus(m=32, init_channels=128, growth=32, bn_size=4, layers=(12, 24, 16))
        randomize_batchnorm(big_cam, g)
        export_campplus(big_cam.eval(), os.path.join(args.published_size, "campplus.onnx"), 500)
        big_tok = TinyS3TokenizerV2(n_state=1280, n_head=20, n_layer=6, max_tokens=2048).eval()
        export_tokenizer(big_tok, os.path.join(args.published_size, "speech_tokenizer_v2_25hz.onnx"), 500)


if __name__ == "__main__":
    main()
