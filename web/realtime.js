// RealtimeClient: one WebSocket to a Cadence (OpenAI Realtime protocol) endpoint, with automatic
// reconnection. Main-thread object. Browsers cannot set headers on a WebSocket, so the API key
// travels as the subprotocol `openai-insecure-api-key.KEY` beside `realtime`, as OpenAI's do.
// Events are plain objects; every outgoing event gets a client event_id.

export const kStates = Object.freeze({
  idle: 'idle', connecting: 'connecting', open: 'open', reconnecting: 'reconnecting', closed: 'closed',
});

export function RealtimeUrl(location, model = 'step-2.5-realtime') {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}/v1/realtime?model=${encodeURIComponent(model)}`;
}

export class RealtimeClient {
  constructor({ url, apiKey, onEvent, onState, onError }) {
    this.url_ = url;
    this.api_key_ = apiKey || '';
    this.on_event_ = onEvent;
    this.on_state_ = onState;
    this.on_error_ = onError;
    this.socket_ = null;
    this.state_ = kStates.idle;
    this.want_open_ = false;
    this.retry_ = 0;
    this.retry_timer_ = null;
    this.next_event_ = 1;
    this.connections_ = 0;
  }

  get state() { return this.state_; }
  get connections() { return this.connections_; }

  SetState(state, detail = {}) {
    this.state_ = state;
    if (this.on_state_) this.on_state_(state, detail);
  }

  Connect() {
    this.want_open_ = true;
    clearTimeout(this.retry_timer_);
    this.Open();
  }

  Open() {
    this.SetState(this.retry_ > 0 ? kStates.reconnecting : kStates.connecting, { attempt: this.retry_ });
    const protocols = ['realtime'];
    // A subprotocol token allows no spaces or separators; refuse rather than fail obscurely.
    if (this.api_key_) {
      if (!/^[A-Za-z0-9._~-]+$/.test(this.api_key_)) {
        this.want_open_ = false;
        this.SetState(kStates.closed);
        this.on_error_({ where: 'settings', message: 'the API key may only hold letters, digits and . _ ~ -' });
        return;
      }
      protocols.push(`openai-insecure-api-key.${this.api_key_}`);
    }
    let socket;
    try {
      socket = new WebSocket(this.url_, protocols);
    } catch (e) {
      this.on_error_({ where: 'connect', message: `cannot open ${this.url_}: ${e.message}` });
      this.ScheduleRetry();
      return;
    }
    this.socket_ = socket;
    let opened = false;
    socket.onopen = () => {
      opened = true;
      this.retry_ = 0;
      this.connections_++;
      this.SetState(kStates.open, { protocol: socket.protocol });
    };
    socket.onmessage = (e) => {
      if (typeof e.data !== 'string') {
        this.on_error_({ where: 'protocol', message: 'the server sent a binary frame; Realtime events are JSON text' });
        return;
      }
      let event;
      try {
        event = JSON.parse(e.data);
      } catch (err) {
        this.on_error_({ where: 'protocol', message: `the server sent invalid JSON (${err.message})` });
        return;
      }
      this.on_event_(event);
    };
    socket.onclose = (e) => {
      if (this.socket_ !== socket) return;
      this.socket_ = null;
      if (!this.want_open_) {
        this.SetState(kStates.closed);
        return;
      }
      const why = e.reason ? `: ${e.reason}` : '';
      this.on_error_({
        where: 'connection',
        message: opened ? `connection closed (code ${e.code}${why}); reconnecting`
          : `could not connect to ${this.url_} (code ${e.code}${why}); retrying`,
      });
      this.ScheduleRetry();
    };
  }

  ScheduleRetry() {
    if (!this.want_open_) return;
    const delay_ms = Math.min(10000, 500 * 2 ** Math.min(this.retry_, 5));
    this.retry_++;
    this.SetState(kStates.reconnecting, { attempt: this.retry_, delay_ms });
    this.retry_timer_ = setTimeout(() => this.Open(), delay_ms);
  }

  Send(event) {
    if (!this.socket_ || this.socket_.readyState !== WebSocket.OPEN) return false;
    const out = { event_id: `evt_web_${this.next_event_++}`, ...event };
    this.socket_.send(JSON.stringify(out));
    return true;
  }

  Close() {
    this.want_open_ = false;
    clearTimeout(this.retry_timer_);
    this.retry_ = 0;
    if (this.socket_) {
      const socket = this.socket_;
      this.socket_ = null;
      socket.close(1000, 'closed by the user');
    }
    this.SetState(kStates.closed);
  }
}
