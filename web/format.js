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
// The server's default persona id (`{"default": id}`), or ''.
export function DefaultPersonaId(json) {
  return json && typeof json === 'object' && !Array.isArray(json) && typeof json.default === 'string' ? json.default : '';
}

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

const kWords = {
  zh: {
    tired: '疲惫', frustrated: '沮丧', excited: '兴奋', calm: '平静', neutral: '中性', happy: '开心', sad: '难过',
    low: '低', normal: '正常', high: '高',
  },
};

function Word(lang, word) {
  return (kWords[lang] && kWords[lang][word]) || word;
}

// A Labelled value ({label, confidence}), a bare label or a number, as display text.
function LabelText(value, lang) {
  if (typeof value === 'string') return value ? Word(lang, value) : '';
  if (Num(value) !== null) return value.toFixed(2);
  if (value && typeof value === 'object' && typeof value.label === 'string' && value.label) {
    const conf = Num(value.confidence);
    return `${Word(lang, value.label)}${conf !== null ? ` (${Math.round(conf * 100)}%)` : ''}`;
  }
  return '';
}

// Rows [{key, label, value}] for whatever the cue event carries; absent fields are left out.
export function CueRows(cues, lang) {
  if (!cues || typeof cues !== 'object') return [];
  const rows = [];
  const pitch = Num(cues.pitch?.mean_hz);
  if (pitch !== null && pitch > 0) {
    const range = Num(cues.pitch?.range_st);
    rows.push({ key: 'pitch', label: T(lang, 'pitch'), value: `${Math.round(pitch)} Hz${range !== null && range > 0 ? ` ± ${range.toFixed(1)} st` : ''}` });
  }
  const loud = Num(cues.loudness?.mean_db);
  if (loud !== null) rows.push({ key: 'loudness', label: T(lang, 'loudness'), value: `${loud.toFixed(1)} dB` });
  const rate = Num(cues.speaking_rate?.syllables_per_s);
  if (rate !== null) {
    rows.push({ key: 'rate', label: T(lang, 'rate'), value: lang === 'zh' ? `${rate.toFixed(1)} 音节/秒` : `${rate.toFixed(1)} syl/s` });
  }
  const pauses = Num(cues.pauses?.count);
  if (pauses !== null) {
    const longest = Num(cues.pauses?.longest_s);
    rows.push({ key: 'pauses', label: T(lang, 'pauses'), value: `${pauses}${longest !== null && pauses > 0 ? ` (≤ ${longest.toFixed(1)} s)` : ''}` });
  }
  if (Array.isArray(cues.events)) {
    const names = kEventNames[lang] || kEventNames.en;
    // Sounds just before the turn (leading_events) come first, at negative times.
    const all = [...(Array.isArray(cues.leading_events) ? cues.leading_events : []), ...cues.events];
    const parts = all.filter((e) => e && typeof e.type === 'string').map((e) => {
      const conf = Num(e.confidence);
      const at = Num(e.start_s);
      return `${names[e.type] || e.type}${at !== null ? ` @${at.toFixed(1)}s` : ''}${conf !== null ? ` (${Math.round(conf * 100)}%)` : ''}`;
    });
    rows.push({ key: 'events', label: T(lang, 'events'), value: parts.length ? parts.join(', ') : T(lang, 'none') });
  }
  const summary = LabelText(cues.state?.summary, lang);
  if (summary) rows.push({ key: 'mood', label: T(lang, 'mood'), value: summary });
  const arousal = LabelText(cues.state?.arousal, lang);
  if (arousal) rows.push({ key: 'arousal', label: T(lang, 'arousal'), value: arousal });
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
