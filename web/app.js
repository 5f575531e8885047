// The Cadence page: wires the persona list, the Realtime connection, microphone and playback, the
// live transcript and the cue panel. Runs on the main thread. State a test may read is mirrored
// on window.cadence (see `hooks` below); nothing there is needed by the page itself.
import { AudioEngine } from './audio.js';
import { CueRows, CuesOf, DefaultPersonaId, Initials, NormalizePersonas } from './format.js';
import { ApplyLanguage, PickLanguage, T } from './i18n.js';
import { RealtimeClient, RealtimeUrl, kStates } from './realtime.js';

const $ = (id) => document.getElementById(id);
const Store = {
  get: (k) => { try { return localStorage.getItem(k); } catch { return null; } },
  set: (k, v) => { try { localStorage.setItem(k, v); } catch { /* private mode: not remembered */ } },
};

const hooks = {
  state: kStates.idle,
  connections: 0,
  transcripts: [],          // [{role: 'user'|'assistant', item_id, text, final, interrupted}]
  playback: { playing: false, samplesPlayed: 0, chunksReceived: 0 },
  speaking: false,
  cues: null,               // last paralinguistics event's cues
  personas: [],
  persona: '',
  mode: 'vad',
  lang: 'en',
  errors: [],               // messages shown to the user
  received: {},             // server event type -> count
  sent: {},                 // client event type -> count
  truncates: [],            // conversation.item.truncate events sent on barge-in
  lastSessionUpdate: null,
  lastTalkMs: 0,            // how long press-to-talk last sent audio
  commits: 0,               // input_audio_buffer.committed events received
  queuedAudioMs: 0,         // microphone audio held while the socket was opening, sent at open
  micSettings: null,        // the microphone track's applied settings (autoGainControl, ...)
};
window.cadence = hooks;
// For tests: ms of an assistant item's audio the worklet has played.
hooks.playedMs = (item_id) => audio.PlayedMs(item_id);

const ui = {
  lang: PickLanguage(Store.get('cadence.lang'), navigator.language),
  mode: Store.get('cadence.mode') === 'ptt' ? 'ptt' : 'vad',
  persona: Store.get('cadence.persona') || '',
  talking: false,            // press-to-talk button held
  response_id: '',           // the response currently streaming
  response_active: false,
  response_item_id: '',      // its assistant item
  muted_responses: new Set(),  // replies cut by barge-in: their late audio is dropped
  turn_elements: new Map(),  // item_id -> <li>
  default_persona: '',       // the server's own default (GET /v1/personas "default")
  user_turns: 0,             // committed audio turns and typed messages on this page
  response_after_turns: 0,
  sent_persona: false,       // a persona was sent on this page: "Default" must then be said explicitly
  generation: 0,             // bumped per connection: item ids are only unique within a session
  queued_audio: [],          // [{base64, samples}] captured while the socket is not open yet
  queued_samples: 0,
};

// Hands-free speech that starts before the socket is open (people talk right after pressing
// Connect; the handshake can take a while on a slow network or a busy server) is held and sent
// once the session is configured, instead of being dropped. Bounded: older audio goes first.
const kMaxQueuedAudioMs = 5000;
hooks.lang = ui.lang;
hooks.mode = ui.mode;
hooks.persona = ui.persona;

// ---- errors and state -------------------------------------------------------------------------

function ShowError(message) {
  hooks.errors.push(message);
  $('error-text').textContent = message;
  $('error').hidden = false;
}

function HideError() {
  $('error').hidden = true;
}

function RenderState() {
  const el = $('state');
  el.className = `state state-${hooks.state}`;
  const key = `state_${hooks.state}`;
  $('state-text').textContent = T(ui.lang, key, { attempt: ui.attempt || 1 });
  const connected = hooks.state !== kStates.idle && hooks.state !== kStates.closed;
  const button = $('connect');
  button.textContent = T(ui.lang, connected ? 'disconnect' : 'connect');
  button.classList.toggle('primary', !connected);
  RenderTalk();
}

