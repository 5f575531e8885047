#!/usr/bin/python3
"""An independent float64 PyTorch reference of Step-Audio 2 mini's speech-in path (log-mel, Whisper-style
audio encoder, adaptor, chat template, Qwen2 LLM with the audio rows spliced in, greedy decoding),
run on the tiny checkpoint written by make_tiny_step_audio2.py.

Run from the repository root with Debian's python (torch + numpy):

  /usr/bin/python3 tools/engine/step_audio2/make_tiny_step_audio2.py && \
  /usr/bin/python3 tools/engine/step_audio2/step_audio2_reference.py

Writes (deterministic):
  tests/engine/data/step_audio2/clip.wav     16 kHz mono int16, 2.3 s: two chirps, a harmonic tone, noise
  tests/engine/data/step_audio2/golden.json  with
    mel          {n_mels, n_frames, data}: the log-mel of clip.wav, row-major [128][T]
    encoder      {n_tokens, width, data}: the adaptor output rows 0..n-1 (row-major [n][llm_dim])
    prompt_ids, audio_start_positions: the speech-to-speech prompt (system "You are a helpful
                 assistant.", human = [clip], assistant "<tts_start>" without <|EOT|>)
    last_logits  the logits at the last prompt position (vocab_size values)
    greedy_ids   24 argmax continuation ids (no stopping), split into greedy_text_ids (< <audio_start>)
                 and greedy_speech_tokens (id - <audio_0>, for ids >= <audio_0>); greedy_margins: the
                 top-1 minus top-2 logit at each step
    text_prompt_ids, text_greedy_ids: the text conversation (system, human "Give me a brief
                 introduction to the Great Wall.", assistant None) and its 12 greedy ids
    split_26s    per-piece mel frame counts and <audio_patch> counts of a 26-s signal
    token_ids    the ids of the named special tokens
Numbers are rounded to 7 significant digits (mel: 6).

What it implements (the published stepaudio2.py / utils.py / modeling_step_audio_2.py behaviour,
written here from the description, not copied):
  mel: pad 479 zeros at the end, torch.stft(n_fft 400, hop 160, periodic Hann, center, reflect), drop
    the last frame, |X|^2, Slaney mel filterbank (librosa.filters.mel(sr=16000, n_fft=400, n_mels=128),
    computed here in float64 with numpy), log10(max(., 1e-10)), max(x, max - 8), (x + 4) / 4.
    Audio longer than 25 s is cut into 25-s pieces, each its own mel and <audio_start> block.
  encoder(x [128, T], x_len = T - 2): gelu(conv1), gelu(conv2 stride 2) -> T2 = (T-1)//2+1 frames; key
    bias -1e10 where the mel-rate mask (arange(T) < x_len)[(T+1)%2::2] is false; + positional
    embedding; pre-LN blocks with Whisper attention (q and k scaled by head_dim^-0.25; key has no
    bias), exact-erf GELU MLP; AvgPool1d(2, 2); after_norm (LayerNorm eps 1e-5).
  adaptor: gelu(conv k3 s2 p1), linear2(relu(linear1)); the first n = compute_token_num(T) rows are used.
  LLM: embed_tokens(ids), rows s+1 .. s+n after each <audio_start> replaced by that piece's adaptor
    rows, Qwen2 decoder (the Qwen2 class of tools/engine/token2wav/cosyvoice_lm_reference.py, shared
    with the CosyVoice reference), untied lm_head.
  tokenizer: the byte-level BPE reference of cosyvoice_lm_reference.py (special tokens split out,
    Qwen2 pre-tokenizer, merges by rank), over this folder's vocab.json / merges.txt / added tokens.
Weights are read with this file's own safetensors parser (BF16 -> float64).
"""
import json
import math
import os
import struct
import sys
import wave

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
DATA = os.path.join(ROOT, "tests", "engine", "data", "step_audio2")
TINY = os.path.join(DATA, "tiny")
sys.path.insert(0, os.path.join(ROOT, "tools", "engine", "token2wav"))
sys.dont_write_bytecode = True
import cosyvoice_lm_reference as cv  # noqa: E402

SR = 16000
PIECE = SR * 25
DT = torch.float64
N_GREEDY, N_TEXT_GREEDY = 24, 12
NAMED = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|BOT|>", "<|EOT|>", "<audio_start>", "<audio_end>",
         "<audio_patch>", "<tts_start>", "<tts_end>", "<tts_pad>", "<audio_0>", "<audio_6561>"]

