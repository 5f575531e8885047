#!/usr/bin/python3
"""Independent NumPy reference for Whisper's log-mel front end, and fixture generator.

Implements, from the published definition (openai/whisper audio.py + librosa.filters.mel, Slaney
scale and Slaney area normalisation), the features Cadence's C++ front end must reproduce:
16 kHz audio, n_fft 400, hop 160, periodic Hann window, centred STFT with reflect padding and the
last frame dropped, power spectrum, mel filterbank, log10 with 1e-10 floor, clamp to max - 8,
then (x + 4) / 4. Pad-to-30-s mode zero-pads (or trims) the audio to 480000 samples first.

Uses only python3 + NumPy (Debian python3-numpy) and the stdlib wave module. Everything is float64.

Usage:
  /usr/bin/python3 tools/whisper/reference.py fixtures OUT_DIR CLIP_DIR
writes the fixtures tests/speech/whisper_mel_test.cc reads (format: see write_mel()).
"""
import os
import struct
import sys
import wave

import numpy as np

SAMPLE_RATE = 16000
N_FFT = 400
HOP = 160
N_SAMPLES_30S = 30 * SAMPLE_RATE


def read_wav_mono16k(path):
    with wave.open(path, "rb") as w:
        if w.getsampwidth() != 2 or w.getframerate() != SAMPLE_RATE:
            raise SystemExit(f"{path}: need 16-bit PCM at 16 kHz")
        raw = w.readframes(w.getnframes())
        ch = w.getnchannels()
    x = np.frombuffer(raw, dtype="<i2").astype(np.float64) / 32768.0
    return x.reshape(-1, ch).mean(axis=1)


def hz_to_mel_slaney(f):
    f = np.asarray(f, dtype=np.float64)
    f_sp = 200.0 / 3
    mels = f / f_sp
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = np.log(6.4) / 27.0
    return np.where(f >= min_log_hz,
                    min_log_mel + np.log(np.maximum(f, 1e-30) / min_log_hz) / logstep, mels)


def mel_to_hz_slaney(m):
    m = np.asarray(m, dtype=np.float64)
    f_sp = 200.0 / 3
    freqs = f_sp * m
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = np.log(6.4) / 27.0
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), freqs)


def mel_filters(n_mels, sr=SAMPLE_RATE, n_fft=N_FFT):
    """[n_mels, 1 + n_fft // 2] Slaney filterbank, as librosa.filters.mel(sr, n_fft, n_mels)."""
    fft_freqs = np.linspace(0.0, sr / 2.0, 1 + n_fft // 2)
    mel_pts = np.linspace(hz_to_mel_slaney(0.0), hz_to_mel_slaney(sr / 2.0), n_mels + 2)
    hz_pts = mel_to_hz_slaney(mel_pts)
    fdiff = np.diff(hz_pts)
    ramps = hz_pts[:, None] - fft_freqs[None, :]
    weights = np.zeros((n_mels, len(fft_freqs)))
    for i in range(n_mels):
        lower = -ramps[i] / fdiff[i]
        upper = ramps[i + 2] / fdiff[i + 1]
        weights[i] = np.maximum(0.0, np.minimum(lower, upper))
    enorm = 2.0 / (hz_pts[2:n_mels + 2] - hz_pts[:n_mels])
    return weights * enorm[:, None]


def log_mel(audio, n_mels=80, pad_to_30s=False):
    """[n_mels, n_frames] log-mel features, float64."""
    audio = np.asarray(audio, dtype=np.float64)
    if pad_to_30s:
        audio = audio[:N_SAMPLES_30S]
        audio = np.pad(audio, (0, N_SAMPLES_30S - len(audio)))
    padded = np.pad(audio, (N_FFT // 2, N_FFT // 2), mode="reflect")
    n_frames = 1 + (len(padded) - N_FFT) // HOP
    window = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(N_FFT) / N_FFT)  # periodic Hann
    idx = np.arange(N_FFT)[None, :] + HOP * np.arange(n_frames)[:, None]
    frames = padded[idx] * window[None, :]
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2  # [frames, 201]
    power = power[:-1]  # whisper drops the last STFT frame
    mel = mel_filters(n_mels) @ power.T  # [n_mels, frames]
    log_spec = np.log10(np.maximum(mel, 1e-10))
    log_spec = np.maximum(log_spec, log_spec.max() - 8.0)
    return (log_spec + 4.0) / 4.0


def write_mel(path, mel, stored_frames=None):
    """CMEL fixture: b"CMEL", int32 n_mels, int32 total_frames, int32 stored_frames, then
    float32 little-endian [n_mels][stored_frames] (the first stored_frames columns)."""
    n_mels, total = mel.shape
    stored = total if stored_frames is None else min(stored_frames, total)
    with open(path, "wb") as f:
        f.write(b"CMEL")
        f.write(struct.pack("<iii", n_mels, total, stored))
        f.write(np.ascontiguousarray(mel[:, :stored]).astype("<f4").tobytes())


def write_filters(path, filters):
    with open(path, "wb") as f:
        f.write(b"CMFB")
        f.write(struct.pack("<ii", *filters.shape))
        f.write(filters.astype("<f4").tobytes())


def fixtures(out_dir, clip_dir):
    os.makedirs(out_dir, exist_ok=True)
    en = read_wav_mono16k(os.path.join(clip_dir, "en_f_ljspeech_LJ002-0020.wav"))
    zh = read_wav_mono16k(os.path.join(clip_dir, "zh_aishell_BAC009S0724W0121.wav"))
    write_filters(os.path.join(out_dir, "mel_filters_80.bin"), mel_filters(80))
    write_filters(os.path.join(out_dir, "mel_filters_128.bin"), mel_filters(128))
    write_mel(os.path.join(out_dir, "mel80_en_ljspeech.bin"), log_mel(en, 80))
    write_mel(os.path.join(out_dir, "mel128_zh_aishell.bin"), log_mel(zh, 128))
    # 30 s padded: 3000 frames; store the first 300 (the clip plus silence); the rest is the
    # constant floor, which the test checks against the stored columns' minimum.
    write_mel(os.path.join(out_dir, "mel80_en_ljspeech_pad30.bin"), log_mel(en, 80, True), 300)
    for name in sorted(os.listdir(out_dir)):
        print(f"{name}: {os.path.getsize(os.path.join(out_dir, name))} bytes")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "fixtures":
        fixtures(sys.argv[2], sys.argv[3])
    else:
        raise SystemExit(__doc__)