function RenderTalk() {
  const talk = $('talk');
  const open = hooks.state === kStates.open;
  $('say-text').disabled = !open;
  $('say-send').disabled = !open;
  talk.disabled = !open || ui.mode !== 'ptt';
  talk.classList.toggle('listening', open && ui.mode === 'vad');
  talk.classList.toggle('speaking', hooks.speaking);
  talk.classList.toggle('active', ui.talking);
  let key = 'mic_off';
  if (open) key = ui.mode === 'vad' ? (hooks.speaking ? 'speaking' : 'listening') : (ui.talking ? 'release_to_send' : 'hold_to_talk');
  $('talk-text').textContent = T(ui.lang, key);
}

// ---- personas ---------------------------------------------------------------------------------

async function LoadPersonas() {
  try {
    const response = await fetch('/v1/personas', { headers: { Accept: 'application/json' } });
    if (!response.ok) throw new Error(`HTTP ${response.status} from GET /v1/personas`);
    const json = await response.json();
    hooks.personas = NormalizePersonas(json);
    ui.default_persona = DefaultPersonaId(json);
  } catch (e) {
    hooks.personas = [];
    RenderPersonas(T(ui.lang, 'personas_error', { message: e.message }));
    return;
  }
  if (ui.persona && !hooks.personas.some((p) => p.id === ui.persona)) ui.persona = '';
  RenderPersonas();
}

function PersonaItem(persona) {
  const li = document.createElement('li');
  li.className = 'persona';
  li.setAttribute('role', 'radio');
  li.tabIndex = 0;
  li.dataset.id = persona.id;
  li.setAttribute('aria-checked', String(persona.id === ui.persona));
  let avatar;
  if (persona.avatar) {
    avatar = Object.assign(document.createElement('img'), { src: persona.avatar, alt: '', className: 'avatar' });
  } else {
    avatar = Object.assign(document.createElement('span'), { className: 'avatar', textContent: Initials(persona.name) });
  }
  const body = document.createElement('div');
  body.append(Object.assign(document.createElement('div'), { className: 'name', textContent: persona.name }));
  if (persona.greeting) {
    body.append(Object.assign(document.createElement('div'), { className: 'greeting', textContent: persona.greeting }));
  }
  li.append(avatar, body);
  const choose = () => SelectPersona(persona.id);
  li.addEventListener('click', choose);
  li.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); choose(); } });
  return li;
}

function RenderPersonas(note) {
  const list = $('personas');
  const fallback = hooks.personas.find((p) => p.id === ui.default_persona);
  const items = [PersonaItem({
    id: '', name: T(ui.lang, 'default_persona'), avatar: '',
    greeting: fallback ? T(ui.lang, 'default_is', { name: fallback.name }) : T(ui.lang, 'default_greeting'),
  })];
  for (const p of hooks.personas) items.push(PersonaItem(p));
  if (note || hooks.personas.length === 0) {
    items.push(Object.assign(document.createElement('li'), { className: 'muted', textContent: note || T(ui.lang, 'personas_none') }));
  }
  list.replaceChildren(...items);
  hooks.persona = ui.persona;
}

function SelectPersona(id) {
  if (id === ui.persona) return;
  ui.persona = id;
  Store.set('cadence.persona', id);
  RenderPersonas();
  // A new character is a new conversation: clear the view and tell the server.
  if (hooks.state === kStates.open) {
    ClearTranscript();
    SendSessionUpdate();
  }
}

// ---- transcript -------------------------------------------------------------------------------

function ClearTranscript() {
  hooks.transcripts.length = 0;
  ui.turn_elements.clear();
  $('transcript').replaceChildren(Object.assign(document.createElement('li'), {
    className: 'empty', textContent: T(ui.lang, 'transcript_empty'),
  }));
}

function FindTurn(role, item_id) {
  return hooks.transcripts.find((t) => t.item_id === item_id && t.role === role && t.gen === ui.generation);
}