# ---------------------------------------------------------------- files


def read_safetensors_folder(folder):
    with open(os.path.join(folder, "model.safetensors.index.json")) as f:
        index = json.load(f)
    sd = {}
    for fname in sorted(set(index["weight_map"].values())):
        with open(os.path.join(folder, fname), "rb") as f:
            blob = f.read()
        (hlen,) = struct.unpack("<Q", blob[:8])
        header = json.loads(blob[8:8 + hlen].decode("utf-8"))
        base = 8 + hlen
        for name, info in header.items():
            if name == "__metadata__":
                continue
            assert info["dtype"] == "BF16", (name, info["dtype"])
            b, e = info["data_offsets"]
            u16 = np.frombuffer(blob, dtype="<u2", count=(e - b) // 2, offset=base + b)
            f32 = (u16.astype(np.uint32) << 16).view(np.float32)
            sd[name] = torch.from_numpy(f32.astype(np.float64).reshape(info["shape"]))
    assert set(sd) == set(index["weight_map"]), "index and shards disagree"
    assert index["metadata"]["total_size"] == sum(t.numel() * 2 for t in sd.values())
    return sd


def load_tokenizer(folder):
    with open(os.path.join(folder, "vocab.json"), encoding="utf-8") as f:
        vocab = json.load(f)
    with open(os.path.join(folder, "merges.txt"), encoding="utf-8") as f:
        merges = [l.rstrip("\n") for l in f if l.strip() and not l.startswith("#version")]
    with open(os.path.join(folder, "tokenizer_config.json"), encoding="utf-8") as f:
        added = json.load(f)["added_tokens_decoder"]
    order = sorted(added, key=int)
    assert [int(k) for k in order] == list(range(len(vocab), len(vocab) + len(order))), "added ids not consecutive"
    tok = cv.Tokenizer(vocab, merges, [added[k]["content"] for k in order])
    assert all(tok.added[added[k]["content"]] == int(k) for k in order)
    return tok


def make_clip(path, seconds=2.3):
    n = int(round(SR * seconds))
    t = np.arange(n) / SR
    rs = np.random.RandomState(1234)
    # a rising chirp 300 -> 1800 Hz over the first 1.2 s, a falling one 2500 -> 600 Hz after it,
    # a 220 Hz tone with 4 harmonics throughout (slow tremolo), and a little white noise.
    x = np.zeros(n)
    a = t < 1.2
    x[a] += 0.30 * np.sin(2 * np.pi * (300 * t[a] + 0.5 * (1500 / 1.2) * t[a] ** 2)) * np.sin(np.pi * t[a] / 1.2)
    b = (t >= 1.0) & (t < 2.2)
    tb = t[b] - 1.0
    x[b] += 0.25 * np.sin(2 * np.pi * (2500 * tb - 0.5 * (1900 / 1.2) * tb ** 2)) * np.sin(np.pi * tb / 1.2)
    for h in range(1, 5):
        x += (0.12 / h) * np.sin(2 * np.pi * 220 * h * t + h) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))
    x += 0.01 * rs.randn(n)
    pcm = np.clip(np.round(x * 32767), -32768, 32767).astype("<i2")
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SR)
        w.writeframes(pcm.tobytes())


def read_wav(path):
    with wave.open(path, "rb") as w:
        assert w.getnchannels() == 1 and w.getsampwidth() == 2 and w.getframerate() == SR
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    return torch.from_numpy(pcm.astype(np.float64) / 32768.0)

# ---------------------------------------------------------------- log-mel


def slaney_hz_to_mel(f):
    f = np.asarray(f, dtype=np.float64)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, math.log(6.4) / 27.0
    return np.where(f >= min_log_hz, min_log_mel + np.log(np.maximum(f, 1e-10) / min_log_hz) / logstep, f / f_sp)


def slaney_mel_to_hz(m):
    m = np.asarray(m, dtype=np.float64)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, math.log(6.4) / 27.0
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), f_sp * m)


