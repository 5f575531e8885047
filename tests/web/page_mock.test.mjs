// The page in Debian's Chromium against tests/web/mock_realtime_server.mjs: fast, deterministic
// checks of the page's own behaviour that a real server makes slow or hard to trigger — 24 kHz
// upload rate, persona cards, cue panel, barge-in truncation, reconnect after a dropped socket,
// the Chinese UI. page.test.mjs runs the same page against the real `cadence serve`.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import {
  ArtifactPath, BuildWeb, FreePort, LaunchBrowser, MakeSpeechWav, RemoveDir, TempDir, WaitFor,
} from './harness.mjs';
import { StartMockServer } from './mock_realtime_server.mjs';

let dir;
let server;
let browser;
let page;

before(async () => {
  dir = TempDir('cadence-web-mock-');
  // 1.5 s of silence after the sentence: the mock's 2 s reply is still playing when the looped
  // sentence comes round again, which is the barge-in this test needs.
  const wav = MakeSpeechWav(dir, 'hello how are you today', { lead_s: 0.3, pad_s: 1.5 });
  server = await StartMockServer({ web_dir: BuildWeb(), port: await FreePort() });
  browser = await LaunchBrowser(wav);
  page = await browser.context.newPage();
  page.on('pageerror', (e) => console.error(`page error: ${e.message}`));
  await page.goto(server.url);
});

after(async () => {
  await browser?.close();
  await server?.close();
  if (dir) RemoveDir(dir);
});

test('persona cards come from GET /v1/personas with avatar, name and greeting', async () => {
  await WaitFor(page, 'persona cards', () => document.querySelectorAll('.persona').length === 3);
  const cards = await page.$$eval('.persona', (els) => els.map((el) => ({
    id: el.dataset.id, name: el.querySelector('.name').textContent,
    greeting: el.querySelector('.greeting')?.textContent || '', img: !!el.querySelector('img.avatar'),
  })));
  assert.equal(cards[1].name, 'Ada Lovelace');
  assert.ok(cards[1].img, 'Ada has an avatar data URL, so an <img> is shown');
  assert.equal(cards[2].name, '李白');
  assert.ok(!cards[2].img && cards[2].greeting.startsWith('举杯'));
  await page.click('.persona[data-id="ada"]');
  assert.equal(await page.evaluate(() => window.cadence.persona), 'ada');
});

test('connects, streams the microphone at 24 kHz, shows transcript and cues, plays the reply', async (t) => {
  await page.click('#connect');
  await WaitFor(page, 'connection open', () => window.cadence.state === 'open');
  assert.ok(server.stats.protocols[0].split(',').map((s) => s.trim()).includes('realtime'));
  // The page reports "open" when the socket opens; its session.update reaches the mock a moment later.
  for (let waited = 0; !server.stats.session_updates.length && waited < 5000; waited += 20)
    await new Promise((resolve) => setTimeout(resolve, 20));
  const update = server.stats.session_updates[0];
  assert.ok(update, 'the page sent no session.update within 5 s of opening');
  assert.equal(update.persona, 'ada');
  assert.equal(update.paralinguistics, true);
  assert.equal(update.audio.input.turn_detection.type, 'server_vad');

  await WaitFor(page, 'user transcript', () => window.cadence.transcripts.some((t) => t.role === 'user' && t.final));
  const user = await page.$eval('.turn.user .text', (el) => el.textContent);
  assert.match(user, /\(mock\) heard \d+ ms of sound/);
  // The sentence is about 1.3 s long: what the mock's VAD heard must be in that range.
  const heard_ms = Number(user.match(/heard (\d+)/)[1]);
  assert.ok(heard_ms > 700 && heard_ms < 2500, `mock VAD heard ${heard_ms} ms`);

  // Upload rate: pcm16 at 24 kHz is 48000 bytes per second of wall time (worklet blocks jitter).
  const seconds = (server.stats.last_append_ms - server.stats.first_append_ms) / 1000;
  const bytes_per_s = server.stats.append_bytes / seconds;
  t.diagnostic(`upload: ${bytes_per_s.toFixed(0)} bytes/s of pcm16 over ${seconds.toFixed(1)} s (24 kHz = 48000)`);
  assert.ok(seconds > 1 && Math.abs(bytes_per_s - 48000) < 48000 * 0.15, `${bytes_per_s.toFixed(0)} B/s over ${seconds} s`);

  await WaitFor(page, 'loudness cue', () => !!document.querySelector('.cue-loudness'));
  const loud = await page.$eval('.cue-loudness', (el) => el.textContent);
  assert.match(loud, /^-?\d+\.\d dB$/);

  await WaitFor(page, 'reply audio playing', () => window.cadence.playback.playing && window.cadence.playback.samplesPlayed > 2400);
  await WaitFor(page, 'assistant transcript', () => window.cadence.transcripts.some((t) => t.role === 'assistant' && t.text.startsWith('Mock reply')));
  await page.screenshot({ path: ArtifactPath('web-mock.png') });
});