function Turn(role, item_id) {
  let turn = FindTurn(role, item_id);
  if (turn) return turn;
  turn = { role, item_id, text: '', final: false, interrupted: false, gen: ui.generation };
  // How many user turns came before this reply began (0: a greeting, not an answer).
  if (role === 'assistant') turn.after_user_turns = ui.response_after_turns;
  hooks.transcripts.push(turn);
  const li = document.createElement('li');
  li.className = `turn ${role} partial`;
  li.append(Object.assign(document.createElement('span'), { className: 'who', textContent: T(ui.lang, role === 'user' ? 'you' : 'assistant') }),
    Object.assign(document.createElement('span'), { className: 'text', textContent: '…' }));
  const list = $('transcript');
  list.querySelector('.empty')?.remove();
  list.append(li);
  ui.turn_elements.set(`${turn.gen}:${role}:${item_id}`, li);
  return turn;
}

function RenderTurn(turn) {
  const li = ui.turn_elements.get(`${turn.gen}:${turn.role}:${turn.item_id}`);
  if (!li) return;
  li.classList.toggle('partial', !turn.final);
  li.querySelector('.text').textContent = turn.text || '…';
  if (turn.interrupted && !li.querySelector('.tag')) {
    li.append(Object.assign(document.createElement('span'), { className: 'tag', textContent: T(ui.lang, 'interrupted') }));
  }
  const list = $('transcript');
  list.scrollTop = list.scrollHeight;
}

// ---- cues -------------------------------------------------------------------------------------

function RenderCues() {
  const dl = $('cues');
  const rows = CueRows(hooks.cues, ui.lang);
  if (rows.length === 0) {
    dl.replaceChildren(Object.assign(document.createElement('div'), { className: 'muted', textContent: T(ui.lang, 'cues_empty') }));
    return;
  }
  const children = [];
  for (const row of rows) {
    children.push(Object.assign(document.createElement('dt'), { textContent: row.label }));
    children.push(Object.assign(document.createElement('dd'), { textContent: row.value, className: `cue-${row.key}` }));
  }
  dl.replaceChildren(...children);
}

// ---- audio ------------------------------------------------------------------------------------

const audio = new AudioEngine({
  onAudio: (base64, samples) => SendAudio(base64, samples),
  onLevel: (rms) => { $('level').style.width = `${Math.min(100, Math.sqrt(rms) * 220)}%`; },
  onPlayback: ({ playing, samplesPlayed }) => {
    hooks.playback.playing = playing;
    hooks.playback.samplesPlayed = samplesPlayed;
    $('playback').hidden = !playing;
  },
});

// Barge-in: stop the reply at once, tell the server how much of it was heard.
async function BargeIn({ cancel }) {
  if (ui.response_active && ui.response_id) ui.muted_responses.add(ui.response_id);
  if (cancel && ui.response_active) Send({ type: 'response.cancel' });
  const heard = await audio.StopPlayback();
  // Truncate only a reply that was cut short: one whose audio was still queued, or the streaming one.
  const streaming = ui.response_active && heard && heard.item_id === ui.response_item_id;
  if (!heard || !(heard.cut || streaming)) return;
  const event = { type: 'conversation.item.truncate', item_id: heard.item_id, content_index: 0, audio_end_ms: heard.played_ms };
  hooks.truncates.push({ ...event, samplesPlayed: audio.samplesPlayed, playingAfter: audio.playing });
  Send(event);
  const turn = FindTurn('assistant', heard.item_id);
  if (turn) {
    turn.interrupted = true;
    RenderTurn(turn);
  }
}

// ---- protocol ---------------------------------------------------------------------------------

let client = null;

function Send(event) {
  if (!client || !client.Send(event)) return false;
  hooks.sent[event.type] = (hooks.sent[event.type] || 0) + 1;
  return true;
}

