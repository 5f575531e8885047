// Black-box: `cadence analyze` as a user runs it on real recordings (../shared/data/speech).
// The JSON keeps the documented shape; its pitch and voice quality agree with Praat run on the same
// file at test time (the tolerances of paralinguistics_test); a cough alone and silence are valid
// input; `--frames` is the 10 ms track the cues come from; a 44.1 kHz stereo copy reads like the
// 16 kHz mono original; unreadable files are clear errors naming the file.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';

import { kBinary, kRepo, TempDir } from '../protocol/harness.mjs';
import { PraatReference } from './praat.mjs';

const kSpeech = join(kRepo, '..', 'shared', 'data', 'speech');

function Analyze(args) {
  return spawnSync(kBinary, ['analyze', ...args], { encoding: 'utf8' });
}

function AnalyzeJson(wav) {
  const run = Analyze([wav, '--json']);
  assert.equal(run.status, 0, run.stderr);
  return JSON.parse(run.stdout);
}

const Near = (got, want, relative, what) =>
  assert.ok(Math.abs(got - want) <= relative * Math.abs(want), `${what}: ${got} against Praat's ${want} (±${relative * 100} %)`);

const kLabel = { type: 'object' };
function ExpectShape(cues) {
  for (const [path, type] of [
    ['duration_s', 'number'], ['speech_s', 'number'], ['pitch.mean_hz', 'number'], ['pitch.range_st', 'number'],
    ['loudness.mean_db', 'number'], ['speaking_rate.syllables_per_s', 'number'], ['speaking_rate.syllables', 'number'],
    ['pauses.count', 'number'], ['pauses.mean_s', 'number'], ['pauses.longest_s', 'number'],
    ['voice_quality.jitter', 'number'], ['voice_quality.shimmer', 'number'], ['voice_quality.hnr_db', 'number'],
    ['traits.gender', kLabel], ['traits.age_group', kLabel], ['state.arousal', kLabel], ['state.fatigue', 'number'],
    ['state.frustration', 'number'], ['state.excitement', 'number'], ['state.calm', 'number'],
  ]) {
    const value = path.split('.').reduce((o, k) => (o == null ? undefined : o[k]), cues);
    if (type === kLabel) {
      assert.equal(typeof value?.label, 'string', `${path}.label`);
      assert.equal(typeof value?.confidence, 'number', `${path}.confidence`);
    } else {
      assert.equal(typeof value, type, `${path} is ${JSON.stringify(value)}`);
      assert.ok(Number.isFinite(value), `${path} is ${value}`);
    }
  }
  assert.ok(['', 'low', 'normal', 'high'].includes(cues.state.arousal.label), cues.state.arousal.label);
  assert.ok(Array.isArray(cues.events));
  for (const e of cues.events) {
    assert.ok(['laughter', 'sigh', 'breath', 'cough'].includes(e.type), e.type);
    assert.ok(e.start_s >= 0 && e.end_s > e.start_s && e.end_s <= cues.duration_s + 0.01, JSON.stringify(e));
    assert.ok(e.confidence > 0 && e.confidence <= 1, JSON.stringify(e));
  }
}