test('barge-in stops playback at once and truncates to what was played', async (t) => {
  // The looped sentence comes back while the 2 s reply plays.
  await WaitFor(page, 'a truncate sent by the page', () => window.cadence.truncates.length > 0, undefined, 20000);
  const sent = await page.evaluate(() => window.cadence.truncates[0]);
  for (let i = 0; i < 50 && server.stats.truncates.length === 0; i++) await new Promise((r) => setTimeout(r, 100));
  const got = server.stats.truncates[0];
  assert.ok(got, 'the server received conversation.item.truncate');
  assert.equal(got.item_id, sent.item_id);
  assert.equal(got.content_index, 0);
  const reply = server.stats.responses.find((r) => r.item_id === got.item_id);
  assert.ok(reply, `the truncated item ${got.item_id} is a reply the mock streamed`);
  assert.equal(reply.status, 'cancelled');
  t.diagnostic(`barge-in: audio_end_ms ${got.audio_end_ms} of ${reply.sent_ms} ms sent`);
  // Heard some of it, not more than was sent, and not more than real time allows.
  assert.ok(got.audio_end_ms > 50 && got.audio_end_ms <= reply.sent_ms, `audio_end_ms ${got.audio_end_ms}, sent ${reply.sent_ms}`);
  assert.equal(sent.playingAfter, false, 'playback stopped at the barge-in');
  // Nothing more of the cut reply plays afterwards: its played time stays where it was cut.
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(await page.evaluate((id) => window.cadence.playedMs(id), got.item_id), got.audio_end_ms);
  const tagged = await page.$$eval('.turn.assistant .tag', (els) => els.length);
  assert.ok(tagged >= 1, 'the cut reply is marked interrupted');
});

test('reconnects after the connection drops and shows it', async () => {
  const before_count = server.stats.connections;
  server.dropAll();
  await WaitFor(page, 'reconnecting state', () => window.cadence.state !== 'open' || window.cadence.connections > 1);
  await WaitFor(page, 'connection open again', () => window.cadence.state === 'open' && window.cadence.connections >= 2);
  assert.equal(server.stats.connections, before_count + 1);
  const errors = await page.evaluate(() => window.cadence.errors);
  assert.ok(errors.some((e) => /connection closed/.test(e)), `errors shown: ${JSON.stringify(errors)}`);
  assert.equal(server.stats.session_updates.length >= 2, true, 'session re-configured after reconnect');
});

test('the UI switches to Chinese', async () => {
  await page.click('#lang');
  assert.equal(await page.$eval('#state-text', (el) => el.textContent), '已连接');
  assert.equal(await page.$eval('#connect', (el) => el.textContent), '断开');
  assert.equal(await page.evaluate(() => document.documentElement.lang), 'zh-CN');
  await page.screenshot({ path: ArtifactPath('web-mock-zh.png') });
  await page.click('#lang');
});

test('press to talk: holding the button streams audio, releasing commits and asks for a reply', async () => {
  await page.click('label:has(input[value="ptt"])');
  await WaitFor(page, 'turn detection off', () => window.cadence.lastSessionUpdate.audio.input.turn_detection === null);
  const last = server.stats.session_updates[server.stats.session_updates.length - 1];
  assert.equal(last.audio.input.turn_detection, null);
  const users_before = await page.evaluate(() => window.cadence.transcripts.filter((x) => x.role === 'user' && x.final).length);
  const commits_before = server.stats.commits || 0;
  const box = await page.locator('#talk').boundingBox();
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await page.mouse.down();
  await new Promise((r) => setTimeout(r, 1500));
  await page.mouse.up();
  await WaitFor(page, 'the held audio transcribed', (n) =>
    window.cadence.transcripts.filter((x) => x.role === 'user' && x.final).length > n, users_before);
  assert.equal(server.stats.commits, commits_before + 1);
  // What was held is what was sent, give or take a 20 ms worklet block and message latency.
  const held_ms = await page.evaluate(() => window.cadence.lastTalkMs);
  assert.ok(held_ms >= 1400, `held for ${held_ms} ms`);
  assert.ok(Math.abs(server.stats.committed_ms - held_ms) < 150, `${server.stats.committed_ms} ms committed, ${held_ms} ms held`);
  assert.ok((server.stats.received['response.create'] || 0) >= 1);
  const played_before = await page.evaluate(() => window.cadence.playback.samplesPlayed);
  await WaitFor(page, 'the reply to play', (n) => window.cadence.playback.samplesPlayed > n + 4800, played_before);
  await page.click('label:has(input[value="vad"])');
});

test('the microphone opens without automatic gain control unless Settings asks for it', async () => {
  assert.equal(await page.evaluate(() => window.cadence.micSettings?.autoGainControl), false);
  await page.click('#connect');  // disconnect: the setting applies when the microphone reopens
  await WaitFor(page, 'disconnected', () => window.cadence.state === 'closed');
  await page.click('.settings summary');
  await page.check('#agc');
  await page.click('#connect');
  await WaitFor(page, 'connection open', () => window.cadence.state === 'open');
  assert.equal(await page.evaluate(() => window.cadence.micSettings?.autoGainControl), true);
  assert.equal(await page.evaluate(() => localStorage.getItem('cadence.agc')), '1');
  await page.uncheck('#agc');
});