def mel_filters(sr=SR, n_fft=400, n_mels=128):
    """librosa.filters.mel(sr, n_fft, n_mels) (fmin 0, fmax sr/2, Slaney scale, norm 'slaney')."""
    fft_freqs = np.linspace(0, sr / 2, 1 + n_fft // 2)
    mel_f = slaney_mel_to_hz(np.linspace(slaney_hz_to_mel(0.0), slaney_hz_to_mel(sr / 2), n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = mel_f[:, None] - fft_freqs[None, :]
    w = np.zeros((n_mels, len(fft_freqs)))
    for i in range(n_mels):
        lower = -ramps[i] / fdiff[i]
        upper = ramps[i + 2] / fdiff[i + 1]
        w[i] = np.maximum(0, np.minimum(lower, upper))
    w *= (2.0 / (mel_f[2:n_mels + 2] - mel_f[:n_mels]))[:, None]
    return torch.from_numpy(w)


def log_mel(audio, padding=479):
    x = F.pad(audio, (0, padding))
    window = torch.hann_window(400, periodic=True, dtype=DT)
    spec = torch.stft(x, 400, 160, window=window, center=True, pad_mode="reflect", return_complex=True)
    power = spec[:, :-1].abs() ** 2
    m = mel_filters() @ power
    lg = torch.clamp(m, min=1e-10).log10()
    lg = torch.maximum(lg, lg.max() - 8.0)
    return (lg + 4.0) / 4.0


def mel_frames(n_samples):
    return (n_samples + 479) // 160


def compute_token_num(T):
    enc = (T - 2 + 1) // 2 // 2
    return (enc + 2 * 1 - 3) // 2 + 1

# ---------------------------------------------------------------- encoder + adaptor


def layer_norm(x, w, b, eps=1e-5):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)
    return (x - mu) / torch.sqrt(var + eps) * w + b


def encoder(sd, cfg, mel, x_len, use_mask=True):
    """mel [n_mels, T] -> ([T2 // 2, n_state] after after_norm, encoder length)."""
    T = mel.shape[1]
    H = cfg["n_audio_head"]
    x = F.gelu(F.conv1d(mel[None], sd["encoder.conv1.weight"], sd["encoder.conv1.bias"], padding=1))
    x = F.gelu(F.conv1d(x, sd["encoder.conv2.weight"], sd["encoder.conv2.bias"], stride=2, padding=1))
    x = x[0].T  # [T2, S]
    T2, S = x.shape
    assert T2 == (T - 1) // 2 + 1
    keep = (torch.arange(T) < x_len)[(T + 1) % 2::2]
    assert keep.shape[0] == T2
    bias = (1.0 - keep.to(DT)) * -1e10 if use_mask else torch.zeros(T2, dtype=DT)
    x = x + sd["encoder.positional_embedding.weight"][:T2]
    hd = S // H
    scale = hd ** -0.25
    for i in range(cfg["n_audio_layer"]):
        p = "encoder.blocks.%d." % i
        h = layer_norm(x, sd[p + "attn_ln.weight"], sd[p + "attn_ln.bias"])
        q = h @ sd[p + "attn.query.weight"].T + sd[p + "attn.query.bias"]
        k = h @ sd[p + "attn.key.weight"].T
        v = h @ sd[p + "attn.value.weight"].T + sd[p + "attn.value.bias"]
        q = q.reshape(T2, H, hd).transpose(0, 1) * scale
        k = k.reshape(T2, H, hd).transpose(0, 1) * scale
        v = v.reshape(T2, H, hd).transpose(0, 1)
        w = torch.softmax(q @ k.transpose(1, 2) + bias[None, None, :], dim=-1)
        a = (w @ v).transpose(0, 1).reshape(T2, S)
        x = x + a @ sd[p + "attn.out.weight"].T + sd[p + "attn.out.bias"]
        h = layer_norm(x, sd[p + "mlp_ln.weight"], sd[p + "mlp_ln.bias"])
        h = F.gelu(h @ sd[p + "mlp.0.weight"].T + sd[p + "mlp.0.bias"])
        x = x + h @ sd[p + "mlp.2.weight"].T + sd[p + "mlp.2.bias"]
    n_pool = T2 // 2
    x = 0.5 * (x[0:2 * n_pool:2] + x[1:2 * n_pool:2])
    x = layer_norm(x, sd["encoder.after_norm.weight"], sd["encoder.after_norm.bias"])
    return x, (x_len + 1) // 2 // 2


def adaptor(sd, cfg, x):
    """[L, n_state] -> [(L + 2 - k) // stride + 1, llm_dim]."""
    y = F.conv1d(x.T[None], sd["adapter.conv.weight"], sd["adapter.conv.bias"], stride=cfg["adapter_stride"],
                 padding=1)
    y = F.gelu(y)[0].T
    y = torch.relu(y @ sd["adapter.linear1.weight"].T + sd["adapter.linear1.bias"])
    return y @ sd["adapter.linear2.weight"].T + sd["adapter.linear2.bias"]


def audio_rows(sd, cfg, mel):
    """The adaptor rows an <audio_start> block gets: [compute_token_num(T), llm_dim]."""
    T = mel.shape[1]
    enc, enc_len = encoder(sd, cfg, mel, T - 2)
    out = adaptor(sd, cfg, enc)
    n = (enc_len - 1) // 2 + 1
    assert n == compute_token_num(T) and out.shape[0] >= n, (n, compute_token_num(T), out.shape)
    return out[:n]

# ---------------------------------------------------------------- chat template + LLM


def chat_pieces(messages):
    """-> list of string pieces / id lists, and the mel of each audio piece, as StepAudio2.apply_chat_template."""
    pieces, mels = [], []
    for m in messages:
        role = "human" if m["role"] == "user" else m["role"]
        c = m["content"]
        if isinstance(c, str):
            pieces.append("<|BOT|>%s\n%s" % (role, c) + ("<|EOT|>" if m.get("eot", True) else ""))
        elif isinstance(c, list):
            pieces.append("<|BOT|>%s\n" % role)
            for item in c:
                if item["type"] == "text":
                    pieces.append(item["text"])
                elif item["type"] == "audio":
                    audio = item["audio"]
                    for i in range(0, audio.shape[0], PIECE):
                        mel = log_mel(audio[i:i + PIECE])
                        mels.append(mel)
                        pieces.append("<audio_start>" + "<audio_patch>" * compute_token_num(mel.shape[1])
                                      + "<audio_end>")
                elif item["type"] == "token":
                    pieces.append(list(item["token"]))
            if m.get("eot", True):
                pieces.append("<|EOT|>")
        elif c is None:
            pieces.append("<|BOT|>%s\n" % role)
        else:
            raise ValueError(c)
    return pieces, mels


def tokenize_pieces(tok, pieces):
    ids = []
    for p in pieces:
        ids.extend(p if isinstance(p, list) else tok.encode(p))
    return ids


class StepAudio2:
    def __init__(self, folder):
        with open(os.path.join(folder, "config.json")) as f:
            self.cfg = json.load(f)
        self.sd = read_safetensors_folder(folder)
        self.tok = load_tokenizer(folder)
        self.tcfg = self.cfg["text_config"]
        self.acfg = self.cfg["audio_encoder_config"]
        self.llm = cv.Qwen2(self.sd, self.tcfg, "model.", DT)
        self.lm_head = self.sd["lm_head.weight"]
        self.id = lambda t: self.tok.added[t]

    def prompt(self, messages):
        pieces, mels = chat_pieces(messages)
        ids = tokenize_pieces(self.tok, pieces)
        x = self.llm.embed[torch.tensor(ids)].clone()
        starts = [i for i, t in enumerate(ids) if t == self.id("<audio_start>")]
        assert len(starts) == len(mels)
        rows = []
        for s, mel in zip(starts, mels):
            r = audio_rows(self.sd, self.acfg, mel)
            n = r.shape[0]
            assert all(t == self.id("<audio_patch>") for t in ids[s + 1:s + 1 + n])
            assert ids[s + 1 + n] == self.id("<audio_end>")
            x[s + 1:s + 1 + n] = r
            rows.append(r)
        return ids, starts, x, mels, rows

    def greedy(self, x, n_steps):
        cache, out, margins, first = [], [], [], None
        for _ in range(n_steps):
            h = self.llm.forward(x, cache)[-1]
            logits = h @ self.lm_head.T
            if first is None:
                first = logits.clone()
            top2 = torch.topk(logits, 2)
            margins.append(float(top2.values[0] - top2.values[1]))
            t = int(top2.indices[0])
            out.append(t)
            x = self.llm.embed[t:t + 1]
        return out, first, margins

# ---------------------------------------------------------------- main


def r7(v):
    return [float("%.7g" % a) for a in v]


def main():
    os.makedirs(DATA, exist_ok=True)
    clip_path = os.path.join(DATA, "clip.wav")
    make_clip(clip_path)
    audio = read_wav(clip_path)
    m = StepAudio2(TINY)
    ids_named = {t: m.id(t) for t in NAMED}
    a_start, a0 = ids_named["<audio_start>"], ids_named["<audio_0>"]

    # --- speech-to-speech prompt
    messages = [{"role": "system", "content": "You are a helpful assistant."},
                {"role": "human", "content": [{"type": "audio", "audio": audio}]},
                {"role": "assistant", "content": "<tts_start>", "eot": False}]
    ids, starts, x, mels, rows = m.prompt(messages)
    mel, enc = mels[0], rows[0]
    T, n = mel.shape[1], enc.shape[0]
    greedy, last_logits, margins = m.greedy(x, N_GREEDY)

    # --- self-checks
    assert T == mel_frames(audio.shape[0]), (T, mel_frames(audio.shape[0]))
    assert n == compute_token_num(T) == ids.count(ids_named["<audio_patch>"])
    e_mask, _ = encoder(m.sd, m.acfg, mel, T - 2)
    e_nomask, _ = encoder(m.sd, m.acfg, mel, T - 2, use_mask=False)
    mask_effect = float((e_mask - e_nomask).abs().max())
    assert mask_effect > 1e-6, "the key mask has no effect"
    # Filterbank sanity: librosa's Slaney filters are triangles whose peak is 2 / (f[i+2] - f[i]).
    fb = mel_filters()
    assert fb.shape == (128, 201) and bool((fb.sum(1) > 0).all())
    # The patch count formula against the encoder + adaptor shapes, odd and even T.
    gen = torch.Generator().manual_seed(3)
    for t_frames in range(9, 40):
        audio_rows(m.sd, m.acfg, torch.randn(128, t_frames, generator=gen, dtype=DT))
    assert len(greedy) == N_GREEDY
    text_ids = [t for t in greedy if t < a_start]
    speech = [t - a0 for t in greedy if t >= a0]

    # --- text conversation
    t_messages = [{"role": "system", "content": "You are a helpful assistant."},
                  {"role": "human", "content": "Give me a brief introduction to the Great Wall."},
                  {"role": "assistant", "content": None}]
    t_ids, _, t_x, _, _ = m.prompt(t_messages)
    t_greedy, _, t_margins = m.greedy(t_x, N_TEXT_GREEDY)

    # --- 26-s split arithmetic
    n26 = 26 * SR
    lens = [min(PIECE, n26 - i) for i in range(0, n26, PIECE)]
    split = {"n_samples": n26, "piece_samples": lens, "mel_frames": [mel_frames(l) for l in lens],
             "audio_patches": [compute_token_num(mel_frames(l)) for l in lens]}
    # check the frame formula against the real STFT on the short piece
    assert log_mel(torch.zeros(lens[-1], dtype=DT) + 1e-3).shape[1] == split["mel_frames"][-1]

    golden = {
        "config": m.cfg,
        "clip": {"path": "clip.wav", "n_samples": int(audio.shape[0]), "sample_rate": SR},
        "mel": {"n_mels": 128, "n_frames": T, "data": [float("%.6g" % v) for v in mel.reshape(-1).tolist()]},
        "encoder": {"n_tokens": n, "width": enc.shape[1], "data": r7(enc.reshape(-1).tolist())},
        "prompt_ids": ids, "audio_start_positions": starts,
        "last_logits": r7(last_logits.tolist()),
        "greedy_ids": greedy, "greedy_text_ids": text_ids, "greedy_speech_tokens": speech,
        "greedy_margins": r7(margins),
        "text_prompt_ids": t_ids, "text_greedy_ids": t_greedy, "text_greedy_margins": r7(t_margins),
        "split_26s": split,
        "token_ids": ids_named,
    }
    with open(os.path.join(DATA, "golden.json"), "w", encoding="utf-8") as f:
        json.dump(golden, f, separators=(",", ":"))

    print("clip: %d samples; mel T = %d (range %.3f .. %.3f); encoder+adaptor rows n = %d (|x| max %.3f)"
          % (audio.shape[0], T, float(mel.min()), float(mel.max()), n, float(enc.abs().max())))
    print("key mask effect on the encoder output: max |diff| %.4g" % mask_effect)
    print("prompt: %d ids, <audio_start> at %s; last logits max %.4f" % (len(ids), starts, float(last_logits.max())))
    print("greedy (%d): %s" % (len(greedy), greedy))
    print("  %d text ids %s, %d speech tokens %s, other %d; min top-2 margin %.4g"
          % (len(text_ids), text_ids, len(speech), speech, len(greedy) - len(text_ids) - len(speech), min(margins)))
    print("text prompt: %d ids; greedy %s (min margin %.4g)" % (len(t_ids), t_greedy, min(t_margins)))
    print("26 s: %s" % split)
    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(DATA) for f in fs)
    print("wrote %s (%d bytes in the folder)" % (DATA, total))


if __name__ == "__main__":
    main()