function SendAudio(base64, samples) {
  if (hooks.state === kStates.open && Send({ type: 'input_audio_buffer.append', audio: base64 })) return;
  if (hooks.state !== kStates.connecting && hooks.state !== kStates.reconnecting) return;
  ui.queued_audio.push({ base64, samples });
  ui.queued_samples += samples;
  const max_samples = (kMaxQueuedAudioMs * 24000) / 1000;
  while (ui.queued_samples > max_samples && ui.queued_audio.length > 1) {
    ui.queued_samples -= ui.queued_audio.shift().samples;
  }
}

// After session.update, so the audio is read with the page's format and turn detection.
function FlushQueuedAudio() {
  hooks.queuedAudioMs = Math.round((ui.queued_samples * 1000) / 24000);
  const queued = ui.queued_audio;
  ui.queued_audio = [];
  ui.queued_samples = 0;
  for (const chunk of queued) Send({ type: 'input_audio_buffer.append', audio: chunk.base64 });
}

function DropQueuedAudio() {
  ui.queued_audio = [];
  ui.queued_samples = 0;
}

function SendSessionUpdate() {
  const session = {
    type: 'realtime',
    output_modalities: ['audio'],
    audio: {
      input: {
        format: { type: 'audio/pcm', rate: 24000 },
        transcription: {},
        turn_detection: ui.mode === 'vad'
          ? { type: 'server_vad', create_response: true, interrupt_response: true }
          : null,
      },
      output: { format: { type: 'audio/pcm', rate: 24000 } },
    },
    paralinguistics: true,
  };
  if (ui.persona) {
    session.persona = ui.persona;
    ui.sent_persona = true;
  } else if (ui.sent_persona) {
    // Back to "Default" after a choice: name the server's default (null when it has none).
    session.persona = ui.default_persona || null;
  }
  hooks.lastSessionUpdate = session;
  Send({ type: 'session.update', session });
}

