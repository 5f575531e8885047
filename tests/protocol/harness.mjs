// Shared helpers for the black-box protocol tests (not a test file itself): start the built
// `cadence serve` on a free port, open the official `openai` realtime clients against it, make
// speech at test time with flite + sox, and wait for events with timeouts that explain themselves.
// CADENCE_BIN overrides the binary (default build/cadence).
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import OpenAI from 'openai';
import { OpenAIRealtimeWS } from 'openai/realtime/ws';
import { OpenAIRealtimeWS as BetaRealtimeWS } from 'openai/beta/realtime/ws';
import WebSocket from 'ws';

export const kRepo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const kBinary = process.env.CADENCE_BIN || join(kRepo, 'build', 'cadence');

export function TempDir(prefix) {
  return mkdtempSync(join(tmpdir(), prefix));
}

// Starts `cadence serve --port 0 ...` and resolves once it listens. `log` keeps the server's
// stderr (the tests read its log lines); stop() sends SIGTERM and resolves with the exit code.
export async function StartServer(args = ['--no-auth'], env = {}) {
  const child = spawn(kBinary, ['serve', '--port', '0', ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const server = { child, log: '', port: 0 };
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  server.exited = exited;
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`cadence serve did not start within 30 s:\n${server.log}`)), 30000);
    const onData = (chunk) => {
      server.log += chunk.toString();
      const m = server.log.match(/listening on http:\/\/[^:\s]+:(\d+)/);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    child.stderr.on('data', onData);
    child.stdout.on('data', (chunk) => { server.log += chunk.toString(); });
    child.on('error', (err) => { clearTimeout(timer); reject(new Error(`cannot run ${kBinary}: ${err.message} (build it first)`)); });
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`cadence serve exited (code ${code}, signal ${signal}) before listening:\n${server.log}`));
    });
  });
  server.port = port;
  server.base = `http://127.0.0.1:${port}`;
  server.ws_url = (model = 'step-2.5-realtime') => `ws://127.0.0.1:${port}/v1/realtime?model=${encodeURIComponent(model)}`;
  server.stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return exited;
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 8000);
    const result = await exited;
    clearTimeout(killer);
    return result;
  };
  return server;
}

// The official client forces wss:// on the URL it builds; connecting that socket over plain TCP
// keeps the client's own code path (headers, events) while talking to a ws:// server.
function PlainTcp(options) {
  return net.connect({ host: options.host, port: Number(options.port) });
}

// Opens the official GA (`openai/realtime/ws`) or beta (`openai/beta/realtime/ws`) client.
// Resolves once open; `events` records every server event in order.
export async function OpenRealtime(server, { beta = false, model = 'step-2.5-realtime', apiKey = 'sk-local' } = {}) {
  const client = new OpenAI({ apiKey, baseURL: `${server.base}/v1` });
  const Ctor = beta ? BetaRealtimeWS : OpenAIRealtimeWS;
  const rt = new Ctor({ model, options: { createConnection: PlainTcp } }, client);
  const session = new EventLog(rt);
  rt.on('error', (err) => session.errors.push(err));
  await new Promise((resolve, reject) => {
    rt.socket.once('open', resolve);
    rt.socket.once('error', reject);
    rt.socket.once('unexpected-response', (req, res) => reject(new Error(`upgrade refused: HTTP ${res.statusCode}`)));
  });
  return session;
}

// OpenRealtime, then session.update with `session` once session.created arrived; resolves after
// session.updated.
export async function OpenConfigured(server, session, options = {}) {
  const rt = await OpenRealtime(server, options);
  await rt.waitFor('session.created');
  rt.send({ type: 'session.update', session });
  await rt.waitFor('session.updated');
  return rt;
}

// Raw `ws` connection for frames the official client cannot send (malformed JSON, binary, oversized).
export async function OpenRaw(server, { model = 'step-2.5-realtime', headers = {}, protocols = undefined } = {}) {
  const socket = new WebSocket(server.ws_url(model), protocols, { headers, perMessageDeflate: false, maxPayload: 0 });
  const session = new EventLog(null, socket);
  await new Promise((resolve, reject) => {
    socket.once('open', resolve);
    socket.once('error', reject);
    socket.once('unexpected-response', (req, res) => {
      let body = '';
      res.on('data', (c) => { body += c; });
      res.on('end', () => {
        const err = new Error(`upgrade refused: HTTP ${res.statusCode} ${body}`);
        err.status = res.statusCode;
        err.body = body;
        reject(err);
      });
    });
  });
  return session;
}

