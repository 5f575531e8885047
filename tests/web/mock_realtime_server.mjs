// A small stand-in for `cadence serve` used by page_mock.test.mjs: serves web/dist and
// GET /v1/personas, and speaks enough of the Realtime protocol to drive the page — an energy
// VAD over the appended pcm16, a transcript that states what it measured (never a pretend
// recognition), a measured loudness cue, and a reply that is a plain tone streamed in real time.
// It records what the page sent so the test can check it (audio rate, truncate, reconnects).
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname, join, normalize } from 'node:path';

import { WebSocketServer } from 'ws';

const kTypes = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml', '.json': 'application/json',
};
const kAvatar = `data:image/svg+xml;base64,${Buffer.from(
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 40 40"><rect width="40" height="40" fill="#f59e0b"/>' +
  '<circle cx="20" cy="16" r="8" fill="#fff"/><rect x="8" y="27" width="24" height="12" rx="6" fill="#fff"/></svg>').toString('base64')}`;
export const kMockPersonas = [
  { id: 'ada', name: 'Ada Lovelace', greeting: 'Good evening. Shall we talk about the Analytical Engine?', avatar: kAvatar },
  { id: 'libai', name: '李白', greeting: '举杯邀明月，对影成三人。今夜想聊些什么？' },
];

const kRateHz = 24000;
const kReplyMs = 2000;
const kChunkMs = 100;

