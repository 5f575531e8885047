// Black-box: text turns (modalities text, audio+text), GA vs beta names, and every bad input of
// issue 2 — each answered with an `error` event carrying the client's event_id while the session
// keeps working — plus a client that stops reading, which must not grow server memory.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { OpenRaw, OpenRealtime, ReplyAudio, RssKiB, Sleep, StartServer } from './harness.mjs';

function UserText(text) {
  return { type: 'conversation.item.create', item: { type: 'message', role: 'user', content: [{ type: 'input_text', text }] } };
}

describe('text turns', () => {
  let server;
  before(async () => { server = await StartServer(['--no-auth']); });
  after(async () => { assert.equal((await server.stop()).code, 0, server.log); });

  test('GA: output_modalities ["text"] gives output_text events only', async () => {
    const rt = await OpenRealtime(server, { model: 'gpt-realtime' });
    await rt.waitFor('session.created');
    rt.send(UserText('Hello, who are you?'));
    const added = await rt.waitFor('conversation.item.added');
    assert.equal(added.item.role, 'user');
    const from = rt.events.length;
    rt.send({ type: 'response.create', response: { output_modalities: ['text'] } });
    const done = await rt.waitFor('response.done', { from, timeout_ms: 20000 });
    assert.equal(done.response.status, 'completed');
    const types = rt.events.slice(from).map((e) => e.type);
    assert.ok(types.includes('response.output_text.delta'), types.join(', '));
    const text_done = rt.events.find((e, i) => i >= from && e.type === 'response.output_text.done');
    assert.ok(text_done.text.trim().length > 0);
    const deltas = rt.events.filter((e, i) => i >= from && e.type === 'response.output_text.delta').map((e) => e.delta).join('');
    assert.equal(deltas, text_done.text, 'deltas add up to the final text');
    assert.ok(!types.some((t) => t.includes('audio')), `no audio events: ${types.join(', ')}`);
    rt.close();
  });

  test('beta: modalities ["audio","text"] gives audio and its transcript', async () => {
    const rt = await OpenRealtime(server, { beta: true });
    await rt.waitFor('session.created');
    rt.send(UserText('你好，今天怎么样？'));
    await rt.waitFor('conversation.item.created');
    const from = rt.events.length;
    rt.send({ type: 'response.create', response: { modalities: ['audio', 'text'] } });
    const done = await rt.waitFor('response.done', { from, timeout_ms: 20000 });
    assert.equal(done.response.status, 'completed');
    const types = new Set(rt.events.slice(from).map((e) => e.type));
    for (const t of ['response.audio.delta', 'response.audio.done', 'response.audio_transcript.delta', 'response.audio_transcript.done'])
      assert.ok(types.has(t), `${t} missing: ${[...types].join(', ')}`);
    assert.ok(ReplyAudio(rt.events, done.response.id).length > 24000 * 0.3);
    rt.close();
  });
});