function OnEvent(event) {
  const type = event.type;
  hooks.received[type] = (hooks.received[type] || 0) + 1;
  switch (type) {
    case 'error': {
      const err = event.error || {};
      ShowError(T(ui.lang, 'error_server', { code: err.code || err.type || '?', message: err.message || JSON.stringify(err) }));
      break;
    }
    case 'input_audio_buffer.speech_started':
      hooks.speaking = true;
      RenderTalk();
      if (event.item_id) Turn('user', event.item_id);
      BargeIn({ cancel: false });  // the server cancels the reply itself (interrupt_response)
      break;
    case 'input_audio_buffer.speech_stopped':
      hooks.speaking = false;
      RenderTalk();
      break;
    case 'conversation.item.added':
    case 'conversation.item.created': {
      // Typed user turns show up here (spoken ones through the transcription events).
      const item = event.item || {};
      const typed = item.role === 'user' && (item.content || []).find((c) => c.type === 'input_text');
      if (!typed || !item.id) break;
      if (!FindTurn('user', item.id)) ui.user_turns++;
      const turn = Turn('user', item.id);
      turn.text = typed.text || '';
      turn.final = true;
      RenderTurn(turn);
      break;
    }
    case 'input_audio_buffer.committed':
      hooks.commits++;
      ui.user_turns++;
      if (event.item_id) Turn('user', event.item_id);
      break;
    case 'conversation.item.input_audio_transcription.delta': {
      const turn = Turn('user', event.item_id);
      turn.text += event.delta || '';
      RenderTurn(turn);
      break;
    }
    case 'conversation.item.input_audio_transcription.completed': {
      const turn = Turn('user', event.item_id);
      turn.text = event.transcript ?? turn.text;
      turn.final = true;
      RenderTurn(turn);
      break;
    }
    case 'conversation.item.input_audio_transcription.failed': {
      const turn = Turn('user', event.item_id);
      turn.final = true;
      RenderTurn(turn);
      ShowError(T(ui.lang, 'error_server', { code: event.error?.code || 'transcription', message: event.error?.message || 'transcription failed' }));
      break;
    }
    case 'conversation.item.input_audio_paralinguistics.completed':
      hooks.cues = CuesOf(event);
      RenderCues();
      break;
    case 'response.created':
      ui.response_id = event.response?.id || '';
      ui.response_active = true;
      ui.response_after_turns = ui.user_turns;
      break;
    case 'response.output_item.added':
      if (event.response_id === ui.response_id) ui.response_item_id = event.item?.id || '';
      if (event.item?.role === 'assistant' && !ui.muted_responses.has(event.response_id)) Turn('assistant', event.item.id);
      break;
    case 'response.output_audio.delta':
    case 'response.audio.delta':
      if (ui.muted_responses.has(event.response_id)) break;
      hooks.playback.chunksReceived++;
      Turn('assistant', event.item_id);
      audio.Enqueue(event.item_id, event.delta);
      break;
    case 'response.output_audio.done':
    case 'response.audio.done':
      if (!ui.muted_responses.has(event.response_id)) audio.EndItem(event.item_id);
      break;
    case 'response.output_audio_transcript.delta':
    case 'response.audio_transcript.delta':
    case 'response.output_text.delta':
    case 'response.text.delta': {
      const turn = Turn('assistant', event.item_id);
      turn.text += event.delta || '';
      RenderTurn(turn);
      break;
    }
    case 'response.output_audio_transcript.done':
    case 'response.audio_transcript.done':
    case 'response.output_text.done':
    case 'response.text.done': {
      const turn = Turn('assistant', event.item_id);
      if (typeof event.transcript === 'string') turn.text = event.transcript;
      if (typeof event.text === 'string') turn.text = event.text;
      turn.final = true;
      RenderTurn(turn);
      break;
    }
    case 'response.done': {
      const response = event.response || {};
      if (response.id === ui.response_id) ui.response_active = false;
      if (response.status === 'cancelled' || response.status === 'incomplete') {
        for (const item of response.output || []) {
          const turn = FindTurn('assistant', item.id);
          if (turn) { turn.interrupted = true; turn.final = true; RenderTurn(turn); }
        }
      } else if (response.status === 'failed') {
        const err = response.status_details?.error || {};
        ShowError(T(ui.lang, 'error_server', { code: err.code || 'response_failed', message: err.message || 'the reply failed' }));
      }
      break;
    }
    case 'conversation.item.truncated': {
      const turn = FindTurn('assistant', event.item_id);
      if (turn) { turn.interrupted = true; RenderTurn(turn); }
      break;
    }
    default:
      break;
  }
}

function OnState(state, detail) {
  hooks.state = state;
  ui.attempt = detail.attempt;
  if (state === kStates.open) {
    hooks.connections++;
    ui.generation++;
    ui.muted_responses.clear();
    ui.response_id = '';
    ui.response_item_id = '';
    HideError();
    ui.response_active = false;
    SendSessionUpdate();
    if (ui.mode === 'vad') FlushQueuedAudio();
    DropQueuedAudio();
    audio.SetSending(ui.mode === 'vad');
  } else {
    // While (re)connecting, hands-free capture keeps going into the queue.
    const opening = state === kStates.connecting || state === kStates.reconnecting;
    audio.SetSending(opening && ui.mode === 'vad');
    if (!opening) DropQueuedAudio();
    hooks.speaking = false;
  }
  RenderState();
}

async function ToggleConnection() {
  const connected = client && hooks.state !== kStates.idle && hooks.state !== kStates.closed;
  if (connected) {
    client.Close();
    audio.StopMic();
    await audio.StopPlayback();
    return;
  }
  HideError();
  try {
    await audio.Open();
    await audio.StartMic({ auto_gain: $('agc').checked });
    hooks.micSettings = audio.micSettings;
  } catch (e) {
    // Still connect: replies can be heard and typed events still work without a microphone.
    ShowError(T(ui.lang, 'error_mic', { message: e.message }));
  }
  const key = $('api-key').value.trim();
  Store.set('cadence.key', key);
  client = new RealtimeClient({
    url: RealtimeUrl(location),
    apiKey: key,
    onEvent: OnEvent,
    onState: OnState,
    onError: (e) => ShowError(e.message),
  });
  client.Connect();
}

