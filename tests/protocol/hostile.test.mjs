// Hostile clients, failing upstreams and abandoned turns against the built `cadence serve`, as an
// attacker or an unlucky user meets it. Each test is one finding of issue 19: the input that
// crashed or degraded the server, and what the server must do instead (a precise error, a bound,
// a refusal), with the server still serving afterwards.
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { describe, test } from 'node:test';

import {
  OpenConfigured, OpenRaw, OpenRealtime, RssKiB, Silence, Sleep, Speech, StartServer, StreamAudio, WriteKeys,
} from './harness.mjs';

// The session still answers, and so does the server.
async function ExpectAlive(server, rt) {
  const from = rt.events.length;
  rt.send({ type: 'session.update', session: { type: 'realtime', instructions: 'still here' } });
  const updated = await rt.waitFor('session.updated', { from, timeout_ms: 5000 });
  assert.equal(updated.session.instructions, 'still here');
  const health = await fetch(`${server.base}/healthz`);
  assert.equal(health.status, 200);
}

// A local OpenAI-compatible endpoint; `handler(body, res)` answers one chat request.
async function FakeLlm(handler) {
  const llm = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => handler(JSON.parse(body), res));
  });
  await new Promise((resolve) => llm.listen(0, '127.0.0.1', resolve));
  llm.url = `http://127.0.0.1:${llm.address().port}/v1`;
  return llm;
}

function StreamText(res, text) {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  for (const piece of text.match(/.{1,40}/gs)) res.write(`data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: piece } }] })}\n\n`);
  res.end('data: [DONE]\n\n');
}

function LastUser(body) {
  const users = body.messages.filter((m) => m.role === 'user');
  return users.length ? String(users[users.length - 1].content) : '';
}

async function TextTurn(rt, text, { modalities = ['audio'], timeout_ms = 60000 } = {}) {
  rt.send({ type: 'conversation.item.create', item: { type: 'message', role: 'user', content: [{ type: 'input_text', text }] } });
  const from = rt.events.length;
  rt.send({ type: 'response.create', response: { output_modalities: modalities } });
  return { from, done: rt.waitFor('response.done', { from, timeout_ms }) };
}

// Sends an HTTP upgrade by hand; resolves with the status line and body of the answer.
function RawUpgrade(port, headers) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      const lines = ['GET /v1/realtime?model=step-2.5-realtime HTTP/1.1', 'Host: 127.0.0.1', 'Connection: Upgrade',
        'Upgrade: websocket', 'Sec-WebSocket-Version: 13'];
      for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
      socket.write(lines.join('\r\n') + '\r\n\r\n');
    });
    let data = '';
    socket.on('data', (c) => {
      data += c.toString();
      if (/\r\n\r\n/.test(data)) {
        const status = Number(data.split(' ')[1]);
        if (status === 101 || /\r\n\r\n[\s\S]*\}/.test(data)) {
          socket.destroy();
          resolve({ status, text: data });
        }
      }
    });
    socket.on('error', reject);
    socket.setTimeout(5000, () => { socket.destroy(); reject(new Error('no answer to the upgrade')); });
  });
}

