// Black-box: the HTTP side of `cadence serve` — health, models, personas, CORS, static files,
// upgrade refusals (unknown model 400, wrong key 401) with JSON bodies, browser subprotocols,
// and a clean exit on SIGTERM.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { OpenRaw, OpenRealtime, StartServer, TempDir, WriteKeys } from './harness.mjs';

describe('HTTP routes', () => {
  let server;
  let web;
  before(async () => {
    web = TempDir('cadence-web-');
    mkdirSync(join(web, 'assets'));
    writeFileSync(join(web, 'index.html'), '<!doctype html><title>Cadence</title>');
    writeFileSync(join(web, 'assets', 'app-1a2b3c4d5e.js'), 'export const x = 1;');
    server = await StartServer(['--no-auth', '--web-dir', web]);
  });
  after(async () => {
    const { code } = await server.stop();
    assert.equal(code, 0, `serve should exit 0 on SIGTERM:\n${server.log}`);
    assert.match(server.log, /signal 15: shutting down/);
  });

  test('/healthz says ok and names the engines', async () => {
    const res = await fetch(`${server.base}/healthz`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/json');
    assert.equal(res.headers.get('access-control-allow-origin'), '*');
    const body = await res.json();
    assert.equal(body.status, 'ok');
    assert.equal(body.auth_required, false);
    assert.equal(typeof body.sessions.active, 'number');
    assert.ok(body.engines.vad, JSON.stringify(body));
    assert.ok(body.engines.asr, JSON.stringify(body));
  });

  test('/v1/models lists StepFun and OpenAI realtime names in OpenAI list shape', async () => {
    const body = await (await fetch(`${server.base}/v1/models`)).json();
    assert.equal(body.object, 'list');
    const ids = body.data.map((m) => m.id);
    for (const id of ['step-2.5-realtime', 'step-audio-2', 'gpt-realtime', 'gpt-4o-realtime-preview'])
      assert.ok(ids.includes(id), `${id} missing from ${ids}`);
    assert.ok(body.data.every((m) => m.object === 'model'));
  });

  test('/v1/personas lists the embedded personas with a default', async () => {
    const body = await (await fetch(`${server.base}/v1/personas`)).json();
    assert.equal(body.object, 'list');
    assert.ok(body.data.length >= 1);
    assert.ok(body.data.some((p) => p.id === body.default), JSON.stringify(body).slice(0, 400));
    for (const p of body.data) assert.ok(p.id && p.name, JSON.stringify(p).slice(0, 200));
  });

  test('/v1/voices lists the synthesizer voices with a default', async () => {
    const body = await (await fetch(`${server.base}/v1/voices`)).json();
    assert.equal(body.object, 'list');
    const ids = body.data.map((v) => v.id);
    for (const id of ['slt', 'cmn-f', 'yue-m']) assert.ok(ids.includes(id), `${id} missing from ${ids}`);
    assert.ok(ids.includes(body.default), JSON.stringify(body).slice(0, 300));
    for (const v of body.data) assert.ok(v.engine && v.language, JSON.stringify(v));
  });

  test('CORS preflight on the JSON routes', async () => {
    const res = await fetch(`${server.base}/v1/models`, {
      method: 'OPTIONS',
      headers: { Origin: 'http://example.test', 'Access-Control-Request-Method': 'GET', 'Access-Control-Request-Headers': 'authorization' },
    });
    assert.equal(res.status, 204);
    assert.equal(res.headers.get('access-control-allow-origin'), '*');
    assert.match(res.headers.get('access-control-allow-headers'), /Authorization/);
  });

  test('static files with content types, caching and no traversal', async () => {
    const index = await fetch(`${server.base}/`);
    assert.equal(index.status, 200);
    assert.equal(index.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.equal(index.headers.get('cache-control'), 'no-cache');
    assert.equal(await index.text(), '<!doctype html><title>Cadence</title>');
    const js = await fetch(`${server.base}/assets/app-1a2b3c4d5e.js`);
    assert.equal(js.headers.get('content-type'), 'text/javascript; charset=utf-8');
    assert.equal(js.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    assert.equal((await fetch(`${server.base}/nope.css`)).status, 404);
    // fetch() normalises "..", so send the raw target over a socket.
    const raw = await RawGet(server.port, '/%2e%2e/%2e%2e/%2e%2e/etc/passwd');
    assert.match(raw, /^HTTP\/1\.1 403/);
    assert.doesNotMatch(raw, /root:/);
  });

  test('GET /v1/realtime without an upgrade is 426 with a hint', async () => {
    const res = await fetch(`${server.base}/v1/realtime?model=step-2.5-realtime`);
    assert.equal(res.status, 426);
    assert.match((await res.json()).error.message, /WebSocket/);
  });

  test('unknown model: HTTP 400 with a JSON error before the upgrade', async () => {
    await assert.rejects(OpenRaw(server, { model: 'gpt-2' }), (err) => {
      assert.equal(err.status, 400);
      const body = JSON.parse(err.body);
      assert.equal(body.error.code, 'model_not_found');
      assert.equal(body.error.param, 'model');
      assert.match(body.error.message, /gpt-2/);
      return true;
    });
  });

  test('browser subprotocols are answered with "realtime"; beta protocol selects beta names', async () => {
    const ga = await OpenRaw(server, { protocols: ['realtime', 'openai-insecure-api-key.sk-x'] });
    assert.equal(ga.socket.protocol, 'realtime');
    const created = await ga.waitFor('session.created');
    assert.equal(created.session.type, 'realtime', 'GA session shape');
    ga.close();
    const beta = await OpenRaw(server, { protocols: ['realtime', 'openai-insecure-api-key.sk-x', 'openai-beta.realtime-v1'] });
    assert.equal(beta.socket.protocol, 'realtime');
    const beta_created = await beta.waitFor('session.created');
    assert.ok(Array.isArray(beta_created.session.modalities), `beta session shape: ${JSON.stringify(beta_created.session).slice(0, 300)}`);
    beta.close();
  });
});

describe('API keys', () => {
  let server;
  before(async () => {
    server = await StartServer(['--keys', WriteKeys(['# test keys', 'sk-good-1', 'sk-good-2'])], { CADENCE_API_KEYS: 'sk-env' });
  });
  after(async () => { await server.stop(); });

  test('wrong or missing key: HTTP 401 with a JSON error, and a log line', async () => {
    await assert.rejects(OpenRaw(server, { headers: { Authorization: 'Bearer sk-bad' } }), (err) => {
      assert.equal(err.status, 401);
      assert.equal(JSON.parse(err.body).error.code, 'invalid_api_key');
      return true;
    });
    await assert.rejects(OpenRaw(server), (err) => {
      assert.equal(err.status, 401);
      assert.equal(JSON.parse(err.body).error.code, 'missing_api_key');
      return true;
    });
    await assert.rejects(OpenRaw(server, { protocols: ['realtime', 'openai-insecure-api-key.sk-bad'] }), (err) => err.status === 401);
    assert.match(server.log, /auth failed peer=127\.0\.0\.1:\d+: wrong API key/);
  });

  test('the official client with a right key (file or env), and a browser key subprotocol', async () => {
    for (const apiKey of ['sk-good-2', 'sk-env']) {
      const rt = await OpenRealtime(server, { apiKey });
      await rt.waitFor('session.created');
      rt.close();
    }
    const browser = await OpenRaw(server, { protocols: ['realtime', 'openai-insecure-api-key.sk-good-1'] });
    assert.equal(browser.socket.protocol, 'realtime');
    await browser.waitFor('session.created');
    browser.close();
  });

  test('/healthz stays open and says auth is required', async () => {
    const body = await (await fetch(`${server.base}/healthz`)).json();
    assert.equal(body.auth_required, true);
  });
});

describe('startup', () => {
  test('no keys and a public host: refuses to start and says what to do', async () => {
    await assert.rejects(StartServer(['--host', '0.0.0.0']), /refusing to serve on 0\.0\.0\.0 without API keys/);
  });
  test('a missing model file is a clear error, exit 1', async () => {
    await assert.rejects(StartServer(['--no-auth', '--vad-model', '/nonexistent/silero.onnx']), (err) => {
      assert.match(err.message, /exited \(code 1,/);
      assert.match(err.message, /--vad-model: no file '\/nonexistent\/silero\.onnx'/);
      return true;
    });
  });
  test('--asr-preload out of range is a clear error; in range, the log says the decoders loaded', async () => {
    await assert.rejects(StartServer(['--no-auth', '--asr-preload', '0']),
      /--asr-preload must be a whole number from 1 to 256 \(got '0'\)/);
    await assert.rejects(StartServer(['--no-auth', '--asr-window', '10s']), /--asr-window must be one of full, speech/);
    await assert.rejects(StartServer(['--no-auth', '--asr-temperature-inc', 'high']),
      /--asr-temperature-inc must be a number from 0 to 1 \(got 'high'\)/);
    const server = await StartServer(['--no-auth', '--asr-preload', '3']);
    try {
      assert.match(server.log, /3 of 3 PocketSphinx decoders loaded/);
      const health = await (await fetch(`http://127.0.0.1:${server.port}/healthz`)).json();
      assert.equal(health.engines.asr, 'pocketsphinx');
    } finally {
      await server.stop();
    }
  });
});

async function RawGet(port, target) {
  const net = await import('node:net');
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.write(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
    });
    let data = '';
    socket.on('data', (c) => { data += c; });
    socket.on('end', () => resolve(data));
    socket.on('error', reject);
  });
}
