// Black-box: Step-Audio 2 (the end-to-end speech model) behind the Realtime API, as a user runs it.
// `cadence serve --brain step-audio-2 --model DIR` on the repo's tiny checkpoint (random weights:
// the words are noise, the plumbing is real: the spoken turn reaches the model as audio, its speech
// tokens come back as audio through token2wav), and `--brain step-audio-2 --llm-url URL` against a
// local imitation of StepFun's vLLM backend streaming tts_content deltas, including a stream cut
// mid-answer (a failed response naming the URL; the session goes on).
import assert from 'node:assert/strict';
import http from 'node:http';
import { join } from 'node:path';
import { describe, test } from 'node:test';

import { OpenRealtime, ReplyAudio, Silence, Speech, StartServer, StreamAudio, kRepo } from './harness.mjs';

const kTinyStepAudio = join(kRepo, 'tests', 'engine', 'data', 'step_audio2', 'tiny');
const kTinyToken2Wav = join(kRepo, 'tests', 'engine', 'data', 'token2wav', 'tiny');

// One spoken turn (server VAD): resolves with response.done and the events after `from`.
async function SpokenTurn(rt, text) {
  const from = rt.events.length;
  await StreamAudio(rt, Buffer.concat([Silence(300), Speech(text), Silence(1500)]));
  const done = await rt.waitFor('response.done', { from, timeout_ms: 60000 });
  return { done, events: rt.events.slice(from) };
}

function Transcript(events) {
  return events
    .filter((e) => e.type === 'response.output_audio_transcript.delta' || e.type === 'response.audio_transcript.delta')
    .map((e) => e.delta)
    .join('');
}

describe('step-audio-2', () => {
  test('--model: the tiny checkpoint hears the spoken turn and answers with speech', async () => {
    const server = await StartServer(['--no-auth', '--brain', 'step-audio-2', '--model', kTinyStepAudio,
      '--voice-token2wav', kTinyToken2Wav]);
    try {
      assert.match(server.log, /step-audio-2 brain on .*tiny/);
      const health = await (await fetch(`${server.base}/healthz`)).json();
      assert.equal(health.engines.brain, 'step-audio-2', JSON.stringify(health));
      assert.equal(health.engines.tts, 'step-audio-2+token2wav', JSON.stringify(health));
      const rt = await OpenRealtime(server, { model: 'step-2.5-realtime' });
      await rt.waitFor('session.created');
      rt.send({ type: 'session.update', session: { type: 'realtime', output_modalities: ['audio'], max_output_tokens: 200,
        audio: { input: { transcription: null } } } });
      await rt.waitFor('session.updated');
      const { done, events } = await SpokenTurn(rt, 'Tell me something about the sea.');
      assert.equal(done.response.status, 'completed', JSON.stringify(done.response));
      // No transcription was asked for, so no recognizer ran: the model heard the audio itself.
      assert.ok(!events.some((e) => e.type === 'conversation.item.input_audio_transcription.completed'));
      // Random weights still emit speech tokens among their text (the tiny model was built to);
      // token2wav renders them: 40 ms of audio per token.
      const audio = ReplyAudio(rt.events, done.response.id);
      assert.ok(audio.length > 24000 * 2 * 0.2, `reply audio of ${audio.length} bytes`);
      assert.ok(Transcript(events).length > 0, 'the spoken answer\'s text goes out as its transcript');
      rt.close();
    } finally {
      assert.equal((await server.stop()).code, 0, server.log);
    }
  });

  test('--llm-url: StepFun\'s vLLM backend gets the audio, its speech tokens come back as audio; a cut stream fails cleanly', async () => {
    const requests = [];
    const vllm = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => { body += c; });
      req.on('end', () => {
        requests.push({ url: req.url, body: JSON.parse(body) });
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        const tokens = Array.from({ length: 60 }, (_, i) => `<audio_${(i * 97) % 6561}>`);
        const pieces = [
          { tts_text: 'The sea ', tts_audio: tokens.slice(0, 20).join('') },
          { tts_text: 'is wide.', tts_audio: tokens.slice(20, 47).join('') + '<audio_1' },
          { tts_text: '', tts_audio: '2>' + tokens.slice(47).join('') },
        ];
        for (const tts_content of pieces)
          res.write(`data: ${JSON.stringify({ choices: [{ index: 0, delta: { tts_content } }] })}\n\n`);
        if (requests.length === 2) {  // the second answer is cut mid-stream
          res.destroy();
          return;
        }
        res.write(`data: ${JSON.stringify({ choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\n`);
        res.end('data: [DONE]\n\n');
      });
    });
    await new Promise((resolve) => vllm.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${vllm.address().port}/v1`;
    const server = await StartServer(['--no-auth', '--brain', 'step-audio-2', '--llm-url', url,
      '--voice-token2wav', kTinyToken2Wav]);
    try {
      assert.match(server.log, /step-audio-2 brain on vLLM/);
      const rt = await OpenRealtime(server, { model: 'step-2.5-realtime' });
      await rt.waitFor('session.created');
      const first = await SpokenTurn(rt, 'Tell me about the sea.');
      assert.equal(first.done.response.status, 'completed', JSON.stringify(first.done.response));
      assert.equal(Transcript(first.events).replace(/\s+/g, ' ').trim(), 'The sea is wide.');
      // 61 tokens (one split across chunks); the tiny token2wav renders 20 ms of 24 kHz audio per
      // token (the published one 40 ms): 1.22 s. A lost token would be 20 ms less.
      const audio = ReplyAudio(rt.events, first.done.response.id);
      const seconds = audio.length / 2 / 24000;
      assert.ok(Math.abs(seconds - 61 * 0.02) < 0.011, `reply of ${seconds.toFixed(3)} s`);
      // The request: the user's turn as an input_audio WAV part, the <tts_start> prefix.
      const body = requests[0].body;
      assert.equal(requests[0].url, '/v1/chat/completions');
      assert.equal(body.stream, true);
      const human = body.messages.find((m) => m.role === 'human');
      const part = human.content.find((p) => p.type === 'input_audio');
      const wav = Buffer.from(part.input_audio.data, 'base64');
      assert.equal(wav.toString('ascii', 0, 4), 'RIFF');
      assert.equal(wav.readUInt32LE(24), 16000);
      const last = body.messages[body.messages.length - 1];
      assert.equal(last.role, 'assistant');
      assert.equal(last.content, '<tts_start>');
      assert.equal(body.continue_final_message, true);

      const second = await SpokenTurn(rt, 'And the mountains?');
      assert.equal(second.done.response.status, 'failed', JSON.stringify(second.done.response));
      assert.ok(second.done.response.status_details.error.message.includes(url), JSON.stringify(second.done.response));
      // The session goes on: a third turn is answered again.
      const third = await SpokenTurn(rt, 'Thank you.');
      assert.equal(third.done.response.status, 'completed', JSON.stringify(third.done.response));
      assert.equal(requests.length, 3);
      rt.close();
    } finally {
      assert.equal((await server.stop()).code, 0, server.log);
      vllm.close();
    }
  });
});
