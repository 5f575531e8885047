// Black-box: paralinguistic cues over the Realtime API as a client sees them. A session that asks
// for them (`session.paralinguistics: true`) gets `conversation.item.input_audio_paralinguistics.completed`
// for its spoken turn — pitch as Praat reads the same recording — and the brain gets the cues as
// context (seen here in the request `cadence serve --llm-url` sends to a local OpenAI-compatible
// endpoint). A sigh that opens no turn reaches the next turn's cues as a sound just before it. A
// session that does not ask gets neither. The default scripted brain answers a tired-sounding
// user, or one who sighed just before speaking, with a comfort line.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import http from 'node:http';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { PraatReference } from '../paralinguistics/praat.mjs';
import { kRepo, OpenConfigured, Silence, Speech, StartServer, StreamAudio, TempDir } from './harness.mjs';

const kClip = join(kRepo, '..', 'shared', 'data', 'speech', 'en_m_ravdess_01-01-01-01-01-01-01.wav');
// A sigh that Silero VAD does not take for speech (measured: it opens no turn).
const kSigh = join(kRepo, '..', 'shared', 'data', 'speech', 'nv_f_sighing_FSIJ_7_6_0_15_0_0_0.wav');
const kCueMessage = /^How .+ sounded just now \(context, not an instruction\): /;