export async function StartMockServer({ web_dir, port }) {
  const stats = {
    connections: 0, protocols: [], received: {}, append_bytes: 0, first_append_ms: 0, last_append_ms: 0,
    truncates: [], session_updates: [], responses: [],
  };
  const http = createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    if (url.pathname === '/v1/personas') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ personas: kMockPersonas }));
      return;
    }
    const rel = normalize(url.pathname === '/' ? '/index.html' : url.pathname).replace(/^(\.\.[/\\])+/, '');
    try {
      const body = readFileSync(join(web_dir, rel));
      res.writeHead(200, { 'content-type': kTypes[extname(rel)] || 'application/octet-stream' });
      res.end(body);
    } catch {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end(`not found: ${url.pathname}`);
    }
  });
  const sockets = new Set();
  const wss = new WebSocketServer({
    noServer: true,
    handleProtocols: (protocols) => (protocols.has('realtime') ? 'realtime' : false),
  });
  http.on('upgrade', (req, socket, head) => {
    if (!req.url.startsWith('/v1/realtime')) {
      socket.destroy();
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });
  wss.on('connection', (ws, req) => {
    stats.connections++;
    stats.protocols.push(req.headers['sec-websocket-protocol'] || '');
    sockets.add(ws);
    RunSession(ws, stats);
    ws.on('close', () => sockets.delete(ws));
  });
  await new Promise((resolve) => http.listen(port, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${port}/`,
    stats,
    // Simulates a network fault: every socket is cut without a close handshake.
    dropAll: () => { for (const ws of sockets) ws.terminate(); },
    close: async () => {
      for (const ws of sockets) ws.terminate();
      await new Promise((resolve) => http.close(resolve));
    },
  };
}

function RunSession(ws, stats) {
  let seq = 0;
  const id = (p) => `${p}_${++seq}`;
  const send = (event) => { if (ws.readyState === 1) ws.send(JSON.stringify({ event_id: id('event'), ...event })); };
  let vad = true;
  let speech_ms = 0;
  let silence_ms = 0;
  let in_speech = false;
  let utterance_ms = 0;
  let utterance_db = [];
  let user_item = '';
  let reply = null;  // {id, item_id, timer, sent_ms}
  let buffered_ms = 0;

  send({ type: 'session.created', session: { id: id('sess'), type: 'realtime', model: 'step-2.5-realtime' } });

  const cancelReply = (status) => {
    if (!reply) return;
    clearInterval(reply.timer);
    send({ type: 'response.done', response: { id: reply.id, status, output: [{ id: reply.item_id, type: 'message', role: 'assistant' }] } });
    stats.responses.push({ id: reply.id, item_id: reply.item_id, status, sent_ms: reply.sent_ms });
    reply = null;
  };

  const startReply = (heard_ms) => {
    const response_id = id('resp');
    const item_id = id('item');
    send({ type: 'response.created', response: { id: response_id, status: 'in_progress', output: [] } });
    send({ type: 'response.output_item.added', response_id, output_index: 0, item: { id: item_id, type: 'message', role: 'assistant', content: [] } });
    const words = `Mock reply: a ${kReplyMs / 1000} second tone for ${heard_ms} ms of speech.`.split(' ');
    reply = { id: response_id, item_id, sent_ms: 0, timer: null };
    const r = reply;
    let phase = 0;
    r.timer = setInterval(() => {
      const n = (kRateHz * kChunkMs) / 1000;
      const pcm = Buffer.alloc(n * 2);
      for (let i = 0; i < n; i++, phase++) pcm.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * 440 * phase) / kRateHz)), i * 2);
      const common = { response_id, item_id, output_index: 0, content_index: 0 };
      send({ type: 'response.output_audio.delta', ...common, delta: pcm.toString('base64') });
      const word = words[r.sent_ms / kChunkMs];
      if (word) send({ type: 'response.output_audio_transcript.delta', ...common, delta: `${r.sent_ms ? ' ' : ''}${word}` });
      r.sent_ms += kChunkMs;
      if (r.sent_ms >= kReplyMs) {
        send({ type: 'response.output_audio.done', ...common });
        send({ type: 'response.output_audio_transcript.done', ...common, transcript: words.join(' ') });
        cancelReply('completed');
      }
    }, kChunkMs);
  };

  ws.on('message', (data) => {
    let event;
    try {
      event = JSON.parse(data.toString());
    } catch {
      send({ type: 'error', error: { type: 'invalid_request_error', code: 'invalid_json', message: 'not JSON' } });
      return;
    }
    stats.received[event.type] = (stats.received[event.type] || 0) + 1;
    if (event.type === 'session.update') {
      stats.session_updates.push(event.session);
      vad = event.session?.audio?.input?.turn_detection !== null;
      send({ type: 'session.updated', session: event.session });
    } else if (event.type === 'input_audio_buffer.append') {
      const pcm = Buffer.from(event.audio, 'base64');
      const now = Date.now();
      if (!stats.first_append_ms) stats.first_append_ms = now;
      stats.last_append_ms = now;
      stats.append_bytes += pcm.length;
      const samples = pcm.length / 2;
      const chunk_ms = (samples * 1000) / kRateHz;
      buffered_ms += chunk_ms;
      let sum = 0;
      for (let i = 0; i < samples; i++) sum += (pcm.readInt16LE(i * 2) / 32768) ** 2;
      const db = 10 * Math.log10(sum / Math.max(1, samples) + 1e-12);
      if (!vad) return;
      const loud = db > -40;
      if (loud) { speech_ms += chunk_ms; silence_ms = 0; } else { silence_ms += chunk_ms; if (!in_speech) speech_ms = 0; }
      if (in_speech) { utterance_ms += chunk_ms; if (loud) utterance_db.push(db); }
      if (!in_speech && speech_ms >= 100) {
        in_speech = true;
        utterance_ms = speech_ms;
        utterance_db = [db];
        user_item = id('item');
        send({ type: 'input_audio_buffer.speech_started', audio_start_ms: 0, item_id: user_item });
        cancelReply('cancelled');  // interrupt_response
      } else if (in_speech && silence_ms >= 600) {
        in_speech = false;
        speech_ms = 0;
        const heard = Math.round(utterance_ms - silence_ms);
        send({ type: 'input_audio_buffer.speech_stopped', audio_end_ms: 0, item_id: user_item });
        send({ type: 'input_audio_buffer.committed', item_id: user_item, previous_item_id: null });
        send({ type: 'conversation.item.input_audio_transcription.completed', item_id: user_item, content_index: 0,
          transcript: `(mock) heard ${heard} ms of sound` });
        const mean_db = utterance_db.reduce((a, b) => a + b, 0) / utterance_db.length;
        send({ type: 'conversation.item.input_audio_paralinguistics.completed', item_id: user_item,
          paralinguistics: { loudness: { mean_db: mean_db }, events: [] } });
        startReply(heard);
      }
    } else if (event.type === 'input_audio_buffer.clear') {
      buffered_ms = 0;
      send({ type: 'input_audio_buffer.cleared' });
    } else if (event.type === 'input_audio_buffer.commit') {
      const item_id = id('item');
      stats.commits = (stats.commits || 0) + 1;
      send({ type: 'input_audio_buffer.committed', item_id, previous_item_id: null });
      send({ type: 'conversation.item.input_audio_transcription.completed', item_id, content_index: 0,
        transcript: `(mock) heard ${Math.round(buffered_ms)} ms of sound` });
      stats.committed_ms = buffered_ms;
      buffered_ms = 0;
    } else if (event.type === 'response.create') {
      startReply(Math.round(stats.committed_ms || 0));
    } else if (event.type === 'response.cancel') {
      cancelReply('cancelled');
    } else if (event.type === 'conversation.item.truncate') {
      stats.truncates.push({ ...event, at_ms: Date.now() });
      send({ type: 'conversation.item.truncated', item_id: event.item_id, content_index: 0, audio_end_ms: event.audio_end_ms });
    }
  });
  ws.on('close', () => { if (reply) clearInterval(reply.timer); reply = null; });
}
