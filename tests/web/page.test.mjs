// End to end: the page in Debian's Chromium against a real `cadence serve`. Chromium's fake
// microphone loops a Flite recording of "hello how are you today"; the page must connect, the
// server must recognise some of those words (shown in the user's transcript), a reply must stream
// back and play (the page's playback state counts samples the AudioWorklet actually played), and
// the screenshot goes to test-artifacts/web.png. CADENCE_BIN overrides the binary (default build/cadence).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import {
  ArtifactPath, BuildWeb, FreePort, LaunchBrowser, MakeSpeechWav, RemoveDir, TempDir, WaitFor, kRepo,
} from './harness.mjs';

const kBinary = process.env.CADENCE_BIN || join(kRepo, 'build', 'cadence');
const kSentence = 'hello how are you today';

let dir;
let server;
let server_log = '';
let browser;
let page;
let base_url;

async function StartServer(web_dir) {
  if (!existsSync(kBinary)) throw new Error(`${kBinary} is missing: run scripts/setup (or set CADENCE_BIN)`);
  const port = await FreePort();
  const child = spawn(kBinary, ['serve', '--no-auth', '--port', String(port), '--web-dir', web_dir],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  const keep = (chunk) => { server_log = (server_log + chunk.toString()).slice(-20000); };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const deadline = Date.now() + 30000;
  for (;;) {
    const done = await Promise.race([exited, new Promise((r) => setTimeout(() => r(null), 200))]);
    if (done) throw new Error(`cadence serve exited (code ${done.code}, signal ${done.signal}) before it answered:\n${server_log}`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/healthz`);
      if (res.ok) break;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) {
      child.kill('SIGTERM');
      throw new Error(`cadence serve did not answer /healthz within 30 s:\n${server_log}`);
    }
  }
  return { child, port, exited };
}

before(async () => {
  dir = TempDir('cadence-web-');
  // Chrome loops the file; 40 s of silence after the sentence leave the server time to transcribe
  // and answer before the sentence repeats and barges in (on a loaded 2-core machine ASR alone
  // has taken 10-20 s).
  // The lead-in silence covers the time from opening the microphone to the socket being open.
  const wav = MakeSpeechWav(dir, kSentence, { lead_s: 3, pad_s: 40 });
  server = await StartServer(BuildWeb());
  base_url = `http://127.0.0.1:${server.port}/`;
  browser = await LaunchBrowser(wav);
  page = await browser.context.newPage();
  page.on('pageerror', (e) => console.error(`page error: ${e.message}`));
});

after(async () => {
  if (page) await page.screenshot({ path: ArtifactPath('web.png') }).catch(() => {});
  await browser?.close();
  if (server) {
    server.child.kill('SIGTERM');
    const killer = setTimeout(() => server.child.kill('SIGKILL'), 5000);
    await server.exited;
    clearTimeout(killer);
  }
  if (dir) RemoveDir(dir);
});

test('the server serves the page with content types and caching headers', async () => {
  const index = await fetch(base_url);
  assert.equal(index.status, 200);
  assert.match(index.headers.get('content-type'), /^text\/html/);
  assert.match(index.headers.get('cache-control') || '', /no-cache|no-store|max-age=0/);
  const html = await index.text();
  const script = html.match(/src="\.\/(app\.[0-9a-f]{10}\.js)"/);
  assert.ok(script, 'index.html loads the fingerprinted app bundle');
  const js = await fetch(base_url + script[1]);
  assert.equal(js.status, 200);
  assert.match(js.headers.get('content-type'), /javascript/);
  assert.match(js.headers.get('cache-control') || '', /immutable|max-age=\d{6,}/);
});

test('talk to the real server: connect, speak, see the words, hear the reply', async (t) => {
  try {
    await Talk(t);
  } catch (e) {
    e.message += `\n--- cadence serve log (tail) ---\n${server_log.slice(-4000)}`;
    throw e;
  }
});

async function Talk(t) {
  await page.goto(base_url);
  await WaitFor(page, 'persona list', () => document.querySelectorAll('.persona').length >= 1);
  await page.click('#connect');
  await WaitFor(page, 'connection open', () => window.cadence.state === 'open', undefined, 15000);
  await WaitFor(page, 'session.updated', () => (window.cadence.received['session.updated'] || 0) > 0, undefined, 10000);
  const errors_at_start = await page.evaluate(() => window.cadence.errors);
  assert.deepEqual(errors_at_start, [], 'the session accepts the page\'s session.update');

  const transcript = await WaitFor(page, 'a user transcript with words',
    () => {
      const turn = window.cadence.transcripts.find((x) => x.role === 'user' && x.final && x.text.trim());
      return turn ? document.querySelector('.turn.user .text')?.textContent : null;
    }, undefined, 90000);
  const said = new Set(kSentence.split(' '));
  const heard = transcript.toLowerCase().match(/[a-z']+/g) || [];
  const matched = heard.filter((w) => said.has(w));
  t.diagnostic(`user transcript: "${transcript}" (${matched.length} of the spoken words)`);
  assert.ok(matched.length >= 2, `the transcript "${transcript}" holds fewer than 2 of "${kSentence}"`);

  // The reply to that sentence (not a greeting sent at connect): an assistant item after the
  // user's turn whose audio the playback worklet has actually played for at least 0.5 s.
  const reply = await WaitFor(page, 'reply audio played', () => {
    const answer = window.cadence.transcripts.find((x) => x.role === 'assistant' && x.after_commits > 0 &&
      window.cadence.playedMs(x.item_id) >= 500);
    return answer ? { item_id: answer.item_id, played_ms: window.cadence.playedMs(answer.item_id) } : null;
  }, undefined, 90000);
  const playback = await page.evaluate(() => window.cadence.playback);
  t.diagnostic(`reply ${reply.item_id}: ${reply.played_ms} ms played; in all ${playback.samplesPlayed} samples at 24 kHz from ${playback.chunksReceived} deltas`);
  const text = await WaitFor(page, 'the reply\'s transcript',
    (id) => window.cadence.transcripts.find((x) => x.role === 'assistant' && x.item_id === id && x.text.trim())?.text,
    reply.item_id, 30000);
  t.diagnostic(`assistant transcript: "${text}"`);
  await page.screenshot({ path: ArtifactPath('web.png') });
}