describe('hostile clients', () => {
  test('deeply nested JSON in fields the session copies is refused, not a crash', async () => {
    const server = await StartServer(['--no-auth']);
    try {
      const rt = await OpenRaw(server);
      await rt.waitFor('session.created');
      const deep = '['.repeat(70000) + ']'.repeat(70000);  // ~140 KB
      const frames = [
        `{"type":"session.update","event_id":"evt_tools","session":{"tools":${deep}}}`,
        `{"type":"response.create","event_id":"evt_meta","response":{"metadata":{"k":${deep}}}}`,
        `{"type":"session.update","event_id":"evt_persona","session":{"persona":{"data":${deep}}}}`,
      ];
      for (const frame of frames) {
        const from = rt.events.length;
        rt.sendRaw(frame);
        const error = await rt.waitFor('error', { from });
        assert.equal(error.error.code, 'json_too_deep', JSON.stringify(error));
        assert.match(error.error.event_id, /^evt_/);
      }
      await ExpectAlive(server, rt);
      rt.close();
    } finally {
      assert.equal((await server.stop()).code, 0, server.log.slice(-2000));
    }
  });

  test('out-of-range numbers, huge quoted types and invalid UTF-8 get errors; log lines cannot be forged', async () => {
    const server = await StartServer(['--no-auth']);
    try {
      const rt = await OpenRaw(server);
      await rt.waitFor('session.created');
      let from = rt.events.length;
      rt.sendRaw('{"type":"session.update","event_id":"evt_inf","session":{"turn_detection":{"type":"server_vad","threshold":1e999}}}');
      let error = await rt.waitFor('error', { from });
      assert.equal(error.error.code, 'invalid_json');
      assert.equal(error.error.event_id, 'evt_inf');
      from = rt.events.length;
      rt.send({ type: 'x'.repeat(9 << 20) });
      error = await rt.waitFor('error', { from });
      assert.equal(error.error.code, 'unknown_event_type');
      assert.ok(JSON.stringify(error).length < 2048, `error of ${JSON.stringify(error).length} bytes`);
      from = rt.events.length;
      rt.send({ type: 'bogus\nERROR    server forged line' });
      await rt.waitFor('error', { from });
      await Sleep(100);
      assert.doesNotMatch(server.log, /\nERROR    server forged line/);
      assert.match(server.log, /bogus\\x0aERROR/);
      await ExpectAlive(server, rt);
      rt.close();
    } finally {
      assert.equal((await server.stop()).code, 0);
    }
  });

  test('an upstream error whose message is null, a number or an object fails the response, not the server', async () => {
    const shapes = [null, 42, { nested: [1, 2] }, true];
    let calls = 0;
    const llm = await FakeLlm((body, res) => {
      const message = shapes[calls++ % shapes.length];
      const text = JSON.stringify({ error: { message, code: 400 } });
      if (calls % 2) {
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end(text);
      } else {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.end(`data: ${text}\n\n`);
      }
    });
    const server = await StartServer(['--no-auth', '--llm-url', llm.url, '--llm-model', 'm']);
    try {
      const rt = await OpenRealtime(server);
      await rt.waitFor('session.created');
      for (let i = 0; i < shapes.length; ++i) {
        const { done } = await TextTurn(rt, `turn ${i}`, { modalities: ['text'] });
        const response = (await done).response;
        assert.equal(response.status, 'failed', JSON.stringify(response));
      }
      await ExpectAlive(server, rt);
      rt.close();
    } finally {
      assert.equal((await server.stop()).code, 0, server.log.slice(-2000));
      llm.close();
    }
  });

  test('turns abandoned right after speech_stopped are not recognized for nobody', async () => {
    const server = await StartServer(['--no-auth', '--asr-max-decoders', '4']);
    try {
      const speech = Speech('I would like a cup of coffee please', { lead_s: 0.3, tail_s: 0.8 });
      const rss_before = RssKiB(server.child.pid);
      const abandoned = [];
      for (let i = 0; i < 20; ++i) {
        const rt = await OpenConfigured(server, { type: 'realtime', audio: { input: { transcription: { model: 'whisper-1' } } } });
        await StreamAudio(rt, speech, { speed: 0 });
        const stopped = await rt.waitFor('input_audio_buffer.speech_stopped', { timeout_ms: 20000 });
        abandoned.push(stopped.item_id);
        rt.socket.terminate();  // gone without a close frame
      }
      await Sleep(3000);
      const recognized = abandoned.filter((id) => server.log.includes(`transcript id=`) && server.log.includes(`item=${id} audio_s`));
      assert.ok(recognized.length <= 4, `${recognized.length} of 20 abandoned turns were still recognized`);
      const rss_after = RssKiB(server.child.pid);
      // At most the 4 decoders allowed (~93 MiB each) beyond what the server held before.
      assert.ok(rss_after - rss_before < 600 * 1024, `RSS grew by ${Math.round((rss_after - rss_before) / 1024)} MiB`);
      // Another user is answered promptly.
      const rt = await OpenConfigured(server, { type: 'realtime' });
      await StreamAudio(rt, Buffer.concat([speech, Silence(600)]), { speed: 4 });
      const stopped = await rt.waitFor('input_audio_buffer.speech_stopped');
      const t0 = Date.now();
      await rt.waitFor('response.output_audio.delta', { timeout_ms: 20000 });
      assert.ok(Date.now() - t0 < 3000, `first audio after ${Date.now() - t0} ms`);
      assert.ok(stopped.item_id);
      rt.close();
    } finally {
      assert.equal((await server.stop()).code, 0, server.log.slice(-3000));
    }
  });

  test('manual commits cannot queue an hour of recognition', async () => {
    const server = await StartServer(['--no-auth']);
    try {
      const rt = await OpenConfigured(server, { type: 'realtime', audio: { input: { turn_detection: null } } });
      const minute = Silence(60000).toString('base64');
      const finished = (id) => rt.events.some((e) => e.item_id === id &&
        /^conversation\.item\.input_audio_transcription\.(completed|failed)$/.test(e.type));
      const accepted = [];
      let refused = 0;
      for (let i = 0; i < 12; ++i) {
        for (let k = 0; k < 5; ++k) rt.send({ type: 'input_audio_buffer.append', audio: minute });
        const from = rt.events.length;
        rt.send({ type: 'input_audio_buffer.commit', event_id: `evt_commit_${i}` });
        const answer = await rt.waitFor((e) => e.type === 'input_audio_buffer.committed' || e.type === 'error', { from });
        if (answer.type === 'error') {
          assert.match(answer.error.code, /^(recognition_backlog_full|too_many_pending_transcriptions)$/, JSON.stringify(answer));
          assert.equal(answer.error.event_id, `evt_commit_${i}`);
          ++refused;
          rt.send({ type: 'input_audio_buffer.clear' });
          await rt.waitFor('input_audio_buffer.cleared', { from });
        } else {
          // Five minutes over the 120-s backlog are taken only when nothing else is pending.
          for (const id of accepted) assert.ok(finished(id), `commit ${i} accepted while ${id} was still pending`);
          accepted.push(answer.item_id);
        }
      }
      assert.ok(refused >= 1, 'every five-minute commit was accepted');
      await ExpectAlive(server, rt);
      rt.close();
    } finally {
      assert.equal((await server.stop()).code, 0);
    }
  });

  test('history is bounded by size: 200 items of 1 MiB keep the server small', async () => {
    const server = await StartServer(['--no-auth']);
    try {
      const rt = await OpenRealtime(server);
      await rt.waitFor('session.created');
      const rss_before = RssKiB(server.child.pid);
      const text = 'w'.repeat(1 << 20);
      for (let i = 0; i < 200; ++i) {
        rt.send({ type: 'conversation.item.create', item: { id: `item_big_${i}`, type: 'message', role: 'user', content: [{ type: 'input_text', text }] } });
      }
      await rt.waitFor((e) => e.type === 'conversation.item.done' && e.item.id === 'item_big_199', { timeout_ms: 60000 });
      const from = rt.events.length;
      rt.send({ type: 'conversation.item.retrieve', item_id: 'item_big_0' });
      const gone = await rt.waitFor('error', { from });
      assert.equal(gone.error.code, 'item_not_found');
      await Sleep(500);
      const grew_mib = (RssKiB(server.child.pid) - rss_before) / 1024;
      assert.ok(grew_mib < 120, `RSS grew by ${grew_mib.toFixed(0)} MiB`);
      const big = await OpenRealtime(server);
      await big.waitFor('session.created');
      big.send({ type: 'session.update', session: { type: 'realtime', instructions: 'i'.repeat(10 << 20) } });
      const error = await big.waitFor('error');
      assert.equal(error.error.code, 'instructions_too_large');
      await ExpectAlive(server, big);
      rt.close();
      big.close();
    } finally {
      assert.equal((await server.stop()).code, 0);
    }
  });

  test('one address cannot take every session slot; idle sessions time out', async () => {
    const server = await StartServer(['--no-auth', '--max-sessions-per-peer', '4', '--idle-timeout-s', '2']);
    try {
      const open = [];
      for (let i = 0; i < 4; ++i) {
        const rt = await OpenRaw(server);
        await rt.waitFor('session.created');
        open.push(rt);
      }
      await assert.rejects(OpenRaw(server), (err) => err.status === 429 && /too_many_sessions_for_peer/.test(err.body));
      const created = open[0].events[0];
      const now_s = Date.now() / 1000;
      assert.ok(Math.abs(created.session.expires_at - now_s - 3600) < 10, `expires_at ${created.session.expires_at}`);
      const error = await open[0].waitFor('error', { timeout_ms: 6000 });
      assert.equal(error.error.code, 'session_idle_timeout');
      assert.equal((await open[0].closed).code, 1000);
      await Sleep(200);
      const again = await OpenRaw(server);  // the slot came back
      await again.waitFor('session.created');
      again.close();
      for (const rt of open) rt.close();
    } finally {
      assert.equal((await server.stop()).code, 0);
    }
  });

  test('a slow upstream brain does not hold up other users\' speech', async () => {
    const llm = await FakeLlm((body, res) => {
      const delay = LastUser(body).includes('slow') ? 6000 : 0;
      setTimeout(() => StreamText(res, 'Here is my answer.'), delay);
    });
    const server = await StartServer(['--no-auth', '--llm-url', llm.url, '--llm-model', 'm']);
    try {
      const slow = [];
      for (let i = 0; i < 2; ++i) {
        const rt = await OpenRealtime(server);
        await rt.waitFor('session.created');
        // Their replies come after this test; nobody waits for them.
        TextTurn(rt, 'please be slow').then(({ done }) => done.catch(() => {}));
        slow.push(rt);
      }
      await Sleep(300);
      const rt = await OpenRealtime(server);
      await rt.waitFor('session.created');
      const t0 = Date.now();
      const { from } = await TextTurn(rt, 'quick one');
      await rt.waitFor('response.output_audio.delta', { from, timeout_ms: 20000 });
      const ms = Date.now() - t0;
      assert.ok(ms < 2500, `first audio after ${ms} ms while two other sessions wait on a slow upstream`);
      for (const s of slow) s.close();
      rt.close();
    } finally {
      assert.equal((await server.stop()).code, 0);
      llm.close();
    }
  });

  test('reply audio is paced near real time, and a reader that pauses is not dropped', async () => {
    const long = Array.from({ length: 10 }, (_, i) => `This is sentence number ${i + 1} of a long answer.`).join(' ');
    const llm = await FakeLlm((body, res) => StreamText(res, long));
    const server = await StartServer(['--no-auth', '--llm-url', llm.url, '--llm-model', 'm', '--max-write-queue-kib', '1024']);
    try {
      const rt = await OpenRealtime(server);
      await rt.waitFor('session.created');
      const arrivals = [];
      rt.socket.on('message', (data) => {
        const e = JSON.parse(data.toString());
        if (e.type === 'response.output_audio.delta') arrivals.push({ t: Date.now(), ms: (Buffer.from(e.delta, 'base64').length / 2) / 24 });
      });
      const { done } = await TextTurn(rt, 'Tell me a long story.', { timeout_ms: 120000 });
      await rt.waitFor('response.output_audio.delta');
      rt.socket.pause();  // the reader stalls for 8 s
      await Sleep(8000);
      rt.socket.resume();
      const response = (await done).response;
      assert.equal(response.status, 'completed', JSON.stringify(response.status_details));
      let sent_ms = 0;
      let worst_lead_ms = 0;
      const t0 = arrivals[0].t;
      for (const a of arrivals) {
        sent_ms += a.ms;
        worst_lead_ms = Math.max(worst_lead_ms, sent_ms - (a.t - t0));
      }
      assert.ok(sent_ms > 12000, `reply of ${sent_ms} ms`);
      // Paced 3 s ahead of real time (plus the chunks in flight when the reader resumed).
      assert.ok(worst_lead_ms < 3000 + 1500, `audio arrived up to ${worst_lead_ms.toFixed(0)} ms ahead of real time`);
      rt.close();
    } finally {
      assert.equal((await server.stop()).code, 0);
      llm.close();
    }
  });
});