describe('cadence analyze', () => {
  for (const clip of ['en_f_ljspeech_LJ002-0020.wav', 'zh_aishell_BAC009S0724W0121.wav']) {
    test(`--json on ${clip}: the documented shape, pitch and voice quality as Praat reads them`, () => {
      const wav = join(kSpeech, clip);
      const cues = AnalyzeJson(wav);
      ExpectShape(cues);
      const praat = PraatReference(wav);
      Near(cues.pitch.mean_hz, praat.mean_hz, 0.05, 'pitch.mean_hz');
      Near(cues.voice_quality.jitter, praat.jitter, 0.15, 'voice_quality.jitter');
      Near(cues.voice_quality.shimmer, praat.shimmer, 0.10, 'voice_quality.shimmer');
      assert.ok(cues.speech_s > 1 && cues.speech_s <= cues.duration_s, `speech_s ${cues.speech_s}`);
      assert.ok(cues.speaking_rate.syllables >= 5, `${cues.speaking_rate.syllables} syllables in a sentence`);
      assert.ok(cues.traits.gender.label !== '', 'a voice to judge');
    });
  }

  test('a cough alone and plain silence are valid input', () => {
    const cough = AnalyzeJson(join(kSpeech, 'nv_m_coughing_79S3_4_3_1_37_0_0_0.wav'));
    ExpectShape(cough);
    assert.ok(cough.events.length > 0, 'the cough is an event');

    const silence = join(TempDir('cadence-analyze-'), 'silence.wav');
    execFileSync('sox', ['-n', '-r', '16000', '-b', '16', '-c', '1', silence, 'trim', '0', '1.5']);
    const quiet = AnalyzeJson(silence);
    ExpectShape(quiet);
    assert.equal(quiet.duration_s, 1.5);
    assert.equal(quiet.speech_s, 0);
    assert.equal(quiet.speaking_rate.syllables, 0);
    assert.deepEqual(quiet.events, []);
    assert.equal(quiet.traits.gender.label, '');
    const text = Analyze([silence]);
    assert.equal(text.status, 0, text.stderr);
    assert.match(text.stdout, /No speech was heard/);
  });

  test('--frames is the 10 ms track the cues are computed from', () => {
    const wav = join(kSpeech, 'en_f_ljspeech_LJ002-0020.wav');
    const run = Analyze([wav, '--frames']);
    assert.equal(run.status, 0, run.stderr);
    const [header, ...lines] = run.stdout.trim().split('\n');
    const columns = header.split(',');
    for (const name of ['time_s', 'class', 'f0_hz', 'intensity_db', 'hnr_db'])
      assert.ok(columns.includes(name), `column ${name} in ${header}`);
    const rows = lines.map((line) => Object.fromEntries(line.split(',').map((v, i) => [columns[i], v])));
    const cues = AnalyzeJson(wav);
    assert.ok(Math.abs(rows.length - cues.duration_s * 100) <= 2, `${rows.length} frames for ${cues.duration_s} s`);
    for (let i = 1; i < rows.length; ++i)
      assert.ok(Math.abs(rows[i].time_s - rows[i - 1].time_s - 0.01) < 1e-6, `frame ${i} at ${rows[i].time_s}`);
    const voiced = rows.filter((r) => r.class === 'voiced').map((r) => Number(r.f0_hz));
    assert.ok(voiced.length > 50 && voiced.every((f0) => f0 >= 75 && f0 <= 600), 'voiced frames carry an F0');
    const mean = voiced.reduce((a, b) => a + b, 0) / voiced.length;
    assert.ok(Math.abs(mean - cues.pitch.mean_hz) < 0.5, `frames' mean F0 ${mean} vs cues ${cues.pitch.mean_hz}`);
  });

  test('a 44.1 kHz stereo copy reads like the 16 kHz mono original', () => {
    const original = join(kSpeech, 'en_m_ravdess_01-01-01-01-01-01-01.wav');
    const copy = join(TempDir('cadence-analyze-'), 'stereo.wav');
    execFileSync('sox', [original, '-r', '44100', '-c', '2', copy]);
    const a = AnalyzeJson(original);
    const b = AnalyzeJson(copy);
    Near(b.duration_s, a.duration_s, 0.001, 'duration_s');
    Near(b.pitch.mean_hz, a.pitch.mean_hz, 0.01, 'pitch.mean_hz');
    assert.ok(Math.abs(b.loudness.mean_db - a.loudness.mean_db) < 0.5, `loudness ${b.loudness.mean_db} vs ${a.loudness.mean_db}`);
    assert.equal(b.speaking_rate.syllables, a.speaking_rate.syllables);
  });

  test('unreadable input is a clear error naming the file', () => {
    const dir = TempDir('cadence-analyze-');
    const missing = join(dir, 'absent.wav');
    let run = Analyze([missing]);
    assert.notEqual(run.status, 0);
    assert.ok(run.stderr.includes(missing), run.stderr);
    assert.match(run.stderr, /cannot open/);

    for (const [name, bytes] of [['text.wav', 'hello, this is not audio\n'], ['empty.wav', '']]) {
      const path = join(dir, name);
      writeFileSync(path, bytes);
      run = Analyze([path, '--json']);
      assert.notEqual(run.status, 0, `${name} was accepted`);
      assert.ok(run.stderr.includes(path), run.stderr);
      assert.match(run.stderr, /not a RIFF\/WAVE file/);
      assert.equal(run.stdout, '', 'no partial JSON on stdout');
      assert.doesNotMatch(run.stderr, /Segmentation|Aborted|terminate called/);
    }
  });
});
