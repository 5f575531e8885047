// Unit tests for web/format.js and web/i18n.js: persona list shapes the server may send, the cue
// panel rows for full, partial and malformed cue events, and the English/Chinese strings.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { CueRows, CuesOf, DefaultPersonaId, Initials, NormalizePersonas } from '../../web/format.js';
import { PickLanguage, T, kStrings } from '../../web/i18n.js';

test('personas: the server list shape {object, default, data}', () => {
  const json = {
    object: 'list', default: 'ada',
    data: [
      { id: 'ada', name: 'Ada', greeting: 'Hello.', avatar: 'data:image/png;base64,AAAA', languages: ['en'] },
      { id: 'li', name: '李白', greeting: '你好', avatar: null },
      { name: 'no id but a name' },
      { greeting: 'neither id nor name: skipped' },
      null, 7,
    ],
  };
  assert.equal(DefaultPersonaId(json), 'ada');
  assert.deepEqual(NormalizePersonas(json), [
    { id: 'ada', name: 'Ada', greeting: 'Hello.', avatar: 'data:image/png;base64,AAAA' },
    { id: 'li', name: '李白', greeting: '你好', avatar: '' },
    { id: 'no id but a name', name: 'no id but a name', greeting: '', avatar: '' },
  ]);
});

test('personas: bare arrays, {personas}, Character Card V2 entries; unsafe avatars dropped', () => {
  assert.equal(NormalizePersonas([{ id: 'a', name: 'A' }]).length, 1);
  assert.equal(NormalizePersonas({ personas: [{ id: 'a' }] })[0].name, 'a');
  const card = NormalizePersonas([{ id: 'x', data: { name: 'Card', first_mes: 'Hi from the card' } }])[0];
  assert.equal(card.name, 'Card');
  assert.equal(card.greeting, 'Hi from the card');
  assert.equal(NormalizePersonas([{ id: 'x', avatar: 'javascript:alert(1)' }])[0].avatar, '');
  assert.equal(DefaultPersonaId([{ id: 'a' }]), '');
  assert.throws(() => NormalizePersonas({ error: 'nope' }), /did not return a list/);
});

test('initials: Latin initials, first character of a CJK name, ? for empty', () => {
  assert.equal(Initials('ada lovelace'), 'AL');
  assert.equal(Initials('Socrates'), 'S');
  assert.equal(Initials('李白'), '李');
  assert.equal(Initials('  '), '?');
});

test('cue rows: a full cue event in English and Chinese', () => {
  const event = {
    type: 'conversation.item.input_audio_paralinguistics.completed', item_id: 'item_1',
    cues: {
      pitch: { mean_hz: 212.4, range_st: 5.26 }, loudness: { mean_db: -23.46 },
      speaking_rate: { syllables_per_s: 4.25 }, pauses: { count: 2, longest_s: 0.61 },
      events: [{ type: 'laughter', start_s: 1.24, end_s: 1.9, confidence: 0.83 }],
      state: { summary: 'excited', arousal: { label: 'high', confidence: 0.7 } },
    },
  };
  const cues = CuesOf(event);
  assert.deepEqual(CueRows(cues, 'en').map((r) => [r.key, r.value]), [
    ['pitch', '212 Hz ± 5.3 st'], ['loudness', '-23.5 dB'], ['rate', '4.3 syl/s'], ['pauses', '2 (≤ 0.6 s)'],
    ['events', 'laughter @1.2s (83%)'], ['mood', 'excited'], ['arousal', 'high (70%)'],
  ]);
  const zh = CueRows(cues, 'zh');
  assert.deepEqual(zh.map((r) => r.label), ['音高', '响度', '语速', '停顿', '声音事件', '情绪', '激活度']);
  assert.equal(zh.find((r) => r.key === 'events').value, '笑声 @1.2s (83%)');
  assert.equal(zh.find((r) => r.key === 'mood').value, '兴奋');
});

test('cue rows: partial and malformed cues show only what is there', () => {
  assert.deepEqual(CueRows(CuesOf({ cues: { pitch: { mean_hz: 0 }, state: { summary: 'calm' } } }), 'en')
    .map((r) => r.key), ['mood']);
  assert.deepEqual(CueRows(CuesOf({ paralinguistics: { loudness: { mean_db: 'loud' }, events: [] } }), 'en'),
    [{ key: 'events', label: 'Sounds', value: 'none' }]);
  assert.deepEqual(CueRows(null, 'en'), []);
  // A sigh just before the turn is listed first, at its (negative) time.
  assert.equal(CueRows(CuesOf({ cues: { events: [{ type: 'laughter', start_s: 0.5, confidence: 1 }],
    leading_events: [{ type: 'sigh', start_s: -2.04, end_s: -1.3, confidence: 0.96 }] } }), 'en')
    .find((r) => r.key === 'events').value, 'sigh @-2.0s (96%), laughter @0.5s (100%)');
  assert.deepEqual(CueRows(CuesOf({ events: [{ type: 7 }, { type: 'sigh' }] }), 'en').map((r) => r.value), ['sigh']);
});

test('strings: every English key has a Chinese translation, placeholders are filled', () => {
  const missing = Object.keys(kStrings.en).filter((k) => !(k in kStrings.zh));
  assert.deepEqual(missing, []);
  for (const [key, text] of Object.entries(kStrings.zh)) {
    const en_args = (kStrings.en[key].match(/\{\w+\}/g) || []).sort();
    assert.deepEqual((text.match(/\{\w+\}/g) || []).sort(), en_args, `placeholders of ${key}`);
  }
  assert.equal(T('zh', 'state_reconnecting', { attempt: 3 }), '正在重新连接（第 3 次）…');
  assert.equal(T('en', 'error_server', { code: 'x', message: 'y' }), 'Server error (x): y');
  assert.equal(PickLanguage(null, 'zh-CN'), 'zh');
  assert.equal(PickLanguage(null, 'en-GB'), 'en');
  assert.equal(PickLanguage('en', 'zh-TW'), 'en');
});
