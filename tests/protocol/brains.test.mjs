// Black-box: the two model brains as a user runs them. `cadence serve --model FILE.gguf` (the
// engine brain on one of the repo's tiny generated models) and `cadence serve --llm-url URL` (the
// remote brain, against a local OpenAI-compatible server that streams a known reply, and against
// an endpoint that is down: a failed response naming the URL, and the session keeps working).
import assert from 'node:assert/strict';
import http from 'node:http';
import { join } from 'node:path';
import { describe, test } from 'node:test';

import { kRepo, OpenRealtime, StartServer } from './harness.mjs';

const kTinyModel = join(kRepo, 'tests', 'engine', 'data', 'qwen2-small-f32.gguf');

// One text turn; resolves with the response.done event and the output text's deltas and final.
async function TextTurn(rt, text) {
  rt.send({ type: 'conversation.item.create', item: { type: 'message', role: 'user', content: [{ type: 'input_text', text }] } });
  await rt.waitFor('conversation.item.added');
  const from = rt.events.length;
  rt.send({ type: 'response.create', response: { output_modalities: ['text'] } });
  const done = await rt.waitFor('response.done', { from, timeout_ms: 60000 });
  const after = rt.events.slice(from);
  const deltas = after.filter((e) => e.type === 'response.output_text.delta').map((e) => e.delta).join('');
  const final = after.find((e) => e.type === 'response.output_text.done');
  return { done, deltas, text: final ? final.text : null };
}

// The session still answers after whatever happened before.
async function ExpectSessionAlive(rt) {
  const from = rt.events.length;
  rt.send({ type: 'session.update', session: { type: 'realtime', instructions: 'Be brief.' } });
  await rt.waitFor('session.updated', { from, timeout_ms: 5000 });
}

describe('brains', () => {
  test('--model: the engine brain answers a text turn from a GGUF file', async () => {
    const server = await StartServer(['--no-auth', '--model', kTinyModel]);
    try {
      assert.match(server.log, /engine brain on .*qwen2-small-f32\.gguf/);
      const rt = await OpenRealtime(server, { model: 'gpt-realtime' });
      await rt.waitFor('session.created');
      const { done, deltas, text } = await TextTurn(rt, 'Hello there');
      assert.equal(done.response.status, 'completed', JSON.stringify(done.response));
      // A random tiny model writes nonsense, but it writes: the text streams and adds up.
      assert.ok(text && text.length > 0, 'some generated text');
      assert.equal(deltas, text);
      await ExpectSessionAlive(rt);
      rt.close();
    } finally {
      assert.equal((await server.stop()).code, 0, server.log);
    }
  });

  test('--llm-url: the remote brain streams an OpenAI-compatible endpoint\'s reply', async () => {
    const requests = [];
    const llm = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => { body += c; });
      req.on('end', () => {
        requests.push({ url: req.url, body: JSON.parse(body) });
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        for (const piece of ['Nice to ', 'meet you. ', 'How can I help?'])
          res.write(`data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: piece } }] })}\n\n`);
        res.end('data: [DONE]\n\n');
      });
    });
    await new Promise((resolve) => llm.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${llm.address().port}/v1`;
    const server = await StartServer(['--no-auth', '--llm-url', url, '--llm-model', 'tiny-test']);
    try {
      const rt = await OpenRealtime(server, { model: 'gpt-realtime' });
      await rt.waitFor('session.created');
      const { done, deltas, text } = await TextTurn(rt, 'Hello, who are you?');
      assert.equal(done.response.status, 'completed', JSON.stringify(done.response));
      assert.equal(text, 'Nice to meet you. How can I help?');
      assert.equal(deltas, text);
      assert.equal(requests.length, 1);
      assert.equal(requests[0].url, '/v1/chat/completions');
      assert.equal(requests[0].body.model, 'tiny-test');
      assert.equal(requests[0].body.stream, true);
      // The persona's system prompt first, then the user's turn (a post-history reminder may follow).
      const messages = requests[0].body.messages;
      assert.equal(messages[0].role, 'system');
      assert.ok(messages.some((m) => m.role === 'user' && JSON.stringify(m.content).includes('Hello, who are you?')),
        JSON.stringify(messages));
      rt.close();
    } finally {
      assert.equal((await server.stop()).code, 0, server.log);
      llm.close();
    }
  });

  test('--llm-url down: the response fails naming the endpoint, and the session survives', async () => {
    // A port nobody listens on: bind one, note it, close it.
    const probe = http.createServer();
    await new Promise((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = probe.address().port;
    await new Promise((resolve) => probe.close(resolve));
    const url = `http://127.0.0.1:${port}/v1`;
    const server = await StartServer(['--no-auth', '--llm-url', url, '--llm-model', 'tiny-test']);
    try {
      const rt = await OpenRealtime(server, { model: 'gpt-realtime' });
      await rt.waitFor('session.created');
      const { done } = await TextTurn(rt, 'Hello?');
      assert.equal(done.response.status, 'failed', JSON.stringify(done.response));
      const error = done.response.status_details.error;
      assert.equal(error.code, 'unavailable', JSON.stringify(error));
      assert.ok(error.message.includes(`${url}/chat/completions`), error.message);
      assert.match(error.message, /--llm-url/);
      await ExpectSessionAlive(rt);
      rt.close();
    } finally {
      assert.equal((await server.stop()).code, 0, server.log);
    }
  });
});
