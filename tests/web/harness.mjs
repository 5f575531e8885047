// Shared helpers for the browser tests (not a test file itself): speech WAV made at test time,
// Debian's Chromium through playwright-core with a fake microphone, free ports, polling.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
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
  execFileSync('sox', [raw, '-r', '48000', '-b', '16', '-c', '1', wav, 'pad', String(lead_s), String(pad_s)],
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
