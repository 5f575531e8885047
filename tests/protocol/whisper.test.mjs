// The Whisper ears in the running server, black box: `cadence serve --asr-model` on the tiny random
// ggml model that tools/whisper/tiny_model.py writes (its words are noise, its behaviour is not):
// a server-VAD voice turn through the official `openai` client gets a Whisper transcript for the
// spoken item (the early final taken at the turn detector's pause), transcription deltas that are
// a prefix of it, and a reply.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { OpenConfigured, Silence, Speech, StartServer, StreamAudio, kRepo } from './harness.mjs';

const kTinyModel = join(kRepo, 'tests', 'speech', 'data', 'whisper', 'tiny', 'ggml-tiny-random.bin');

describe('whisper in the server', () => {
  let server;
  before(async () => {
    server = await StartServer(['--no-auth', '--asr-model', kTinyModel, '--asr-language', 'en']);
  });
  after(async () => {
    const { code } = await server.stop();
    assert.equal(code, 0, server.log);
  });

  test('the engines line names whisper', () => {
    assert.match(server.log, /engines: vad=\S+ asr=whisper /);
  });

  test('a voice turn is transcribed by Whisper, with deltas that prefix the transcript, and answered', async () => {
    const rt = await OpenConfigured(server, {
      type: 'realtime',
      output_modalities: ['text'],
      audio: { input: { transcription: { model: 'whisper-1' }, turn_detection: { type: 'server_vad', silence_duration_ms: 500 } } },
    }, { model: 'gpt-realtime' });
    const from = rt.events.length;
    await StreamAudio(rt, Buffer.concat([Silence(300), Speech('i would like a cup of coffee please'), Silence(1500)]));
    const completed = await rt.waitFor('conversation.item.input_audio_transcription.completed', { from, timeout_ms: 30000 });
    const started = rt.events.find((e, i) => i >= from && e.type === 'input_audio_buffer.speech_started');
    assert.ok(started, 'no speech_started');
    assert.equal(completed.item_id, started.item_id);
    assert.equal(typeof completed.transcript, 'string');
    assert.ok(completed.transcript.length > 0, 'the random model still writes some text for speech');
    const joined = rt.events
      .filter((e, i) => i >= from && e.type === 'conversation.item.input_audio_transcription.delta')
      .map((e) => e.delta)
      .join('');
    assert.ok(completed.transcript.startsWith(joined), `deltas "${joined}" are not a prefix of "${completed.transcript}"`);
    const done = await rt.waitFor('response.done', { from, timeout_ms: 30000 });
    assert.equal(done.response.status, 'completed', JSON.stringify(done.response.status_details));
    assert.equal(rt.errors.length, 0, rt.errors.map(String).join('\n'));
    rt.close();
  });
});