describe('bad input', () => {
  let server;
  before(async () => { server = await StartServer(['--no-auth', '--max-write-queue-kib', '1024']); });
  after(async () => { assert.equal((await server.stop()).code, 0, server.log); });

  // Sends `frame` and expects an error event naming `code` (a RegExp) and the given event_id.
  async function ExpectError(s, frame, { event_id, code, param } = {}) {
    const from = s.events.length;
    if (typeof frame === 'string' || Buffer.isBuffer(frame)) s.sendRaw(frame);
    else s.send(frame);
    const err = await s.waitFor('error', { from, timeout_ms: 5000 });
    assert.equal(err.error.event_id ?? null, event_id ?? null, JSON.stringify(err));
    for (const k of ['type', 'code', 'message']) assert.ok(typeof err.error[k] === 'string' && err.error[k], `${k} in ${JSON.stringify(err)}`);
    assert.ok('param' in err.error, `param in ${JSON.stringify(err)}`);
    if (code) assert.match(err.error.code, code, JSON.stringify(err));
    if (param) assert.equal(err.error.param, param, JSON.stringify(err));
    return err;
  }

  test('each bad event gets an error with the client event_id; the session keeps working', async () => {
    const s = await OpenRaw(server);
    await s.waitFor('session.created');
    s.send({ type: 'input_audio_buffer.append', event_id: 'evt_ok_1', audio: Buffer.alloc(24000).toString('base64') });

    // Even a frame that is not JSON gets its event_id back when one can be read from it.
    await ExpectError(s, '{"type": "session.update", "event_id": "evt_json", ', { event_id: 'evt_json', code: /json/ });
    await ExpectError(s, 'not json at all', { code: /json/ });
    await ExpectError(s, { type: 'no.such.event', event_id: 'evt_unknown' }, { event_id: 'evt_unknown' });
    await ExpectError(s, { event_id: 'evt_notype' }, { event_id: 'evt_notype' });
    await ExpectError(s, { type: 'input_audio_buffer.append', event_id: 'evt_noaudio' }, { event_id: 'evt_noaudio', param: 'audio' });
    await ExpectError(s, { type: 'input_audio_buffer.append', event_id: 'evt_b64', audio: 'not*base64!' }, { event_id: 'evt_b64' });
    await ExpectError(s, { type: 'input_audio_buffer.append', event_id: 'evt_odd', audio: Buffer.alloc(3).toString('base64') }, { event_id: 'evt_odd' });
    await ExpectError(s, { type: 'session.update', event_id: 'evt_voice', session: { voice: 'nonexistent-voice' } }, { event_id: 'evt_voice' });
    await ExpectError(s, { type: 'conversation.item.create', event_id: 'evt_item' }, { event_id: 'evt_item' });
    await ExpectError(s, { type: 'conversation.item.delete', event_id: 'evt_del', item_id: 'item_nope' }, { event_id: 'evt_del' });
    await ExpectError(s, Buffer.from([1, 2, 3]), { code: /frame/ });

    // A frame over the 15 MiB limit: dropped while it arrives, answered, session alive.
    const big = `{"event_id":"evt_big","type":"input_audio_buffer.append","audio":"${'A'.repeat(16 << 20)}"}`;
    await ExpectError(s, big, { event_id: 'evt_big', code: /frame_too_large/ });

    // Nothing accepted earlier is lost: the first 500 ms of audio is still in the buffer.
    const from = s.events.length;
    s.send({ type: 'input_audio_buffer.commit', event_id: 'evt_commit' });
    const committed = await s.waitFor((e) => e.type === 'input_audio_buffer.committed' || e.type === 'error', { from });
    assert.equal(committed.type, 'input_audio_buffer.committed', JSON.stringify(committed));
    s.close();
  });

  test('append beyond the input buffer limit is refused and earlier audio kept', async () => {
    const s = await OpenRaw(server);
    await s.waitFor('session.created');
    s.send({ type: 'session.update', session: { turn_detection: null } });
    await s.waitFor('session.updated');
    const second = Buffer.alloc(48000).toString('base64');  // 1 s of pcm16 silence
    // 15 MiB of decoded audio is ~327 s; send 330 s in 1 s events without waiting.
    for (let i = 0; i < 330; ++i) s.send({ type: 'input_audio_buffer.append', event_id: `evt_a${i}`, audio: second });
    const err = await s.waitFor('error', { timeout_ms: 20000 });
    assert.match(err.error.event_id, /^evt_a3[0-2]\d$/, JSON.stringify(err));
    // Every refused append is named; the last one too.
    await s.waitFor((e) => e.type === 'error' && e.error.event_id === 'evt_a329', { timeout_ms: 20000 });
    const from = s.events.length;
    s.send({ type: 'input_audio_buffer.commit' });
    const committed = await s.waitFor((e) => e.type === 'input_audio_buffer.committed' || e.type === 'error', { from, timeout_ms: 20000 });
    assert.equal(committed.type, 'input_audio_buffer.committed', JSON.stringify(committed));
    s.close();
  });

  test('a client that floods events without reading is slowed down, not dropped; server memory stays bounded', async () => {
    const s = await OpenRaw(server);
    await s.waitFor('session.created');
    const rss_before = RssKiB(server.child.pid);
    s.socket.pause();  // stop reading: the kernel buffers fill, then the server's queue
    // Each bad frame costs the server an error event (~300 bytes); 30k of them ~ 9 MiB unread.
    const kFlood = 30000;
    const bad = '{"type":"no.such.event","event_id":"evt_flood"}';
    let answered = 0;
    s.socket.on('message', () => { ++answered; });
    for (let sent = 0; sent < kFlood; sent += 2000) {
      for (let i = 0; i < 2000; ++i) s.sendRaw(bad);
      await Sleep(5);
    }
    await Sleep(2000);
    // Past half of its 1 MiB queue the server stopped reading this client: it holds a bounded
    // amount, and the client's own events wait on its side.
    const rss_after = RssKiB(server.child.pid);
    assert.ok(rss_after - rss_before < 64 * 1024, `server grew by ${rss_after - rss_before} KiB`);
    assert.doesNotMatch(server.log, /is not reading/);
    s.socket.resume();
    const deadline = Date.now() + 60000;
    while (answered < kFlood && Date.now() < deadline) await Sleep(100);
    assert.equal(answered, kFlood, 'an error for every flooded event');
    const from = s.events.length;
    s.send({ type: 'session.update', session: { type: 'realtime', instructions: 'after the flood' } });
    const updated = await s.waitFor('session.updated', { from, timeout_ms: 10000 });
    assert.equal(updated.session.instructions, 'after the flood');
    s.close();
  });
});
