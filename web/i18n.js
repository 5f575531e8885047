// UI strings in English and Mandarin Chinese. Elements carry data-i18n="key" (text) or
// data-i18n-title / data-i18n-placeholder; T() formats strings with {name} placeholders.
export const kStrings = {
  en: {
    tagline: 'Realtime voice, on your own machine',
    personas: 'Personas',
    personas_loading: 'Loading personas…',
    personas_none: 'No personas on this server; the default voice will answer.',
    personas_error: 'Could not load personas: {message}',
    default_persona: 'Default',
    default_greeting: 'The server\'s default assistant.',
    default_is: 'The server\'s default: {name}.',
    connect: 'Connect',
    disconnect: 'Disconnect',
    mode: 'Mode',
    hands_free: 'Hands-free',
    push_to_talk: 'Press to talk',
    hold_to_talk: 'Hold to talk',
    release_to_send: 'Release to send',
    listening: 'Listening — just speak',
    mic_off: 'Connect to start talking',
    state_idle: 'Not connected',
    state_connecting: 'Connecting…',
    state_open: 'Connected',
    state_reconnecting: 'Reconnecting (attempt {attempt})…',
    state_closed: 'Disconnected',
    transcript: 'Conversation',
    transcript_empty: 'Say something. Your words and the replies appear here as they are spoken.',
    you: 'You',
    assistant: 'Assistant',
    interrupted: 'interrupted',
    cues: 'How you sound',
    cues_hint: 'Voice cues of your last utterance (pitch, loudness, rate, sounds, mood).',
    cues_empty: 'Speak to see your voice cues.',
    pitch: 'Pitch',
    loudness: 'Loudness',
    rate: 'Speaking rate',
    pauses: 'Pauses',
    events: 'Sounds',
    mood: 'Mood',
    arousal: 'Arousal',
    none: 'none',
    speaking: 'Speaking',
    playing: 'Reply playing',
    settings: 'Settings',
    api_key: 'API key',
    agc: 'Automatic gain',
    agc_hint: 'For a very quiet microphone only: it can clip the first words. Applies at the next Connect.',
    api_key_hint: 'Only if the server asks for one',
    dismiss: 'Dismiss',
    type_hint: 'Or type a message and press Enter',
    send: 'Send',
    error: 'Error',
    error_mic: 'Microphone unavailable: {message}',
    error_server: 'Server error ({code}): {message}',
    language: '中文',
  },
  zh: {
    tagline: '实时语音，运行在你自己的机器上',
    personas: '角色',
    personas_loading: '正在加载角色…',
    personas_none: '服务器上没有角色，将使用默认声音回答。',
    personas_error: '无法加载角色：{message}',
    default_persona: '默认',
    default_greeting: '服务器的默认助手。',
    default_is: '服务器默认：{name}。',
    connect: '连接',
    disconnect: '断开',
    mode: '模式',
    hands_free: '免提',
    push_to_talk: '按住说话',
    hold_to_talk: '按住说话',
    release_to_send: '松开发送',
    listening: '正在聆听——直接说话即可',
    mic_off: '连接后即可开始说话',
    state_idle: '未连接',
    state_connecting: '正在连接…',
    state_open: '已连接',
    state_reconnecting: '正在重新连接（第 {attempt} 次）…',
    state_closed: '已断开',
    transcript: '对话',
    transcript_empty: '说点什么吧。你的话和回复会在说出时显示在这里。',
    you: '你',
    assistant: '助手',
    interrupted: '已打断',
    cues: '你的声音',
    cues_hint: '你上一句话的声音线索（音高、响度、语速、声音事件、情绪）。',
    cues_empty: '说话后即可看到你的声音线索。',
    pitch: '音高',
    loudness: '响度',
    rate: '语速',
    pauses: '停顿',
    events: '声音事件',
    mood: '情绪',
    arousal: '激活度',
    none: '无',
    speaking: '正在说话',
    playing: '正在播放回复',
    settings: '设置',
    api_key: 'API 密钥',
    agc: '自动增益',
    agc_hint: '仅用于音量很小的麦克风：它可能削坏开头的几个字。下次连接时生效。',
    api_key_hint: '仅当服务器要求时填写',
    dismiss: '关闭',
    type_hint: '也可以输入文字，按回车发送',
    send: '发送',
    error: '错误',
    error_mic: '麦克风不可用：{message}',
    error_server: '服务器错误（{code}）：{message}',
    language: 'English',
  },
};

// Names of nonverbal events as the paralinguistics engine reports them.
export const kEventNames = {
  en: { laughter: 'laughter', laugh: 'laughter', sigh: 'sigh', breath: 'breath', cough: 'cough' },
  zh: { laughter: '笑声', laugh: '笑声', sigh: '叹气', breath: '呼吸', cough: '咳嗽' },
};

export function PickLanguage(stored, navigator_language) {
  if (stored === 'en' || stored === 'zh') return stored;
  return /^zh/i.test(navigator_language || '') ? 'zh' : 'en';
}

export function T(lang, key, args = {}) {
  const table = kStrings[lang] || kStrings.en;
  const text = table[key] ?? kStrings.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in args ? String(args[name]) : `{${name}}`));
}

export function ApplyLanguage(root, lang) {
  root.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = T(lang, el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-title]')) el.title = T(lang, el.dataset.i18nTitle);
  for (const el of root.querySelectorAll('[data-i18n-placeholder]')) {
    el.placeholder = T(lang, el.dataset.i18nPlaceholder);
  }
}