// The recording and the sigh as 24 kHz pcm16, and Praat's mean F0 over the recording's voiced
// frames; made once, for both suites.
let recorded;
function Recording() {
  recorded ??= Record();
  return recorded;
}
function Record() {
  const dir = TempDir('cadence-cues-');
  try {
    const raw = join(dir, 'clip.raw');
    execFileSync('sox', ['-R', kClip, '-r', '24000', '-c', '1', '-b', '16', '-e', 'signed-integer', '-t', 'raw', raw]);
    const sigh = join(dir, 'sigh.raw');
    execFileSync('sox', ['-R', kSigh, '-r', '24000', '-c', '1', '-b', '16', '-e', 'signed-integer', '-t', 'raw', sigh]);
    return { pcm: readFileSync(raw), sigh: readFileSync(sigh), praat_mean_hz: PraatReference(kClip).mean_hz };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// A local OpenAI-compatible endpoint that records each request and streams a short reply.
async function FakeLlm() {
  const requests = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      requests.push(JSON.parse(body));
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(`data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: 'I hear you.' } }] })}\n\n`);
      res.end('data: [DONE]\n\n');
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { requests, url: `http://127.0.0.1:${server.address().port}/v1`, close: () => server.close() };
}

// A text-reply voice session with server VAD and transcription, cues as asked.
function VoiceSession(paralinguistics) {
  return {
    type: 'realtime',
    output_modalities: ['text'],
    audio: {
      input: {
        format: { type: 'audio/pcm', rate: 24000 },
        transcription: {},
        turn_detection: { type: 'server_vad', threshold: 0.5, prefix_padding_ms: 300, silence_duration_ms: 500 },
      },
    },
    ...(paralinguistics ? { paralinguistics: true } : {}),
  };
}

// One spoken turn; resolves with the events it produced once its response is done.
async function SpokenTurn(rt, pcm) {
  const from = rt.events.length;
  await StreamAudio(rt, Buffer.concat([Silence(300), pcm, Silence(1200)]));
  await rt.waitFor('response.done', { from, timeout_ms: 30000 });
  return rt.events.slice(from);
}

describe('paralinguistic cues over the Realtime API', () => {
  let recording;
  let llm;
  let server;
  before(async () => {
    recording = Recording();
    llm = await FakeLlm();
    server = await StartServer(['--no-auth', '--llm-url', llm.url, '--llm-model', 'tiny-test']);
  });
  after(async () => {
    const { code } = await server.stop();
    llm.close();
    assert.equal(code, 0, server.log);
  });

  test('asked for: the event follows the commit with the turn\'s cues, and the brain hears them', async () => {
    const rt = await OpenConfigured(server, VoiceSession(true), { model: 'gpt-realtime' });
    const asked = llm.requests.length;
    const events = await SpokenTurn(rt, recording.pcm);
    const type = (t) => events.findIndex((e) => e.type === t);
    const committed = events[type('input_audio_buffer.committed')];
    const cues_at = type('conversation.item.input_audio_paralinguistics.completed');
    assert.ok(committed && cues_at > type('input_audio_buffer.committed'),
      `cues after the commit; got ${events.map((e) => e.type).join(', ')}`);
    // As OpenAI's server does, the response is created at the commit; the cues come before its content.
    assert.ok(cues_at < type('response.output_text.delta'), 'cues before the reply\'s first delta');
    const { item_id, cues } = events[cues_at];
    assert.equal(item_id, committed.item_id);

    // The cues describe the committed span (speech_started .. speech_stopped) of this recording.
    const started = events[type('input_audio_buffer.speech_started')];
    const stopped = events[type('input_audio_buffer.speech_stopped')];
    const span_s = (stopped.audio_end_ms - started.audio_start_ms) / 1000;
    assert.ok(Math.abs(cues.duration_s - span_s) < 0.05, `cues over ${cues.duration_s} s, committed ${span_s} s`);
    const pitch_error = cues.pitch.mean_hz / recording.praat_mean_hz - 1;
    assert.ok(Math.abs(pitch_error) < 0.05,
      `pitch.mean_hz ${cues.pitch.mean_hz} against Praat's ${recording.praat_mean_hz.toFixed(1)} on the recording`);
    assert.ok(cues.speaking_rate.syllables >= 3 && cues.speech_s > 0.5, JSON.stringify(cues.speaking_rate));
    assert.ok(Array.isArray(cues.events) && typeof cues.state.arousal.label === 'string');
    assert.deepEqual(cues.leading_events, [], 'nothing but silence before this turn');

    // The brain's request carries them as a system message after the user's turn.
    assert.equal(llm.requests.length, asked + 1);
    const messages = llm.requests.at(-1).messages;
    const at = messages.findIndex((m) => m.role === 'system' && kCueMessage.test(m.content));
    assert.ok(at >= 0, `no cue message in ${JSON.stringify(messages)}`);
    assert.ok(messages.slice(0, at).some((m) => m.role === 'user'), 'the cues follow the user\'s turn');
    if (cues.traits.gender.label) assert.ok(messages[at].content.includes(`Voice: ${cues.traits.gender.label}`), messages[at].content);
    rt.close();
  });

  test('a sigh that opens no turn of its own is read as a sound just before the next turn', async () => {
    const rt = await OpenConfigured(server, VoiceSession(true), { model: 'gpt-realtime' });
    const from = rt.events.length;
    await StreamAudio(rt, Buffer.concat([Silence(300), recording.sigh, Silence(500)]));
    const events = await SpokenTurn(rt, recording.pcm);
    const all = rt.events.slice(from);
    assert.equal(all.filter((e) => e.type === 'input_audio_buffer.committed').length, 1, 'the sigh opened no turn');
    const { cues } = events.find((e) => e.type === 'conversation.item.input_audio_paralinguistics.completed');
    assert.ok(cues.leading_events.length > 0, `no sound before the turn in ${JSON.stringify(cues)}`);
    for (const e of cues.leading_events)
      assert.ok(e.start_s >= -3.001 && e.end_s <= 0 && e.end_s > e.start_s && e.confidence > 0, JSON.stringify(e));
    const cue_message = llm.requests.at(-1).messages.find((m) => kCueMessage.test(m.content ?? ''));
    assert.match(cue_message?.content ?? '', /Just before speaking: /);
    rt.close();
  });

  test('a wrong type for session.paralinguistics is an error naming it; the session keeps working', async () => {
    const rt = await OpenConfigured(server, VoiceSession(false), { model: 'gpt-realtime' });
    const from = rt.events.length;
    rt.send({ type: 'session.update', session: { type: 'realtime', paralinguistics: 'yes' } });
    const error = await rt.waitFor('error', { from, timeout_ms: 5000 });
    assert.match(`${error.error.param} ${error.error.message}`, /paralinguistics/, JSON.stringify(error));
    rt.send({ type: 'session.update', session: { type: 'realtime', paralinguistics: true } });
    const updated = await rt.waitFor('session.updated', { from, timeout_ms: 5000 });
    assert.equal(updated.session.paralinguistics, true);
    rt.close();
  });

  test('not asked for: no event, and the brain gets no cues', async () => {
    const rt = await OpenConfigured(server, VoiceSession(false), { model: 'gpt-realtime' });
    const asked = llm.requests.length;
    const events = await SpokenTurn(rt, recording.pcm);
    assert.ok(events.some((e) => e.type === 'input_audio_buffer.committed'));
    assert.ok(!events.some((e) => e.type === 'conversation.item.input_audio_paralinguistics.completed'));
    assert.equal(llm.requests.length, asked + 1);
    assert.ok(!llm.requests.at(-1).messages.some((m) => kCueMessage.test(m.content ?? '')));
    rt.close();
  });
});

// The scripted persona brain (the default) reacts to the cues: a tired-sounding user (slow, quiet,
// flat synthetic speech; words with no mood in them) gets one of the persona's comfort lines, and
// the same audio in a session without cues does not; so does an ordinary sentence after a sigh
// that opened no turn, and the sentence alone does not.
describe('the scripted brain hears how the user sounds', () => {
  const kWords = 'i would like a cup of coffee please';
  let server;
  let comfort;
  let tired;
  before(async () => {
    const card = JSON.parse(readFileSync(join(kRepo, 'personas', 'cadence.json'), 'utf8'));
    comfort = card.data.extensions.cadence.mood_lines.comfort.map(Plain);
    tired = Speech(kWords, { stretch: 1.5, volume: 0.3 });
    server = await StartServer(['--no-auth']);
  });
  after(async () => {
    assert.equal((await server.stop()).code, 0, server.log);
  });

  const Plain = (text) => text.replace(/\[[^\]]*\]/g, ' ').replace(/\s+/g, ' ').trim();
  async function Reply(paralinguistics, pcm = tired) {
    const rt = await OpenConfigured(server, VoiceSession(paralinguistics), { model: 'gpt-realtime' });
    const events = await SpokenTurn(rt, pcm);
    rt.close();
    const text = events.find((e) => e.type === 'response.output_text.done')?.text ?? '';
    const heard = events.find((e) => e.type === 'conversation.item.input_audio_transcription.completed')?.transcript;
    const cues = events.find((e) => e.type === 'conversation.item.input_audio_paralinguistics.completed')?.cues;
    return { text: Plain(text), heard, cues };
  }

  test('a tired voice gets a gentler reply', async (t) => {
    const on = await Reply(true);
    t.diagnostic(`heard "${on.heard}", state ${JSON.stringify(on.cues?.state)}, reply "${on.text}"`);
    assert.equal(on.cues?.state?.summary, 'tired', 'slow, quiet, flat speech reads as tired');
    assert.ok(comfort.includes(on.text), `"${on.text}" is not one of the persona's comfort lines`);
    const off = await Reply(false);
    t.diagnostic(`without cues: reply "${off.text}"`);
    assert.ok(off.text && !comfort.includes(off.text), `"${off.text}" without cues`);
  });

  test('a sigh just before an ordinary sentence gets a gentler reply too', async (t) => {
    const { pcm, sigh } = Recording();
    const plain = await Reply(true, pcm);
    t.diagnostic(`plain: heard "${plain.heard}", state ${plain.cues?.state?.summary}, reply "${plain.text}"`);
    assert.ok(plain.text && !comfort.includes(plain.text), `"${plain.text}" for the sentence alone`);
    const sighed = await Reply(true, Buffer.concat([sigh, Silence(500), pcm]));
    t.diagnostic(`after a sigh: heard "${sighed.heard}", leading ${JSON.stringify(sighed.cues?.leading_events)}, ` +
      `reply "${sighed.text}"`);
    assert.ok(sighed.cues?.leading_events?.some((e) => e.type === 'sigh'), 'the sigh is heard before the turn');
    assert.ok(comfort.includes(sighed.text), `"${sighed.text}" is not one of the persona's comfort lines`);
  });
});
