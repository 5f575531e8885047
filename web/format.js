// Pure helpers that turn server JSON into what the page shows: persona cards from GET /v1/personas
// and the rows of the paralinguistic cue panel. No DOM; tested in Node (tests/web/format.test.mjs).
import { kEventNames, T } from './i18n.js';

function FirstString(...values) {
  for (const v of values) if (typeof v === 'string' && v.trim() !== '') return v;
  return '';
}

// Accepts the list as an array, {personas: [...]}, {data: [...]} (OpenAI list style) or
// {items: [...]}; each card may be flat or a Character Card ({data: {name, first_mes}}).
// Returns [{id, name, greeting, avatar}] and never throws on odd entries: they are skipped.
export function NormalizePersonas(json) {
  const list = Array.isArray(json) ? json
    : Array.isArray(json?.personas) ? json.personas
      : Array.isArray(json?.data) ? json.data
        : Array.isArray(json?.items) ? json.items : null;
  if (!list) throw new Error('GET /v1/personas did not return a list (expected an array or {personas: [...]})');
  const out = [];
  for (const entry of list) {
    if (!entry || typeof entry !== 'object') continue;
    const card = entry.data && typeof entry.data === 'object' ? { ...entry.data, ...entry } : entry;
    const id = FirstString(card.id, card.persona_id, card.name);
    if (!id) continue;
    const avatar = FirstString(card.avatar, card.avatar_url, card.avatar_data_url, card.image);
    out.push({
      id,
      name: FirstString(card.name, card.display_name, id),
      greeting: FirstString(card.greeting, card.first_mes, card.description),
      // Only data: and http(s): avatars; anything else could smuggle script-like URLs.
      avatar: /^(data:image\/|https?:\/\/|\/)/i.test(avatar) ? avatar : '',
    });
  }
  return out;
}

export function Initials(name) {
  const words = String(name).trim().split(/\s+/).filter(Boolean);
  if (words.length === 0) return '?';
  // CJK names: first character reads better than initials.
  if (/[\u3400-\u9fff]/.test(words[0][0])) return words[0][0];
  return (words[0][0] + (words[1] ? words[1][0] : '')).toUpperCase();
}

function Num(v) {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

// Rows [{key, label, value}] for whatever the cue event carries; absent fields are left out.
export function CueRows(cues, lang) {
  if (!cues || typeof cues !== 'object') return [];
  const rows = [];
  const pitch = Num(cues.pitch?.mean_hz);
  if (pitch !== null) rows.push({ key: 'pitch', label: T(lang, 'pitch'), value: `${Math.round(pitch)} Hz` });
  const loud = Num(cues.loudness?.mean_db);
  if (loud !== null) rows.push({ key: 'loudness', label: T(lang, 'loudness'), value: `${loud.toFixed(1)} dB` });
  const rate = Num(cues.speaking_rate?.syllables_per_s);
  if (rate !== null) {
    rows.push({ key: 'rate', label: T(lang, 'rate'), value: lang === 'zh' ? `${rate.toFixed(1)} 音节/秒` : `${rate.toFixed(1)} syl/s` });
  }
  if (Array.isArray(cues.events)) {
    const names = kEventNames[lang] || kEventNames.en;
    const parts = cues.events.filter((e) => e && typeof e.type === 'string').map((e) => {
      const conf = Num(e.confidence);
      const at = Num(e.start_s);
      return `${names[e.type] || e.type}${at !== null ? ` @${at.toFixed(1)}s` : ''}${conf !== null ? ` (${Math.round(conf * 100)}%)` : ''}`;
    });
    rows.push({ key: 'events', label: T(lang, 'events'), value: parts.length ? parts.join(', ') : T(lang, 'none') });
  }
  const summary = FirstString(cues.state?.summary);
  if (summary) rows.push({ key: 'mood', label: T(lang, 'mood'), value: summary });
  const arousal = Num(cues.state?.arousal);
  if (arousal !== null) rows.push({ key: 'arousal', label: T(lang, 'arousal'), value: arousal.toFixed(2) });
  return rows;
}

// The cue payload of conversation.item.input_audio_paralinguistics.completed: the cues may sit at
// the top level of the event or under `paralinguistics` / `cues`.
export function CuesOf(event) {
  if (!event || typeof event !== 'object') return null;
  if (event.paralinguistics && typeof event.paralinguistics === 'object') return event.paralinguistics;
  if (event.cues && typeof event.cues === 'object') return event.cues;
  return event;
}