describe('hostile clients: auth, origins and handshakes', () => {
  test('keys offered as a subprotocol never reach the log; wrong keys are throttled', async () => {
    const keys = WriteKeys(['sk-cadence-secret-5b7e']);
    const server = await StartServer(['--keys', keys]);
    try {
      const rt = await OpenRaw(server, { protocols: ['realtime', 'openai-insecure-api-key.sk-cadence-secret-5b7e'] });
      await rt.waitFor('session.created');
      rt.close();
      await Sleep(200);
      assert.doesNotMatch(server.log, /sk-cadence-secret-5b7e/);
      let unauthorized = 0;
      let throttled = 0;
      for (let i = 0; i < 15; ++i) {
        const answer = await RawUpgrade(server.port, { 'Authorization': `Bearer sk-guess-${i}`, 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==' });
        if (answer.status === 401) ++unauthorized;
        if (answer.status === 429) {
          ++throttled;
          assert.match(answer.text, /too_many_failed_auth/);
        }
      }
      assert.equal(unauthorized, 10);
      assert.equal(throttled, 5);
      assert.equal((server.log.match(/auth failed/g) || []).length, 10, 'each refused guess is not logged again');
      // The API routes need the key as the WebSocket does; the health probe does not.
      assert.equal((await fetch(`${server.base}/v1/models`)).status, 401);
      assert.equal((await fetch(`${server.base}/v1/models`, { headers: { Authorization: 'Bearer sk-cadence-secret-5b7e' } })).status, 200);
      assert.equal((await fetch(`${server.base}/healthz`)).status, 200);
    } finally {
      assert.equal((await server.stop()).code, 0);
    }
  });

  test('pages of other origins cannot drive the server; malformed handshakes are refused', async () => {
    const server = await StartServer(['--no-auth']);
    try {
      await assert.rejects(OpenRaw(server, { headers: { Origin: 'http://evil.example' } }),
        (err) => err.status === 403 && /origin_not_allowed/.test(err.body));
      const own = await OpenRaw(server, { headers: { Origin: `http://127.0.0.1:${server.port}` } });
      await own.waitFor('session.created');
      own.close();
      const bad_key = await RawUpgrade(server.port, { 'Sec-WebSocket-Key': 'abc' });
      assert.equal(bad_key.status, 400);
      assert.match(bad_key.text, /invalid_websocket_key/);
    } finally {
      assert.equal((await server.stop()).code, 0);
    }
  });

  test('--allowed-origins admits a listed page', async () => {
    const server = await StartServer(['--no-auth', '--allowed-origins', 'https://app.example.com']);
    try {
      const rt = await OpenRaw(server, { headers: { Origin: 'https://app.example.com' } });
      await rt.waitFor('session.created');
      rt.close();
    } finally {
      assert.equal((await server.stop()).code, 0);
    }
  });
});