// Records server events in order and lets a test await the next one that matches.
export class EventLog {
  constructor(rt, socket = null) {
    this.rt = rt;
    this.socket = socket || rt.socket;
    this.events = [];
    this.errors = [];
    this.waiters = [];
    this.closed = new Promise((resolve) => this.socket.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    this.socket.on('message', (data, is_binary) => {
      let event;
      try {
        event = JSON.parse(data.toString());
      } catch {
        event = { type: '<unparsable>', raw: data.toString().slice(0, 200) };
      }
      this.events.push(event);
      this.waiters = this.waiters.filter((w) => !w.check());
    });
  }

  send(event) {
    if (this.rt) this.rt.send(event);
    else this.socket.send(JSON.stringify(event));
  }

  sendRaw(data, options = {}) {
    this.socket.send(data, options);
  }

  types() {
    return this.events.map((e) => e.type);
  }

  // Resolves with the first event after index `from` for which match(event) holds (a type string
  // matches by type). Rejects after `timeout_ms` naming what was awaited and what arrived.
  waitFor(match, { from = 0, timeout_ms = 20000 } = {}) {
    const pred = typeof match === 'string' ? (e) => e.type === match : match;
    const label = typeof match === 'string' ? match : (match.label || 'matching event');
    return new Promise((resolve, reject) => {
      const waiter = {
        check: () => {
          for (let i = from; i < this.events.length; ++i) {
            if (pred(this.events[i])) {
              clearTimeout(waiter.timer);
              resolve(this.events[i]);
              return true;
            }
          }
          return false;
        },
      };
      if (waiter.check()) return;
      waiter.timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        const seen = this.events.slice(from).map((e) => e.type + (e.type === 'error' ? `(${e.error?.code}: ${e.error?.message})` : ''));
        reject(new Error(`timed out after ${timeout_ms} ms waiting for ${label}; events since #${from}: ${seen.join(', ') || '(none)'}`));
      }, timeout_ms);
      this.waiters.push(waiter);
    });
  }

  close() {
    try { this.socket.close(); } catch { /* already closed */ }
  }
}

// Speech made at test time: flite (voice slt) -> 24 kHz mono 16-bit little-endian PCM. `stretch`
// slows it (flite's duration_stretch), `volume` scales it (sox vol).
export function Speech(text, { rate_hz = 24000, lead_s = 0.3, tail_s = 0, stretch = 1, volume = 1 } = {}) {
  const dir = TempDir('cadence-speech-');
  try {
    const wav = join(dir, 'x.wav');
    const raw = join(dir, 'x.raw');
    execFileSync('flite', ['-voice', 'slt', '-t', text, '--setf', `duration_stretch=${stretch}`, '-o', wav], { stdio: 'pipe' });
    execFileSync('sox', ['-R', wav, '-r', String(rate_hz), '-c', '1', '-b', '16', '-e', 'signed-integer', '-t', 'raw', raw,
      'vol', String(volume), 'pad', String(lead_s), String(tail_s)], { stdio: 'pipe' });
    return readFileSync(raw);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function Silence(ms, rate_hz = 24000, bytes_per_sample = 2) {
  return Buffer.alloc(Math.round((rate_hz * ms) / 1000) * bytes_per_sample, bytes_per_sample === 1 ? 0xff : 0);
}

// Streams `pcm` as input_audio_buffer.append events of `chunk_ms`, paced at `speed` x real time
// (0: as fast as possible).
export async function StreamAudio(session, pcm, { chunk_ms = 40, speed = 4, rate_hz = 24000, bytes_per_sample = 2 } = {}) {
  const chunk_bytes = Math.round((rate_hz * chunk_ms) / 1000) * bytes_per_sample;
  for (let at = 0; at < pcm.length; at += chunk_bytes) {
    session.send({ type: 'input_audio_buffer.append', audio: pcm.subarray(at, at + chunk_bytes).toString('base64') });
    if (speed > 0) await Sleep(chunk_ms / speed);
  }
}

export function Sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// Decoded reply audio: the concatenated deltas of one response as Int16 samples.
export function ReplyAudio(events, response_id, delta_types = ['response.output_audio.delta', 'response.audio.delta']) {
  const parts = events.filter((e) => delta_types.includes(e.type) && (!response_id || e.response_id === response_id))
    .map((e) => Buffer.from(e.delta, 'base64'));
  const bytes = Buffer.concat(parts);
  return new Int16Array(bytes.buffer, bytes.byteOffset, Math.floor(bytes.length / 2));
}

// RMS in dBFS over the frames that are not silent, and the fraction of 20 ms frames with energy.
export function Loudness(samples, rate_hz = 24000) {
  const frame = Math.round(rate_hz / 50);
  let voiced = 0;
  let frames = 0;
  let sum = 0;
  let count = 0;
  for (let at = 0; at + frame <= samples.length; at += frame) {
    let e = 0;
    for (let i = at; i < at + frame; ++i) e += (samples[i] / 32768) ** 2;
    const rms = Math.sqrt(e / frame);
    ++frames;
    if (rms > 0.01) {
      ++voiced;
      sum += e;
      count += frame;
    }
  }
  return { voiced_fraction: frames ? voiced / frames : 0, rms_dbfs: count ? 10 * Math.log10(sum / count) : -Infinity };
}

// Word error count between two lowercase word lists (Levenshtein over words).
export function WordErrors(ref, hyp) {
  const r = ref.toLowerCase().replace(/[^a-z' ]/g, ' ').split(/\s+/).filter(Boolean);
  const h = hyp.toLowerCase().replace(/[^a-z' ]/g, ' ').split(/\s+/).filter(Boolean);
  const d = Array.from({ length: r.length + 1 }, (_, i) => [i, ...Array(h.length).fill(0)]);
  for (let j = 1; j <= h.length; ++j) d[0][j] = j;
  for (let i = 1; i <= r.length; ++i)
    for (let j = 1; j <= h.length; ++j)
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (r[i - 1] === h[j - 1] ? 0 : 1));
  return { errors: d[r.length][h.length], words: r.length };
}

// Resident memory of a process in KiB (Linux /proc).
export function RssKiB(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = status.match(/VmRSS:\s+(\d+)\s+kB/);
  return m ? Number(m[1]) : 0;
}

export function WriteKeys(lines) {
  const dir = TempDir('cadence-keys-');
  const path = join(dir, 'keys.txt');
  writeFileSync(path, lines.join('\n') + '\n');
  return path;
}