// ---- typed messages ---------------------------------------------------------------------------

// A typed turn: a user text item and a reply to it, cutting off a reply that is still playing.
async function SayText(text) {
  text = text.trim();
  if (!text || hooks.state !== kStates.open) return;
  await BargeIn({ cancel: true });
  Send({ type: 'conversation.item.create', item: { type: 'message', role: 'user', content: [{ type: 'input_text', text }] } });
  Send({ type: 'response.create' });
}

// ---- press to talk ----------------------------------------------------------------------------

async function TalkStart() {
  if (ui.mode !== 'ptt' || hooks.state !== kStates.open || ui.talking) return;
  ui.talking = true;
  RenderTalk();
  await BargeIn({ cancel: true });
  Send({ type: 'input_audio_buffer.clear' });
  audio.SetSending(true);
  ui.talk_started_ms = performance.now();
}

function TalkEnd() {
  if (!ui.talking) return;
  ui.talking = false;
  audio.SetSending(false);
  hooks.lastTalkMs = Math.round(performance.now() - ui.talk_started_ms);
  RenderTalk();
  Send({ type: 'input_audio_buffer.commit' });
  Send({ type: 'response.create' });
}

function SetMode(mode) {
  ui.mode = mode;
  hooks.speaking = false;
  hooks.mode = mode;
  Store.set('cadence.mode', mode);
  if (hooks.state === kStates.open) {
    SendSessionUpdate();
    audio.SetSending(mode === 'vad');
  }
  RenderTalk();
}

function SetLanguage(lang) {
  ui.lang = lang;
  hooks.lang = lang;
  Store.set('cadence.lang', lang);
  ApplyLanguage(document, lang);
  RenderState();
  RenderPersonas();
  RenderCues();
  for (const [key, li] of ui.turn_elements) {
    li.querySelector('.who').textContent = T(lang, key.includes(':user:') ? 'you' : 'assistant');
    const tag = li.querySelector('.tag');
    if (tag) tag.textContent = T(lang, 'interrupted');
  }
  if (hooks.transcripts.length === 0) ClearTranscript();
}

// ---- wiring -----------------------------------------------------------------------------------

function Init() {
  $('api-key').value = Store.get('cadence.key') || '';
  $('agc').checked = Store.get('cadence.agc') === '1';
  $('agc').addEventListener('change', () => Store.set('cadence.agc', $('agc').checked ? '1' : '0'));
  for (const input of document.querySelectorAll('input[name="mode"]')) {
    input.checked = input.value === ui.mode;
    input.addEventListener('change', () => { if (input.checked) SetMode(input.value); });
  }
  $('connect').addEventListener('click', ToggleConnection);
  $('say').addEventListener('submit', (e) => {
    e.preventDefault();
    const input = $('say-text');
    const text = input.value;
    input.value = '';
    SayText(text);
  });
  $('lang').addEventListener('click', () => SetLanguage(ui.lang === 'en' ? 'zh' : 'en'));
  $('error-dismiss').addEventListener('click', HideError);
  const talk = $('talk');
  talk.addEventListener('pointerdown', (e) => { talk.setPointerCapture(e.pointerId); TalkStart(); });
  talk.addEventListener('pointerup', TalkEnd);
  talk.addEventListener('pointercancel', TalkEnd);
  document.addEventListener('keydown', (e) => {
    if (e.code === 'Space' && !e.repeat && e.target === document.body) { e.preventDefault(); TalkStart(); }
  });
  document.addEventListener('keyup', (e) => { if (e.code === 'Space' && e.target === document.body) TalkEnd(); });
  SetLanguage(ui.lang);
  ClearTranscript();
  LoadPersonas();
}

Init();
