// Shared helpers for the browser tests (not a test file itself): speech WAV made at test time,
// Debian's Chromium through playwright-core with a fake microphone, free ports, polling.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

export const kRepo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const kChromium = process.env.CADENCE_CHROMIUM || '/usr/bin/chromium';
export const kArtifacts = join(kRepo, 'test-artifacts');

export function TempDir(prefix) {
  return mkdtempSync(join(tmpdir(), prefix));
}

// Builds web/dist so the test always serves the current sources.
export function BuildWeb() {
  execFileSync(process.execPath, [join(kRepo, 'web', 'build.mjs')], { stdio: 'pipe' });
  return join(kRepo, 'web', 'dist');
}

// Flite speech -> 48 kHz 16-bit mono, with silence before and after. Chrome loops the file as
// the fake microphone, so the trailing silence sets how long a reply can play before the
// sentence is spoken again.
export function MakeSpeechWav(dir, text, { lead_s = 0.5, pad_s = 4 } = {}) {
  for (const tool of ['flite', 'sox']) {
    try {
      execFileSync('which', [tool], { stdio: 'pipe' });
    } catch {
      throw new Error(`${tool} is not installed (apt-get install ${tool}); the browser test speaks through it`);
    }
  }
  const raw = join(dir, 'speech_raw.wav');
  const wav = join(dir, 'speech_48k.wav');
  execFileSync('flite', ['-voice', 'slt', '-t', text, '-o', raw], { stdio: 'pipe' });
  execFileSync('sox', ['-R', raw, '-r', '48000', '-b', '16', '-c', '1', wav, 'pad', String(lead_s), String(pad_s)],
    { stdio: 'pipe' });
  return wav;
}

export async function FreePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

export async function LaunchBrowser(wav_path) {
  if (!existsSync(kChromium)) throw new Error(`${kChromium} is missing: apt-get install chromium`);
  const profile = TempDir('cadence-chromium-');
  // A fresh, empty profile per run (playwright takes it as launchPersistentContext's directory).
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: kChromium,
    headless: true,
    viewport: { width: 1280, height: 800 },
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--use-fake-ui-for-media-stream',
      '--use-fake-device-for-media-stream', `--use-file-for-fake-audio-capture=${wav_path}`,
      '--autoplay-policy=no-user-gesture-required',
    ],
  });
  const close = async () => {
    await context.close().catch(() => {});
    rmSync(profile, { recursive: true, force: true });
  };
  return { context, close };
}

// Polls `fn` in the page until it returns a truthy value; the error names what was awaited and
// shows the page's hook state so a failure explains itself.
export async function WaitFor(page, what, fn, arg, timeout_ms = 20000) {
  const deadline = Date.now() + timeout_ms;
  for (;;) {
    const value = await page.evaluate(fn, arg).catch((e) => { throw new Error(`${what}: page error ${e.message}`); });
    if (value) return value;
    if (Date.now() > deadline) {
      // Counters and errors first: they explain most failures; transcripts last (they can be long).
      const state = await page.evaluate(() => {
        const c = window.cadence;
        return JSON.stringify({
          state: c.state, connections: c.connections, errors: c.errors, playback: c.playback, received: c.received,
          sent: c.sent, truncates: c.truncates, cues: c.cues, transcripts: c.transcripts.slice(-8),
        });
      }).catch(() => '(page gone)');
      throw new Error(`timed out after ${timeout_ms} ms waiting for ${what}; window.cadence = ${state.slice(0, 4000)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

export function ArtifactPath(name) {
  mkdirSync(kArtifacts, { recursive: true });
  return join(kArtifacts, name);
}

export function RemoveDir(dir) {
  rmSync(dir, { recursive: true, force: true });
}

// A TCP relay in front of the server that holds every WebSocket upgrade for `delay_ms` before
// passing it on (plain HTTP goes straight through): a slow handshake, as on a far or busy server,
// made deterministic. Resolves with {port, close()}.
export async function StartSlowUpgradeProxy(target_port, delay_ms) {
  const sockets = new Set();
  const server = createServer((client) => {
    sockets.add(client);
    client.once('close', () => sockets.delete(client));
    client.once('data', (first) => {
      client.pause();
      const upgrade = /^upgrade:\s*websocket/im.test(first.toString('latin1'));
      setTimeout(() => {
        const upstream = connect(target_port, '127.0.0.1', () => {
          upstream.write(first);
          client.pipe(upstream).pipe(client);
          client.resume();
        });
        sockets.add(upstream);
        upstream.once('close', () => { sockets.delete(upstream); client.destroy(); });
        upstream.on('error', () => client.destroy());
        client.on('error', () => upstream.destroy());
      }, upgrade ? delay_ms : 0);
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: server.address().port,
    close: () => new Promise((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}

// The input audio a page sent: the concatenated input_audio_buffer.append payloads of the
// frames Chromium reports (page.on('websocket') -> 'framesent'), as 24 kHz Int16 samples.
export function RecordSentAudio(page) {
  const chunks = [];
  page.on('websocket', (ws) => ws.on('framesent', (frame) => {
    if (typeof frame.payload !== 'string' || !frame.payload.includes('input_audio_buffer.append')) return;
    try {
      const event = JSON.parse(frame.payload);
      if (event.type === 'input_audio_buffer.append') chunks.push(Buffer.from(event.audio, 'base64'));
    } catch { /* not JSON: not ours */ }
  }));
  return () => {
    const bytes = Buffer.concat(chunks);
    return new Int16Array(bytes.buffer, bytes.byteOffset, bytes.length >> 1);
  };
}

// Where the first utterance sits in `samples` (Int16): from the first 10 ms frame whose RMS is
// above `threshold_dbfs` to the last one before `gap_ms` of quiet, in ms; its peak as a fraction
// of full scale.
export function SpeechSpan(samples, { rate_hz = 24000, threshold_dbfs = -35, gap_ms = 500 } = {}) {
  const frame = Math.round(rate_hz / 100);
  const threshold = 32768 * 10 ** (threshold_dbfs / 20);
  let first = -1;
  let last = -1;
  let peak = 0;
  for (let at = 0; at + frame <= samples.length; at += frame) {
    let energy = 0;
    for (let i = at; i < at + frame; i++) {
      energy += samples[i] * samples[i];
      peak = Math.max(peak, Math.abs(samples[i]));
    }
    if (Math.sqrt(energy / frame) >= threshold) {
      if (first < 0) first = at;
      last = at + frame;
    } else if (first >= 0 && at - last >= (gap_ms * rate_hz) / 1000) {
      break;
    }
  }
  const ms = (n) => (n < 0 ? -1 : Math.round((n * 1000) / rate_hz));
  return { start_ms: ms(first), end_ms: ms(last), peak: peak / 32768 };
}
