/*! hark agents' console · MIT OR Apache-2.0 · API: docs/console-api.md */
(() => {
  'use strict';
  const W = window, D = document;

  // The server root: this script is served at <root>/console/app.js (a reverse proxy may add a prefix).
  const script = D.currentScript;
  const BASE = new URL('../', script && script.src ? script.src : location.href);
  const href = (path) => new URL(String(path).replace(/^\/+/, ''), BASE).toString();
  const WS_URL = (() => {
    const u = new URL('ws/console', BASE);
    u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
    return u.toString();
  })();

  // ---- small helpers ----------------------------------------------------------------------------
  // Everything that came from the server or a person is put on the page with textContent (or as
  // attribute values), never as HTML.
  const $ = (id) => D.getElementById(id);
  const el = (tag, cls, text) => {
    const e = D.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = String(text);
    return e;
  };
  const SVG = 'http://www.w3.org/2000/svg';
  const svgEl = (tag, attrs) => {
    const e = D.createElementNS(SVG, tag);
    for (const k in attrs) e.setAttribute(k, String(attrs[k]));
    return e;
  };
  const show = (node, on) => { node.hidden = !on; };
  const rid = () => {
    const b = new Uint8Array(16);
    crypto.getRandomValues(b);
    return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  };
  const store = (k, v) => { try { v == null ? localStorage.removeItem(k) : localStorage.setItem(k, v); } catch (e) { /* private mode */ } };
  const stored = (k) => { try { return localStorage.getItem(k); } catch (e) { return null; } };
  const num = (v) => (typeof v === 'number' && Number.isFinite(v) ? v : null);
  const signed = (v, d = 2) => (v < 0 ? '−' : v > 0 ? '+' : '') + Math.abs(v).toFixed(d);
  const pad2 = (n) => String(n).padStart(2, '0');
  const clock = (ms) => {
    if (!num(ms)) return '';
    const d = new Date(ms), now = new Date();
    const hm = pad2(d.getHours()) + ':' + pad2(d.getMinutes());
    return d.toDateString() === now.toDateString() ? hm : d.toLocaleDateString(undefined, { day: 'numeric', month: 'short', year: d.getFullYear() === now.getFullYear() ? undefined : 'numeric' }) + ' ' + hm;
  };
  const ago = (ms) => {
    if (!num(ms)) return '';
    const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
    return s < 60 ? 'just now' : s < 3600 ? Math.round(s / 60) + ' min ago' : s < 86400 ? Math.round(s / 3600) + ' h ago' : Math.round(s / 86400) + ' days ago';
  };
  const duration = (sec) => {
    if (!num(sec)) return 'no data';
    if (sec < 60) return Math.round(sec) + ' s';
    if (sec < 3600) return (sec / 60).toFixed(sec < 600 ? 1 : 0) + ' min';
    if (sec < 86400) return (sec / 3600).toFixed(1) + ' h';
    return (sec / 86400).toFixed(1) + ' days';
  };
  const pct = (v) => (num(v) == null ? 'no data' : (v * 100).toFixed(1) + ' %');
  const customerName = (c) => (c && (c.name || c.email || c.external_id)) || (c && c.id != null ? 'Customer #' + c.id : 'Customer');
  const SEGMENT = { high: 'High value', mid: 'Mid value', low: 'Low value' };
  const HANDOFF = {
    customer_button: 'Customer pressed “talk to a person”',
    customer_asked: 'Customer asked for a person',
    bot_could_not_answer: 'Bot could not answer',
    negative_sentiment: 'Negative sentiment',
    valued_customer_sensitive_topic: 'Valued customer, sensitive topic',
    agent_initiative: 'Taken over by an agent',
    transferred: 'Transferred',
  };
  const STATE = { waiting: 'Waiting for a person', agent: 'With an agent', bot: 'With the bot', resolved: 'Resolved' };
  const PRESENCE = { online: 'online', away: 'away', offline: 'offline' };
  const sentimentWord = (v) => (v == null ? '' : v <= -0.05 ? 'negative' : v >= 0.05 ? 'positive' : 'neutral');

  // ---- HTTP -------------------------------------------------------------------------------------
  let csrf = null, me = null;
  class ApiError extends Error {
    constructor(status, code, message, body) {
      super(message || code);
      this.status = status;
      this.code = code;
      this.body = body || {};
    }
  }
  const api = async (method, path, body) => {
    const headers = { Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (method !== 'GET' && csrf) headers['X-CSRF-Token'] = csrf;
    let res;
    try {
      res = await fetch(href(path), {
        method, headers, credentials: 'same-origin', cache: 'no-store',
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (e) {
      throw new ApiError(0, 'network', '');
    }
    const text = await res.text().catch(() => '');
    let data = null;
    if (text) { try { data = JSON.parse(text); } catch (e) { data = null; } }
    if (!res.ok) {
      const code = data && typeof data.error === 'string' ? data.error : 'http_' + res.status;
      const err = new ApiError(res.status, code, data && typeof data.message === 'string' ? data.message : '', data);
      if (res.status === 401 && me && !/^\/api\/(login|invites)/.test(path)) sessionEnded('Your session has ended. Please sign in again.');
      throw err;
    }
    return data;
  };
  const errText = (e) => {
    if (!(e instanceof ApiError)) return 'Something went wrong in the console. Reload the page to continue.';
    switch (e.code) {
      case 'network': return 'The server cannot be reached. Check your connection and try again.';
      case 'invalid_credentials': return 'Wrong email or password.';
      case 'rate_limited': {
        const s = num(e.body.retry_after_seconds);
        return 'Too many attempts. ' + (s ? `Try again in ${s} second${s === 1 ? '' : 's'}.` : 'Wait a moment and try again.');
      }
      case 'csrf': return 'Your session is out of date. Reload the page and try again.';
      case 'forbidden': return 'Only owners can do that.';
      case 'already_assigned': return 'Another agent already has this conversation.';
      case 'unauthenticated': return 'Your session has ended. Please sign in again.';
    }
    return e.message || (e.status >= 500 ? 'Something went wrong on the server. Try again.' : `That did not work (${e.status}).`);
  };
  const showError = (node, text) => {
    node.textContent = text || '';
    node.hidden = !text;
  };
  let toastT = 0;
  const toast = (text) => {
    const t = $('toast');
    t.textContent = text;
    t.hidden = false;
    clearTimeout(toastT);
    toastT = setTimeout(() => { t.hidden = true; }, 6000);
  };
  const announce = (text) => {
    const a = $('announce');
    a.textContent = '';
    // A fresh text node in a live region is announced even when the words repeat.
    setTimeout(() => { a.textContent = text; }, 30);
  };

  // ---- signing in -------------------------------------------------------------------------------
  const authMain = $('auth'), app = $('app');
  const loginForm = $('login-form'), inviteForm = $('invite-form');
  let rateT = 0;
  const showLogin = (message) => {
    authMain.hidden = false;
    app.hidden = true;
    loginForm.hidden = false;
    inviteForm.hidden = true;
    D.title = 'Sign in · hark console';
    showError($('login-error'), message || '');
    ($('login-email').value ? $('login-password') : $('login-email')).focus();
  };
  const rateLimited = (button, errNode, e) => {
    // Keep the button off until the server lets us try again, counting down in the message.
    let left = num(e.body.retry_after_seconds) || 0;
    clearInterval(rateT);
    if (left <= 0) return;
    button.disabled = true;
    rateT = setInterval(() => {
      left -= 1;
      if (left <= 0) {
        clearInterval(rateT);
        button.disabled = false;
        showError(errNode, 'You can try again now.');
      } else showError(errNode, `Too many attempts. Try again in ${left} second${left === 1 ? '' : 's'}.`);
    }, 1000);
  };
  loginForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const email = $('login-email').value.trim(), password = $('login-password').value;
    const errNode = $('login-error'), button = loginForm.querySelector('button[type=submit]');
    if (!email || !password) return showError(errNode, 'Enter your email and password.');
    button.disabled = true;
    showError(errNode, '');
    try {
      const r = await api('POST', '/api/login', { email, password });
      $('login-password').value = '';
      button.disabled = false;
      start(r);
    } catch (e) {
      button.disabled = false;
      showError(errNode, errText(e));
      if (e.code === 'rate_limited') rateLimited(button, errNode, e);
      $('login-password').select();
    }
  });

  const inviteToken = () => decodeURIComponent(location.hash.replace(/^#/, ''));
  const showInvite = () => {
    authMain.hidden = false;
    app.hidden = true;
    loginForm.hidden = true;
    inviteForm.hidden = false;
    D.title = 'Set your password · hark console';
    if (!inviteToken()) showError($('invite-error'), 'This invitation link is incomplete. Ask the owner for a new one.');
    $('invite-password').focus();
  };
  inviteForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const p1 = $('invite-password').value, p2 = $('invite-password2').value, errNode = $('invite-error');
    const button = inviteForm.querySelector('button[type=submit]');
    if (!inviteToken()) return showError(errNode, 'This invitation link is incomplete. Ask the owner for a new one.');
    if ([...p1].length < 10) return showError(errNode, 'The password needs at least 10 characters.');
    if (p1 !== p2) return showError(errNode, 'The two passwords are not the same.');
    button.disabled = true;
    showError(errNode, '');
    try {
      let r = await api('POST', '/api/invites/accept', { token: inviteToken(), password: p1 });
      if (!r || !r.staff || !r.csrf_token) r = await api('GET', '/api/me');
      // Leave the invitation address (its token is used up) for the console itself.
      history.replaceState(null, '', href('console'));
      button.disabled = false;
      start(r);
    } catch (e) {
      button.disabled = false;
      showError(errNode, e.status === 404 || e.status === 410 || e.code === 'invalid_invite' || e.code === 'not_found'
        ? (e.message || 'This invitation has expired or was already used. Ask the owner for a new one.') : errText(e));
      if (e.code === 'rate_limited') rateLimited(button, errNode, e);
    }
  });

  // ---- the signed-in console --------------------------------------------------------------------
  const isOwner = () => me && me.role === 'owner';
  const start = (r) => {
    me = r.staff;
    csrf = r.csrf_token;
    authMain.hidden = true;
    app.hidden = false;
    $('me-name').textContent = me.display_name + (isOwner() ? ' (owner)' : '');
    app.querySelectorAll('[data-owner]').forEach((n) => show(n, isOwner()));
    $('presence').value = PRESENCE[me.presence] || 'online';
    items.clear();
    renderQueue();
    wsWanted = true;
    connect();
    loadQueue();
    route();
  };
  let ending = false;
  const sessionEnded = (message) => {
    if (ending) return;
    ending = true;
    me = null;
    csrf = null;
    wsWanted = false;
    if (ws) { const s = ws; ws = null; s.close(); }
    clearTimeout(retryT);
    leaveConversation();
    items.clear();
    updateTitle();
    showLogin(message);
    ending = false;
  };
  $('logout').addEventListener('click', async () => {
    try { await api('POST', '/api/logout'); sessionEnded('You are signed out.'); } catch (e) { toast(errText(e)); }
  });
  $('logout-all').addEventListener('click', async () => {
    if (!W.confirm('Sign out on every device where you are signed in?')) return;
    try { await api('POST', '/api/logout-everywhere'); sessionEnded('You are signed out on every device.'); } catch (e) { toast(errText(e)); }
  });
  $('presence').addEventListener('change', async (ev) => {
    const want = ev.target.value, was = me.presence;
    try {
      await api('POST', '/api/presence', { presence: want });
      me.presence = want;
      announce('You are ' + want);
    } catch (e) {
      ev.target.value = was || 'online';
      toast(errText(e));
    }
  });

  const menu = app.querySelector('details.menu');
  D.addEventListener('click', (ev) => { if (menu.open && !menu.contains(ev.target)) menu.open = false; });
  menu.addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape' && menu.open) { menu.open = false; menu.querySelector('summary').focus(); }
  });

  // ---- sound and title --------------------------------------------------------------------------
  let soundOn = stored('hark.console.sound') !== 'off', audio = null;
  const soundButton = $('sound');
  const syncSound = () => {
    soundButton.setAttribute('aria-pressed', String(soundOn));
    soundButton.textContent = 'Sound for new work: ' + (soundOn ? 'on' : 'off');
  };
  soundButton.addEventListener('click', () => {
    soundOn = !soundOn;
    store('hark.console.sound', soundOn ? null : 'off');
    syncSound();
    if (soundOn) beep();
  });
  syncSound();
  // Browsers only allow audio after a user gesture: make the context on the first one.
  const unlockAudio = () => {
    if (audio || !(W.AudioContext || W.webkitAudioContext)) return;
    try { audio = new (W.AudioContext || W.webkitAudioContext)(); } catch (e) { audio = null; }
  };
  D.addEventListener('pointerdown', unlockAudio, { once: true, capture: true });
  D.addEventListener('keydown', unlockAudio, { once: true, capture: true });
  let lastBeep = 0;
  const beep = () => {
    if (!soundOn || !audio || Date.now() - lastBeep < 1500) return;
    lastBeep = Date.now();
    try {
      const t = audio.currentTime, o = audio.createOscillator(), g = audio.createGain();
      o.type = 'sine';
      o.frequency.setValueAtTime(880, t);
      o.frequency.setValueAtTime(1175, t + 0.12);
      g.gain.setValueAtTime(0.0001, t);
      g.gain.exponentialRampToValueAtTime(0.2, t + 0.02);
      g.gain.exponentialRampToValueAtTime(0.0001, t + 0.35);
      o.connect(g).connect(audio.destination);
      o.start(t);
      o.stop(t + 0.4);
    } catch (e) { /* no sound, the title still counts */ }
  };
  // "(n) hark console": conversations waiting plus unread customer messages in mine.
  const workCount = () => {
    let n = 0;
    for (const it of items.values()) {
      const g = group(it);
      if (g === 'waiting') n += 1;
      else if (g === 'mine') n += it.unread || 0;
    }
    return n;
  };
  const updateTitle = () => {
    if (!me) return;
    const n = workCount();
    D.title = (n ? `(${n}) ` : '') + 'hark console';
  };

  // ---- the queue --------------------------------------------------------------------------------
  const items = new Map(); // conversation id -> QueueItem
  const counted = new Map(); // conversation id -> highest message id counted for unread
  const lists = { waiting: $('list-waiting'), mine: $('list-mine'), others: $('list-others') };
  const group = (it) => (it.assigned_to != null && me && it.assigned_to === me.id ? 'mine' : it.assigned_to != null ? 'others' : 'waiting');
  const byPriority = (a, b) => (num(b.priority) || 0) - (num(a.priority) || 0) || (num(a.waiting_since) || 0) - (num(b.waiting_since) || 0);
  const byRecent = (a, b) => (num(b.last_message_at) || 0) - (num(a.last_message_at) || 0);

  const queueEntry = (it) => {
    const li = el('li', 'qitem');
    li.dataset.conversationId = it.conversation_id;
    const a = el('a');
    a.href = '#/c/' + it.conversation_id;
    const c = it.customer || {};
    const top = el('span', 'q-top');
    top.append(el('b', 'q-name', customerName(c)), el('span', 'tag', it.channel === 'telegram' ? 'Telegram' : 'Web'));
    if (c.segment) top.append(el('span', 'tag seg-' + c.segment, SEGMENT[c.segment] || c.segment));
    if (c.at_risk) top.append(el('span', 'tag risk', 'At risk'));
    if (it.unread > 0) {
      const u = el('span', 'unread', String(it.unread));
      u.dataset.unread = it.unread;
      u.setAttribute('aria-label', it.unread === 1 ? '1 unread message' : it.unread + ' unread messages');
      top.append(u);
    }
    a.append(top);
    if (it.last_message) a.append(el('span', 'q-last', it.last_message));
    const meta = el('span', 'q-meta');
    const g = group(it);
    if (g === 'waiting') {
      const bits = [];
      if (it.handoff_reason) bits.push(HANDOFF[it.handoff_reason] || it.handoff_reason);
      if (num(it.waiting_since)) bits.push('since ' + clock(it.waiting_since));
      meta.textContent = bits.join(' · ');
      a.append(meta);
      const reasons = Array.isArray(it.priority_reasons) ? it.priority_reasons.filter((r) => typeof r === 'string') : [];
      if (reasons.length || num(it.priority) != null) {
        const p = el('span', 'q-reasons');
        p.dataset.role = 'priority';
        p.textContent = 'Priority' + (num(it.priority) != null ? ' ' + it.priority.toFixed(1) : '') + (reasons.length ? ': ' + reasons.join(', ') : '');
        a.append(p);
      }
    } else {
      meta.textContent = (g === 'others' ? 'With ' + (it.assigned_name || 'another agent') + ' · ' : '') + (STATE[it.state] || it.state || '') + (num(it.last_message_at) ? ' · ' + ago(it.last_message_at) : '');
      a.append(meta);
    }
    if (cur && cur.id === it.conversation_id) a.setAttribute('aria-current', 'page');
    li.append(a);
    return li;
  };
  const renderQueue = () => {
    const focusedId = D.activeElement && D.activeElement.closest && D.activeElement.closest('.qitem') ? D.activeElement.closest('.qitem').dataset.conversationId : null;
    const groups = { waiting: [], mine: [], others: [] };
    for (const it of items.values()) groups[group(it)].push(it);
    groups.waiting.sort(byPriority);
    groups.mine.sort(byRecent);
    groups.others.sort(byRecent);
    for (const g of Object.keys(groups)) {
      lists[g].replaceChildren(...groups[g].map(queueEntry));
      $('count-' + g).textContent = String(groups[g].length);
      show($('empty-' + g), groups[g].length === 0);
    }
    if (focusedId) {
      const again = app.querySelector(`.qitem[data-conversation-id="${CSS.escape(focusedId)}"] a`);
      if (again) again.focus({ preventScroll: true });
    }
    updateTitle();
  };
  const validItem = (it) => it && typeof it === 'object' && Number.isFinite(Number(it.conversation_id));
  const putItem = (it) => {
    const prev = items.get(it.conversation_id);
    // Resolved or back with the bot: no longer in the queue (an answer may overtake queue_removed).
    if (it.state === 'resolved' || it.state === 'bot') items.delete(it.conversation_id);
    else items.set(it.conversation_id, it);
    if (cur && cur.id === it.conversation_id) {
      it.unread = 0;
      cur.item = it;
      renderHeader();
    }
    return prev;
  };
  let queueLoading = null;
  const loadQueue = async () => {
    if (queueLoading) return queueLoading;
    queueLoading = (async () => {
      try {
        const r = await api('GET', '/api/queue');
        items.clear();
        for (const g of ['waiting', 'mine', 'others']) (Array.isArray(r[g]) ? r[g] : []).filter(validItem).forEach(putItem);
        renderQueue();
      } catch (e) {
        if (me) toast(errText(e));
      } finally {
        queueLoading = null;
      }
    })();
    return queueLoading;
  };
  // Priority reasons such as "waiting 6 min" age: refresh now and then while the console is open.
  setInterval(() => { if (me && !D.hidden) loadQueue(); }, 60000);

  // ---- the live socket --------------------------------------------------------------------------
  let ws = null, wsWanted = false, attempt = 0, retryT = 0, everOpen = false;
  const connEl = $('conn');
  const setConn = (s) => {
    connEl.textContent = s === 'open' ? 'Live' : s === 'connecting' ? 'Connecting…' : 'Reconnecting…';
    connEl.dataset.state = s;
  };
  const wsSend = (obj) => {
    if (!ws || ws.readyState !== 1) return false;
    ws.send(JSON.stringify(obj));
    return true;
  };
  const connect = () => {
    if (ws || !wsWanted) return;
    clearTimeout(retryT);
    retryT = 0;
    let s;
    try { s = new WebSocket(WS_URL); } catch (e) { retry(); return; }
    ws = s;
    setConn(everOpen ? 'retrying' : 'connecting');
    s.onopen = () => {
      if (ws !== s) return;
      attempt = 0;
      setConn('open');
      // An open console counts as online unless its agent chose away (the server does the same).
      if (me && me.presence === 'offline') {
        me.presence = 'online';
        $('presence').value = 'online';
      }
      // Whatever happened while the socket was down is in the database: catch up from there
      // (the open conversation catches up when the server confirms the follow).
      if (cur) wsSend({ type: 'follow', conversation_id: cur.id });
      if (everOpen) loadQueue();
      everOpen = true;
    };
    s.onmessage = (ev) => {
      if (ws !== s || typeof ev.data !== 'string') return;
      let f;
      try { f = JSON.parse(ev.data); } catch (e) { return; }
      if (f && typeof f.type === 'string') onFrame(f);
    };
    s.onclose = (ev) => {
      if (ws !== s) return;
      ws = null;
      typingOn = false;
      // 4401: the server ended the session (logout everywhere, account disabled).
      if (ev.code === 4401) sessionEnded('Your session has ended. Please sign in again.');
      else if (wsWanted) retry();
    };
  };
  const retry = () => {
    if (retryT || !wsWanted) return;
    setConn('retrying');
    const b = Math.min(15000, 500 * 2 ** attempt);
    attempt = Math.min(attempt + 1, 10);
    // Repeated refusals may mean the session is gone: /api/me answers 401 then, which signs out.
    if (attempt >= 3) api('GET', '/api/me').catch(() => {});
    retryT = setTimeout(() => { retryT = 0; connect(); }, b / 2 + (Math.random() * b) / 2);
  };
  W.addEventListener('online', () => { attempt = 0; if (!ws && wsWanted) connect(); });

  const onFrame = (f) => {
    switch (f.type) {
      case 'queue':
      case 'assigned': {
        if (!validItem(f.item)) return;
        const it = f.item;
        const prev = putItem(it);
        const g = group(it), was = prev ? group(prev) : null;
        const here = cur && cur.id === it.conversation_id;
        if (here) {
          // Claimed or replied to from this screen: nothing new to point out.
        } else if (g === 'mine' && was !== 'mine') {
          announce('Assigned to you: ' + customerName(it.customer));
          notify();
        } else if (g === 'waiting' && was !== 'waiting') {
          announce('New conversation waiting: ' + customerName(it.customer));
          notify();
        }
        renderQueue();
        break;
      }
      case 'queue_removed': {
        const id = Number(f.conversation_id);
        items.delete(id);
        renderQueue();
        if (cur && cur.id === id) refreshConversation();
        break;
      }
      case 'message': // a message of the conversation this console follows
      case 'queue_message': { // a message in a queued conversation: unread counts, notifications
        const m = f.message;
        if (!m || !Number.isFinite(Number(m.conversation_id)) || !Number.isFinite(Number(m.id))) return;
        const id = Number(m.conversation_id);
        if (cur && cur.id === id) {
          addMessage(m, true);
          if (m.author === 'customer') hideTyping();
        }
        // Both kinds of frame may carry the same message: count each message once.
        if (Number(m.id) <= (counted.get(id) || 0)) break;
        counted.set(id, Number(m.id));
        const it = items.get(id);
        if (it) {
          it.last_message = m.text;
          it.last_message_at = m.created_at;
          const watching = cur && cur.id === id && !D.hidden;
          if (m.author === 'customer' && !watching) {
            it.unread = (it.unread || 0) + 1;
            if (group(it) === 'mine') notify();
          }
          renderQueue();
        }
        break;
      }
      case 'following': // live messages flow from here on: load what was stored before them
        if (cur && cur.id === Number(f.conversation_id)) {
          const id = cur.id;
          cur.loading = cur.loading.then(() => { if (cur && cur.id === id) return refreshConversation(); });
        }
        break;
      case 'resync': // the server dropped frames for this console: reload what is shown
        loadQueue();
        if (cur) refreshConversation();
        break;
      case 'note': {
        // Another agent's private note on the open conversation (ours is shown from the POST answer).
        const n = f.note || f;
        if (cur && n && Number(n.conversation_id) === cur.id) addNote(n);
        break;
      }
      case 'typing':
        if (cur && Number(f.conversation_id) === cur.id && f.author === 'customer') showTyping(!!f.active);
        break;
      case 'presence':
        if (me && f.staff_id === me.id && PRESENCE[f.presence]) {
          me.presence = f.presence;
          $('presence').value = f.presence;
        }
        staffCache = null;
        break;
    }
  };
  const notify = () => {
    beep();
    updateTitle();
  };

  // ---- routing ----------------------------------------------------------------------------------
  const route = () => {
    if (!me) return;
    const h = location.hash;
    const m = /^#\/c\/(\d+)$/.exec(h);
    let view = 'queue';
    if (m) view = 'conv';
    else if (h === '#/users' && isOwner()) view = 'users';
    else if (h === '#/metrics' && isOwner()) view = 'metrics';
    else if (h === '#/learning' && isOwner()) view = 'learning';
    app.dataset.view = view;
    app.querySelectorAll('[data-nav]').forEach((a) => {
      if (a.dataset.nav === (view === 'conv' ? 'queue' : view)) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    });
    show($('queue'), view === 'queue' || view === 'conv');
    show($('placeholder'), view === 'queue');
    show($('conv'), view === 'conv');
    show($('panel'), view === 'conv');
    show($('users'), view === 'users');
    show($('metrics'), view === 'metrics');
    show($('learning'), view === 'learning');
    if (view === 'conv') {
      const id = Number(m[1]);
      if (!cur || cur.id !== id) openConversation(id);
    } else leaveConversation();
    if (view === 'users') loadUsers();
    if (view === 'metrics') loadMetrics();
    if (view === 'learning') loadLearningPage();
  };
  W.addEventListener('hashchange', route);

  // ---- one conversation -------------------------------------------------------------------------
  let cur = null; // { id, item, shown: Map(id -> node), notes: Map, customer }
  const log = $('log');
  const leaveConversation = () => {
    if (!cur) return;
    stopTyping();
    hideTyping();
    wsSend({ type: 'unfollow' });
    cur = null;
    log.replaceChildren();
    $('panel').replaceChildren();
    app.classList.remove('panel-open');
    $('panel-toggle').setAttribute('aria-expanded', 'false');
    renderQueue();
  };
  const openConversation = async (id) => {
    if (cur) leaveConversation();
    cur = { id, item: items.get(id) || null, shown: new Map(), notes: new Map(), customer: null, readUpTo: 0, loading: Promise.resolve() };
    log.replaceChildren(el('p', 'loading', 'Loading the conversation…'));
    showError($('conv-error'), '');
    $('reply-text').value = '';
    setMode('reply');
    closeCanned();
    renderHeader();
    renderQueue();
    // The first load shows the conversation at once; the server's `following` answer then
    // loads again (after this one) to catch messages stored before the follow took effect.
    cur.loading = refreshConversation(true);
    wsSend({ type: 'follow', conversation_id: id });
    await cur.loading;
    loadStaff();
  };
  const refreshConversation = async (first) => {
    if (!cur) return;
    const id = cur.id;
    try {
      const r = await api('GET', '/api/conversations/' + id);
      if (!cur || cur.id !== id) return;
      if (first) log.replaceChildren();
      // A bulk load is not news: only messages arriving afterwards are announced.
      log.setAttribute('aria-live', 'off');
      if (validItem(r.conversation)) {
        cur.item = r.conversation;
        if (items.has(id)) { putItem(r.conversation); renderQueue(); }
      }
      (Array.isArray(r.messages) ? r.messages : []).forEach((m) => addMessage(m, false));
      (Array.isArray(r.notes) ? r.notes : []).forEach(addNote);
      cur.customer = r.customer || null;
      renderHeader();
      renderPanel();
      markRead();
      loadLinks();
      if (first) log.scrollTop = log.scrollHeight;
      setTimeout(() => log.setAttribute('aria-live', 'polite'), 0);
    } catch (e) {
      if (!cur || cur.id !== id) return;
      if (first) log.replaceChildren();
      showError($('conv-error'), e.status === 404 ? 'There is no conversation ' + id + '.' : errText(e));
    }
  };

  const renderHeader = () => {
    if (!cur) return;
    const it = cur.item, c = (it && it.customer) || (cur.customer && cur.customer.customer) || {};
    $('conv-title').textContent = customerName(c);
    const bits = [];
    if (it) {
      bits.push(it.channel === 'telegram' ? 'Telegram' : 'Web chat');
      bits.push(STATE[it.state] || it.state || '');
      if (it.assigned_to != null) bits.push(it.assigned_to === me.id ? 'assigned to you' : 'assigned to ' + (it.assigned_name || 'another agent'));
      if (it.handoff_reason) bits.push(HANDOFF[it.handoff_reason] || it.handoff_reason);
    }
    $('conv-sub').textContent = bits.filter(Boolean).join(' · ');
    const mine = it && it.assigned_to === me.id;
    const open = it && it.state !== 'resolved';
    $('act-claim').hidden = !!mine;
    $('act-claim').textContent = it && it.state === 'bot' ? 'Take over from the bot' : 'Claim';
    $('act-claim').disabled = !open;
    $('act-transfer').disabled = !open || !(mine || isOwner());
    $('transfer-to').disabled = $('act-transfer').disabled;
    $('act-handback').disabled = !(it && (it.state === 'waiting' || it.state === 'agent'));
    $('act-resolve').disabled = !open;
  };

  // Transcript entries are ordered by time; messages of the same millisecond by id; the agent's own
  // replies still on their way stay at the end.
  const keyOf = (node) => node._k;
  const before = (a, b) => a[0] < b[0] || (a[0] === b[0] && (a[1] < b[1] || (a[1] === b[1] && a[2] < b[2])));
  const place = (node, key) => {
    node._k = key;
    const pinned = log.scrollHeight - log.scrollTop - log.clientHeight < 60;
    let ref = null;
    for (let c = log.lastElementChild; c && c._k && before(key, keyOf(c)); c = c.previousElementSibling) ref = c;
    log.insertBefore(node, ref);
    if (pinned) log.scrollTop = log.scrollHeight;
  };
  // Text with http(s) links made clickable, built from text nodes and <a> elements only.
  const fillText = (node, text) => {
    node.textContent = '';
    const re = /\bhttps?:\/\/[^\s<>"']+[^\s<>"'.,;:!?)\]]/g;
    let i = 0, m;
    while ((m = re.exec(text))) {
      node.append(text.slice(i, m.index));
      const a = el('a', '', m[0]);
      a.href = m[0];
      a.target = '_blank';
      a.rel = 'noopener noreferrer nofollow';
      node.append(a);
      i = m.index + m[0].length;
    }
    node.append(text.slice(i));
  };
  const authorWords = (m) => {
    switch (m.author) {
      case 'customer': return customerName((cur && cur.item && cur.item.customer) || (cur && cur.customer && cur.customer.customer)) + ' (customer)';
      case 'bot': return 'Bot';
      case 'agent': return (m.author_name || 'Agent') + ' (agent)';
      default: return 'System';
    }
  };
  const buildMessage = (m) => {
    const author = /^(customer|bot|agent|system)$/.test(m.author) ? m.author : 'system';
    const node = el('article', 'msg');
    node.dataset.author = author;
    if (m.id != null) node.dataset.id = m.id;
    const head = el('header', 'msg-head');
    head.append(el('span', 'who', authorWords({ ...m, author })));
    if (num(m.created_at)) {
      const t = el('time', '', clock(m.created_at));
      t.dateTime = new Date(m.created_at).toISOString();
      head.append(' ', t);
    }
    if (author === 'customer' && num(m.sentiment) != null && sentimentWord(m.sentiment) !== 'neutral') {
      head.append(' ', el('span', 'senti senti-' + sentimentWord(m.sentiment), sentimentWord(m.sentiment) + ' ' + signed(m.sentiment)));
    }
    const text = el('div', 'text');
    fillText(text, String(m.text == null ? '' : m.text));
    node.append(head, text);
    if (author === 'bot' && m.article_id != null) node.append(el('p', 'aside', 'Answer from article ' + m.article_id));
    const sugg = Array.isArray(m.suggestions) ? m.suggestions.filter((s) => s && (s.title || s.article_id != null)) : [];
    if (sugg.length) node.append(el('p', 'aside', 'Offered: ' + sugg.map((s) => s.title || s.article_id).join(' · ')));
    return node;
  };
  const addMessage = (m, live) => {
    const id = Number(m.id);
    if (!cur || !Number.isFinite(id)) return;
    const old = cur.shown.get(id);
    if (old && !old.dataset.local) return;
    const node = buildMessage(m);
    if (old) old.remove(); // our own reply, acknowledged before the server's copy arrived
    cur.shown.set(id, node);
    place(node, [num(m.created_at) || Date.now(), 0, id]);
    if (live) markRead();
    if (live && m.author === 'agent') loadLinks();
  };
  const addNote = (n) => {
    if (!cur || !n || n.id == null || cur.notes.has(n.id)) return;
    const node = el('article', 'msg note');
    node.dataset.author = 'note';
    node.dataset.id = 'note-' + n.id;
    const head = el('header', 'msg-head');
    head.append(el('span', 'who', 'Private note by ' + (n.author_name || 'an agent')), ' ');
    if (num(n.created_at)) head.append(el('time', '', clock(n.created_at)), ' ');
    head.append(el('span', 'private', 'not shown to the customer'));
    const text = el('div', 'text');
    fillText(text, String(n.text != null ? n.text : n.body != null ? n.body : ''));
    node.append(head, text);
    cur.notes.set(n.id, node);
    place(node, [num(n.created_at) || Date.now(), 1, n.id]);
  };
  let readT = 0;
  const markRead = () => {
    if (!cur || D.hidden) return;
    let top = 0;
    for (const id of cur.shown.keys()) if (id > top) top = id;
    const it = items.get(cur.id);
    if (it && it.unread) { it.unread = 0; renderQueue(); }
    if (!top || top <= cur.readUpTo) return;
    const id = cur.id;
    clearTimeout(readT);
    readT = setTimeout(() => {
      if (!cur || cur.id !== id) return;
      cur.readUpTo = top;
      api('POST', `/api/conversations/${id}/read`, { up_to: top }).catch(() => { if (cur && cur.id === id) cur.readUpTo = 0; });
    }, 400);
  };
  D.addEventListener('visibilitychange', () => { if (!D.hidden) markRead(); });

  // ---- typing -----------------------------------------------------------------------------------
  let typingT = 0;
  const typingEl = $('typing');
  const hideTyping = () => { typingEl.hidden = true; clearTimeout(typingT); };
  const showTyping = (active) => {
    if (!active) return hideTyping();
    typingEl.textContent = customerName(cur && cur.item && cur.item.customer) + ' is typing…';
    typingEl.hidden = false;
    clearTimeout(typingT);
    typingT = setTimeout(hideTyping, 15000);
  };
  let typingOn = false, typingAt = 0, typingConv = null, idleT = 0;
  const stopTyping = () => {
    clearTimeout(idleT);
    if (typingOn && typingConv != null) wsSend({ type: 'typing', conversation_id: typingConv, active: false });
    typingOn = false;
  };

  // ---- writing: replies and private notes -------------------------------------------------------
  const replyText = $('reply-text'), replyForm = $('reply-form');
  let mode = 'reply';
  const setMode = (m) => {
    mode = m;
    D.querySelectorAll('input[name=mode]').forEach((r) => { r.checked = r.value === m; });
    $('reply-label').textContent = m === 'note' ? 'Private note (only agents see it)' : 'Reply to the customer';
    replyText.placeholder = m === 'note' ? 'Write a private note for the team… (Enter saves)' : 'Write a reply… (Enter sends, Shift+Enter adds a line)';
    $('reply-send').textContent = m === 'note' ? 'Save note' : 'Send';
    replyForm.classList.toggle('as-note', m === 'note');
    if (m === 'note') stopTyping();
  };
  D.querySelectorAll('input[name=mode]').forEach((r) => r.addEventListener('change', () => setMode(r.value)));
  replyText.addEventListener('input', () => {
    if (mode !== 'reply' || !cur) return;
    if (!replyText.value.trim()) return stopTyping();
    const now = Date.now();
    if (!typingOn || now - typingAt > 2500 || typingConv !== cur.id) {
      typingConv = cur.id;
      typingOn = wsSend({ type: 'typing', conversation_id: cur.id, active: true });
      typingAt = now;
    }
    clearTimeout(idleT);
    idleT = setTimeout(stopTyping, 3000);
  });
  replyText.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing && ev.keyCode !== 229) {
      ev.preventDefault();
      submit();
    }
  });
  replyForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    submit();
  });
  const submit = () => {
    if (!cur) return;
    const text = replyText.value.trim();
    if (!text) return;
    if ([...text].length > 4000) { showError($('conv-error'), 'A message can have at most 4,000 characters.'); return; }
    showError($('conv-error'), '');
    replyText.value = '';
    replyText.focus();
    if (mode === 'note') saveNote(cur.id, text);
    else { stopTyping(); sendReply(cur.id, text); }
  };
  const saveNote = async (convId, text) => {
    try {
      const n = await api('POST', `/api/conversations/${convId}/notes`, { text });
      if (cur && cur.id === convId) addNote(n);
    } catch (e) {
      if (cur && cur.id === convId) {
        if (!replyText.value) replyText.value = text; // nothing typed is lost
        showError($('conv-error'), 'The note was not saved: ' + errText(e));
      }
    }
  };
  // A reply keeps its client_id through every retry, so the server stores it once however often
  // the request (or its answer) is lost.
  const sendReply = (convId, text) => {
    const p = { convId, cid: rid(), text, tries: 0, node: null, timer: 0 };
    const node = buildMessage({ author: 'agent', author_name: me.display_name, text });
    node.dataset.local = '';
    node.dataset.pending = '';
    node.append(el('p', 'status', 'Sending…'));
    p.node = node;
    place(node, [Infinity, 0, Date.now()]);
    log.scrollTop = log.scrollHeight;
    postReply(p);
  };
  const postReply = async (p) => {
    const status = p.node.querySelector('.status');
    try {
      const r = await api('POST', `/api/conversations/${p.convId}/reply`, { client_id: p.cid, text: p.text });
      const id = Number(r && r.message_id);
      p.node.removeAttribute('data-pending');
      status.remove();
      if (!cur || cur.id !== p.convId || !Number.isFinite(id)) return;
      if (cur.shown.has(id)) { p.node.remove(); return; }
      p.node.dataset.id = id;
      cur.shown.set(id, p.node);
      place(p.node, [Date.now(), 0, id]);
      markRead();
    } catch (e) {
      const transient = e.status === 0 || e.status >= 500 || e.code === 'rate_limited';
      if (transient && p.tries < 6) {
        p.tries += 1;
        status.textContent = 'Not sent yet, retrying…';
        const wait = e.code === 'rate_limited' && num(e.body.retry_after_seconds) ? e.body.retry_after_seconds * 1000 : Math.min(8000, 500 * 2 ** p.tries);
        p.timer = setTimeout(() => postReply(p), wait);
        return;
      }
      p.node.removeAttribute('data-pending');
      p.node.dataset.failed = '';
      status.textContent = 'Not sent: ' + errText(e) + ' ';
      const again = el('button', 'link', 'Retry');
      again.type = 'button';
      again.addEventListener('click', () => {
        p.tries = 0;
        p.node.removeAttribute('data-failed');
        p.node.dataset.pending = '';
        status.textContent = 'Sending…';
        postReply(p);
      });
      status.append(again);
    }
  };

  // ---- canned replies ---------------------------------------------------------------------------
  const canned = $('canned'), cannedQ = $('canned-q'), cannedList = $('canned-list'), cannedToggle = $('canned-toggle');
  let cannedT = 0, cannedSeq = 0;
  const openCanned = () => {
    canned.hidden = false;
    cannedToggle.setAttribute('aria-expanded', 'true');
    cannedQ.focus();
  };
  const closeCanned = (focusBack) => {
    canned.hidden = true;
    cannedToggle.setAttribute('aria-expanded', 'false');
    if (focusBack) cannedToggle.focus();
  };
  cannedToggle.addEventListener('click', () => (canned.hidden ? openCanned() : closeCanned(true)));
  canned.addEventListener('keydown', (ev) => { if (ev.key === 'Escape') { ev.preventDefault(); closeCanned(true); } });
  cannedQ.addEventListener('input', () => {
    clearTimeout(cannedT);
    cannedT = setTimeout(searchCanned, 250);
  });
  cannedQ.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter') { ev.preventDefault(); clearTimeout(cannedT); searchCanned(); }
    if (ev.key === 'ArrowDown') { const b = cannedList.querySelector('button'); if (b) { ev.preventDefault(); b.focus(); } }
  });
  const searchCanned = async () => {
    const q = cannedQ.value.trim(), seq = ++cannedSeq, status = $('canned-status');
    if (!q) { cannedList.replaceChildren(); status.textContent = ''; return; }
    status.textContent = 'Searching…';
    try {
      const r = await api('GET', '/api/canned?q=' + encodeURIComponent(q));
      if (seq !== cannedSeq) return;
      const replies = (r && Array.isArray(r.replies) ? r.replies : []).filter((x) => x && typeof x.text === 'string');
      cannedList.replaceChildren(...replies.map((x) => {
        const li = el('li');
        const b = el('button', 'canned-item');
        b.type = 'button';
        b.append(el('b', '', x.title || x.article_id || 'Reply'), el('span', '', x.text));
        b.addEventListener('click', () => insertCanned(x.text));
        li.append(b);
        return li;
      }));
      status.textContent = replies.length ? replies.length + (replies.length === 1 ? ' reply found' : ' replies found') : 'Nothing found for “' + q + '”.';
    } catch (e) {
      if (seq === cannedSeq) status.textContent = errText(e);
    }
  };
  cannedList.addEventListener('keydown', (ev) => {
    const bs = [...cannedList.querySelectorAll('button')], i = bs.indexOf(D.activeElement);
    if (ev.key === 'ArrowDown' && i < bs.length - 1) { ev.preventDefault(); bs[i + 1].focus(); }
    if (ev.key === 'ArrowUp') { ev.preventDefault(); (i > 0 ? bs[i - 1] : cannedQ).focus(); }
  });
  const insertCanned = (text) => {
    setMode('reply');
    const s = replyText.selectionStart ?? replyText.value.length, e = replyText.selectionEnd ?? s;
    replyText.setRangeText(text, s, e, 'end');
    closeCanned(false);
    replyText.focus();
    replyText.dispatchEvent(new Event('input'));
  };

  // ---- conversation actions ---------------------------------------------------------------------
  const act = async (button, method, path, body, after) => {
    if (!cur) return;
    const id = cur.id;
    button.disabled = true;
    showError($('conv-error'), '');
    try {
      const r = await api(method, `/api/conversations/${id}/${path}`, body);
      if (validItem(r)) { putItem(r); renderQueue(); }
      if (after) after(r);
      if (cur && cur.id === id) await refreshConversation();
    } catch (e) {
      if (cur && cur.id === id) showError($('conv-error'), errText(e));
    } finally {
      if (cur && cur.id === id) renderHeader();
    }
  };
  $('act-claim').addEventListener('click', (ev) => act(ev.currentTarget, 'POST', 'claim', undefined, () => announce('You have claimed this conversation.')));
  $('act-handback').addEventListener('click', (ev) => act(ev.currentTarget, 'POST', 'hand-back', undefined, () => announce('Handed back to the bot.')));
  $('act-resolve').addEventListener('click', (ev) => act(ev.currentTarget, 'POST', 'resolve', undefined, () => announce('Resolved. The customer is asked to rate the conversation.')));
  $('act-transfer').addEventListener('click', (ev) => {
    const to = Number($('transfer-to').value);
    if (!to) { showError($('conv-error'), 'Pick the agent to transfer to.'); $('transfer-to').focus(); return; }
    const name = $('transfer-to').selectedOptions[0].dataset.name;
    act(ev.currentTarget, 'POST', 'transfer', { to }, () => announce('Transferred to ' + name + '.'));
  });
  let staffCache = null;
  const loadStaff = async () => {
    try {
      if (!staffCache) staffCache = await api('GET', '/api/staff');
    } catch (e) { staffCache = null; return; }
    const sel = $('transfer-to'), keep = sel.value;
    const first = el('option', '', 'Transfer to…');
    first.value = '';
    const opts = (Array.isArray(staffCache) ? staffCache : []).filter((s) => s && me && s.id !== me.id && !s.disabled).map((s) => {
      const o = el('option', '', s.display_name + ' (' + (PRESENCE[s.presence] || 'offline') + ')');
      o.value = s.id;
      o.dataset.name = s.display_name;
      return o;
    });
    sel.replaceChildren(first, ...opts);
    sel.value = keep;
  };
  $('transfer-to').addEventListener('focus', () => loadStaff());
  const closePanel = () => {
    app.classList.remove('panel-open');
    $('panel-toggle').setAttribute('aria-expanded', 'false');
  };
  $('panel').addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape' && app.classList.contains('panel-open')) { closePanel(); $('panel-toggle').focus(); }
  });
  $('panel-toggle').addEventListener('click', () => {
    const open = !app.classList.contains('panel-open');
    app.classList.toggle('panel-open', open);
    $('panel-toggle').setAttribute('aria-expanded', String(open));
    if (open) $('panel').focus();
  });

  // ---- the customer panel -----------------------------------------------------------------------
  const section = (title) => {
    const s = el('section', 'psec');
    s.append(el('h3', '', title));
    return s;
  };
  const dl = (pairs) => {
    const d = el('dl');
    for (const [k, v] of pairs) {
      if (v == null || v === '') continue;
      d.append(el('dt', '', k), el('dd', '', v));
    }
    return d;
  };
  const trendWords = (t) => {
    if (typeof t === 'string') return t;
    if (num(t) == null) return 'not enough data';
    return t > 0.02 ? 'improving' : t < -0.02 ? 'getting worse' : 'steady';
  };
  // A small line of the customer's message sentiment over time, −1 (bottom) to +1 (top); the text
  // beside it says the same for those who cannot see it.
  const sparkline = (points, label) => {
    const w = 180, h = 44, pad = 4;
    const s = svgEl('svg', { viewBox: `0 0 ${w} ${h}`, width: w, height: h, role: 'img', class: 'spark' });
    s.setAttribute('aria-label', label);
    s.append(svgEl('line', { x1: pad, x2: w - pad, y1: h / 2, y2: h / 2, class: 'zero' }));
    const ys = (v) => pad + ((1 - Math.max(-1, Math.min(1, v))) / 2) * (h - 2 * pad);
    const n = points.length;
    const xs = (i) => (n === 1 ? w / 2 : pad + (i * (w - 2 * pad)) / (n - 1));
    if (n > 1) s.append(svgEl('polyline', { points: points.map((p, i) => xs(i).toFixed(1) + ',' + ys(p.compound).toFixed(1)).join(' '), class: 'line' }));
    points.forEach((p, i) => {
      // Shape as well as position: hollow below zero, filled above.
      const c = svgEl('circle', { cx: xs(i).toFixed(1), cy: ys(p.compound).toFixed(1), r: 2.6, class: p.compound < 0 ? 'neg' : 'pos' });
      const t = svgEl('title', {});
      t.textContent = clock(p.at) + ': ' + signed(p.compound);
      c.append(t);
      s.append(c);
    });
    return s;
  };
  const renderPanel = () => {
    const panel = $('panel');
    panel.tabIndex = -1;
    const p = cur && cur.customer;
    if (!p || !p.customer) { panel.replaceChildren(el('p', 'hint', 'No customer details.')); return; }
    const c = p.customer;
    const head = el('section', 'psec');
    head.append(el('h2', 'pname', customerName(c)));
    const ids = Array.isArray(p.identities) ? p.identities : [];
    head.append(dl([
      ['Email', c.email],
      ['External id', c.external_id],
      ['Channels', ids.map((i) => (i.channel === 'telegram' ? 'Telegram' : i.channel === 'web' ? 'Web chat' : i.channel) + (num(i.since) ? ' since ' + new Date(i.since).toLocaleDateString() : '')).join(', ')],
    ]));
    const out = [head];

    const value = section('Value');
    const sc = p.score;
    if (sc) {
      value.append(dl([
        ['Segment', SEGMENT[sc.segment] || sc.segment],
        ['Customer lifetime value', num(sc.clv) != null ? sc.clv.toFixed(2) : null],
        ['Expected purchases', num(sc.expected_purchases) != null ? sc.expected_purchases.toFixed(2) : null],
        ['Still active (probability)', num(sc.p_alive) != null ? (sc.p_alive * 100).toFixed(0) + ' %' : null],
        ['Churn risk', num(sc.churn_risk) != null ? sc.churn_risk.toFixed(2) + (sc.at_risk ? ' (at risk)' : '') : null],
      ]));
      const reasons = Array.isArray(sc.reasons) ? sc.reasons.filter((r) => typeof r === 'string') : [];
      if (reasons.length) {
        value.append(el('p', 'sub', 'Why:'));
        const ul = el('ul', 'reasons');
        reasons.forEach((r) => ul.append(el('li', '', r)));
        value.append(ul);
      }
      value.append(el('p', 'hint', 'Model ' + (sc.model_version || '?') + (num(sc.scored_at) ? ', scored ' + clock(sc.scored_at) : '')));
    } else value.append(el('p', 'hint', 'Not scored yet (no purchase history).'));
    out.push(value);

    const senti = section('Sentiment');
    const st = p.sentiment || {};
    const pts = (Array.isArray(st.points) ? st.points : []).filter((x) => x && num(x.compound) != null);
    if (pts.length) {
      const summary = `Trend ${trendWords(st.trend)}; mean ${num(st.mean) != null ? signed(st.mean) : '?'}, lowest ${num(st.min) != null ? signed(st.min) : '?'} over ${pts.length} message${pts.length === 1 ? '' : 's'}.`;
      senti.append(sparkline(pts, 'Sentiment over time. ' + summary), el('p', 'summary', summary));
    } else senti.append(el('p', 'hint', 'No customer messages scored yet.'));
    out.push(senti);

    const surveys = section('Ratings (CSAT and NPS)');
    const sv = Array.isArray(p.surveys) ? p.surveys : [];
    if (sv.length) {
      const ul = el('ul', 'plist');
      sv.forEach((s) => {
        const li = el('li');
        const kind = String(s.kind || '').toUpperCase();
        li.append(el('b', '', kind + ' ' + s.score + (s.kind === 'csat' ? '/5' : s.kind === 'nps' ? '/10' : '')), ' ', el('span', 'hint', clock(s.created_at)));
        if (s.comment) li.append(el('q', '', s.comment));
        ul.append(li);
      });
      surveys.append(ul);
    } else surveys.append(el('p', 'hint', 'No ratings yet.'));
    out.push(surveys);

    const convs = section('Conversations');
    const cs = (Array.isArray(p.conversations) ? p.conversations : []).filter((x) => x && x.id != null);
    if (cs.length) {
      const ul = el('ul', 'plist');
      cs.forEach((x) => {
        const li = el('li');
        const a = el('a', '', clock(x.created_at) + ' · ' + (x.channel === 'telegram' ? 'Telegram' : 'Web') + ' · ' + (STATE[x.state] || x.state || ''));
        a.href = '#/c/' + x.id;
        if (cur && x.id === cur.id) a.setAttribute('aria-current', 'page');
        li.append(a);
        if (x.first_message) li.append(el('span', 'q-last', x.first_message));
        ul.append(li);
      });
      convs.append(ul);
    } else convs.append(el('p', 'hint', 'No other conversations.'));
    out.push(convs);

    const tasks = section('Tasks');
    const ts = Array.isArray(p.tasks) ? p.tasks : [];
    if (ts.length) {
      const ul = el('ul', 'plist');
      ts.forEach((t) => {
        const li = el('li');
        li.append(el('b', '', t.title || t.kind || 'Task'), ' ', el('span', 'tag', t.state === 'done' ? 'done' : 'open'));
        if (num(t.created_at)) li.append(' ', el('span', 'hint', clock(t.created_at)));
        ul.append(li);
      });
      tasks.append(ul);
    } else tasks.append(el('p', 'hint', 'No tasks.'));
    out.push(tasks);
    panel.replaceChildren(...out);
  };

  // ---- owner: users -----------------------------------------------------------------------------
  const loadUsers = async () => {
    const tbody = $('users-table').querySelector('tbody');
    try {
      const list = await api('GET', '/api/staff');
      staffCache = list;
      showError($('users-error'), '');
      tbody.replaceChildren(...(Array.isArray(list) ? list : []).map((s) => {
        const tr = el('tr');
        tr.dataset.staffId = s.id;
        tr.append(el('td', '', s.display_name), el('td', '', s.email), el('td', '', s.role), el('td', '', s.capacity),
          el('td', '', PRESENCE[s.presence] || 'offline'), el('td', '', s.disabled ? 'disabled' : 'active'));
        const td = el('td');
        if (!me || s.id !== me.id) {
          const b = el('button', s.disabled ? '' : 'danger', s.disabled ? 'Enable' : 'Disable');
          b.type = 'button';
          b.setAttribute('aria-label', (s.disabled ? 'Enable ' : 'Disable ') + s.display_name);
          b.addEventListener('click', async () => {
            b.disabled = true;
            try {
              await api('POST', `/api/staff/${s.id}/${s.disabled ? 'enable' : 'disable'}`);
              announce(s.display_name + (s.disabled ? ' can sign in again.' : ' is disabled and signed out.'));
              await loadUsers();
            } catch (e) {
              b.disabled = false;
              showError($('users-error'), errText(e));
            }
          });
          td.append(b);
        }
        tr.append(td);
        return tr;
      }));
    } catch (e) {
      showError($('users-error'), errText(e));
    }
  };
  $('invite-user').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const errNode = $('iu-error'), button = ev.currentTarget.querySelector('button[type=submit]');
    const body = {
      email: $('iu-email').value.trim(),
      display_name: $('iu-name').value.trim(),
      role: $('iu-role').value,
      capacity: Number($('iu-cap').value),
    };
    if (!body.email || !body.display_name) return showError(errNode, 'Enter an email and a display name.');
    if (!Number.isInteger(body.capacity) || body.capacity < 1 || body.capacity > 100) return showError(errNode, 'Capacity is a whole number from 1 to 100.');
    button.disabled = true;
    showError(errNode, '');
    try {
      const r = await api('POST', '/api/staff', body);
      $('iu-who').textContent = (r.staff && r.staff.display_name) || body.display_name;
      $('iu-link').value = new URL(r.invite_url, BASE).toString();
      $('iu-copied').textContent = '';
      $('iu-result').hidden = false;
      $('iu-email').value = '';
      $('iu-name').value = '';
      $('iu-link').focus();
      $('iu-link').select();
      staffCache = null;
      loadUsers();
    } catch (e) {
      showError(errNode, errText(e));
    } finally {
      button.disabled = false;
    }
  });
  $('iu-copy').addEventListener('click', async () => {
    const link = $('iu-link');
    try {
      await navigator.clipboard.writeText(link.value);
      $('iu-copied').textContent = 'Copied.';
    } catch (e) {
      link.focus();
      link.select();
      $('iu-copied').textContent = 'Press Ctrl+C (⌘C) to copy the selected link.';
    }
  });

  // ---- owner: metrics ---------------------------------------------------------------------------
  const loadMetrics = async () => {
    const tbody = $('metrics-table').querySelector('tbody');
    const days = Number($('metrics-days').value) || 7;
    try {
      const r = await api('GET', '/api/metrics?days=' + days);
      showError($('metrics-error'), '');
      const row = (name, a, b) => {
        const tr = el('tr');
        tr.append(el('th', '', name), el('td', '', a), el('td', '', b == null ? '' : b));
        tr.firstChild.scope = 'row';
        return tr;
      };
      const fr = r.first_response_seconds || {}, rs = r.resolution_seconds || {};
      const rows = [
        row('Handoff rate (conversations handed to a person)', pct(r.handoff_rate)),
        row('Bot resolution rate (resolved without a person)', pct(r.bot_resolution_rate)),
        row('First response time', duration(fr.median), duration(fr.p90)),
        row('Resolution time', duration(rs.median), duration(rs.p90)),
      ];
      const counts = r.counts && typeof r.counts === 'object' ? r.counts : {};
      for (const k of Object.keys(counts)) {
        const label = k.replace(/_/g, ' ');
        rows.push(row('Count: ' + label, String(counts[k])));
      }
      tbody.replaceChildren(...rows);
    } catch (e) {
      showError($('metrics-error'), errText(e));
    }
  };
  $('metrics-days').addEventListener('change', loadMetrics);

  // ---- learning: agents link articles to questions the bot did not answer ----------------------
  // Which customer messages can be linked comes from the server (the bot did not answer them and
  // an agent wrote after them); each gets a "Link article" button and its links so far.
  let linksFor = 0;
  const loadLinks = async () => {
    if (!cur) return;
    const id = cur.id;
    linksFor = id;
    let r;
    try {
      r = await api('GET', '/api/conversations/' + id + '/learning');
    } catch (e) {
      return; // the transcript works without it
    }
    if (!cur || cur.id !== id || linksFor !== id) return;
    const linkable = new Set(Array.isArray(r.linkable) ? r.linkable.map(Number) : []);
    const byMessage = new Map();
    (Array.isArray(r.suggestions) ? r.suggestions : []).forEach((s) => {
      const k = Number(s.message_id);
      if (!byMessage.has(k)) byMessage.set(k, []);
      byMessage.get(k).push(s);
    });
    cur.shown.forEach((node, mid) => {
      const old = node.querySelector('.learn');
      if (old) old.remove();
      if (!linkable.has(mid) && !byMessage.has(mid)) return;
      node.append(buildLinkBox(mid, byMessage.get(mid) || [], linkable.has(mid)));
    });
  };
  const SUGGESTION_STATE = { pending: 'waiting for an owner', approved: 'approved', rejected: 'rejected' };
  const buildLinkBox = (messageId, links, canLink) => {
    const box = el('div', 'learn');
    links.forEach((s) => box.append(el('p', 'aside', 'Linked to “' + (s.article_title || s.article_id) + '” by ' + (s.suggested_by_name || 'an agent') + ': ' + (SUGGESTION_STATE[s.state] || s.state))));
    if (!canLink) return box;
    const open = el('button', 'ghost small', 'Link article');
    open.type = 'button';
    open.setAttribute('aria-expanded', 'false');
    const form = el('div', 'link-picker');
    form.hidden = true;
    const label = el('label', 'sr', 'Search the knowledge base for the article that answers this question');
    const input = el('input');
    input.type = 'search';
    input.autocomplete = 'off';
    input.placeholder = 'Search articles…';
    input.id = 'link-q-' + messageId;
    label.htmlFor = input.id;
    const list = el('ul', 'link-list');
    const status = el('p', 'hint');
    status.setAttribute('role', 'status');
    form.append(label, input, list, status);
    open.addEventListener('click', () => {
      form.hidden = !form.hidden;
      open.setAttribute('aria-expanded', String(!form.hidden));
      if (!form.hidden) {
        const msg = cur && cur.shown.get(messageId);
        if (!input.value && msg) input.value = (msg.querySelector('.text') || {}).textContent || '';
        input.focus();
        search();
      }
    });
    let timer = null, seq = 0;
    const search = async () => {
      const q = input.value.trim();
      const mine = ++seq;
      if (!q) { list.replaceChildren(); status.textContent = ''; return; }
      try {
        const r = await api('GET', '/api/canned?q=' + encodeURIComponent(q));
        if (mine !== seq) return;
        const replies = Array.isArray(r.replies) ? r.replies : [];
        status.textContent = replies.length ? '' : 'No article matches.';
        list.replaceChildren(...replies.map((a) => {
          const li = el('li');
          const b = el('button', 'ghost', 'Link “' + (a.title || a.article_id) + '”');
          b.type = 'button';
          b.addEventListener('click', () => link(a.article_id, b));
          li.append(b);
          return li;
        }));
      } catch (e) {
        if (mine === seq) status.textContent = errText(e);
      }
    };
    input.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(search, 200); });
    const link = async (articleId, button) => {
      if (!cur) return;
      button.disabled = true;
      try {
        await api('POST', '/api/kb/suggestions', { conversation_id: cur.id, message_id: messageId, article_id: articleId });
        toast('Article linked. An owner will approve or reject it.');
        loadLinks();
      } catch (e) {
        button.disabled = false;
        status.textContent = e.code === 'already_suggested' ? 'This question is already linked to that article.' : errText(e);
      }
    };
    box.append(open, form);
    return box;
  };

  // ---- owner: learning (pending links and the unanswered-questions report) --------------------
  const loadLearningPage = () => { loadSuggestions(); loadUnanswered(); };
  const loadSuggestions = async () => {
    const list = $('suggestions-list');
    try {
      const r = await api('GET', '/api/kb/suggestions?state=pending');
      showError($('suggestions-error'), '');
      const rows = Array.isArray(r.suggestions) ? r.suggestions : [];
      show($('suggestions-empty'), rows.length === 0);
      list.replaceChildren(...rows.map((s) => {
        const li = el('li', 'suggestion');
        li.dataset.id = s.id;
        const q = el('p', 'q');
        q.append(el('strong', '', '“' + s.question + '”'));
        q.append(' → ', el('span', '', s.article_title || (s.article_id + ' (article deleted)')));
        const meta = el('p', 'hint', 'Linked by ' + (s.suggested_by_name || 'an agent') + ' ' + ago(s.created_at) + ' · ');
        const conv = el('a', '', 'conversation');
        conv.href = '#/c/' + Number(s.conversation_id);
        meta.append(conv);
        const approve = el('button', 'primary', 'Approve');
        const reject = el('button', '', 'Reject');
        approve.type = reject.type = 'button';
        const decide = async (action) => {
          approve.disabled = reject.disabled = true;
          try {
            const r2 = await api('POST', '/api/kb/suggestions/' + Number(s.id) + '/' + action, {});
            toast(action === 'approve'
              ? (r2.kb_rebuilt ? 'Approved: the bot answers this question now.' : 'Approved; the knowledge base updates within a few seconds.')
              : 'Rejected.');
            loadLearningPage();
          } catch (e) {
            approve.disabled = reject.disabled = false;
            showError($('suggestions-error'), errText(e));
            if (e.code === 'already_decided') loadSuggestions();
          }
        };
        approve.addEventListener('click', () => decide('approve'));
        reject.addEventListener('click', () => decide('reject'));
        const actions = el('p', 'actions');
        actions.append(approve, ' ', reject);
        li.append(q, meta, actions);
        return li;
      }));
    } catch (e) {
      showError($('suggestions-error'), errText(e));
    }
  };
  const loadUnanswered = async () => {
    const tbody = $('unanswered-table').querySelector('tbody');
    const days = Number($('unanswered-days').value) || 30;
    const since = Date.now() - days * 86400000;
    $('unanswered-csv').href = href('/api/kb/unanswered?format=csv&limit=500&since=' + since);
    try {
      const r = await api('GET', '/api/kb/unanswered?limit=50&since=' + since);
      showError($('unanswered-error'), '');
      const groups = Array.isArray(r.groups) ? r.groups : [];
      show($('unanswered-empty'), groups.length === 0);
      tbody.replaceChildren(...groups.map((g) => {
        const tr = el('tr');
        const th = el('th', '');
        th.scope = 'row';
        th.append(el('strong', '', g.question));
        const ex = (Array.isArray(g.examples) ? g.examples : []).slice(1);
        if (ex.length) {
          const ul = el('ul', 'examples');
          ex.forEach((q) => {
            const li = el('li');
            const a = el('a', '', q.text);
            a.href = '#/c/' + Number(q.conversation_id);
            li.append(a);
            ul.append(li);
          });
          th.append(ul);
        }
        tr.append(th, el('td', '', String(g.count)), el('td', '', String(g.conversations)),
          el('td', '', String(g.agent_answered)), el('td', '', String(g.learned)), el('td', '', clock(g.last_seen)));
        return tr;
      }));
    } catch (e) {
      showError($('unanswered-error'), errText(e));
    }
  };
  $('unanswered-days').addEventListener('change', loadUnanswered);

  // ---- start ------------------------------------------------------------------------------------
  W.harkConsole = {
    state: () => ({
      signedIn: !!me,
      connected: !!ws && ws.readyState === 1,
      view: app.dataset.view || null,
      conversationId: cur ? cur.id : null,
      queued: items.size,
    }),
  };
  const boot = async () => {
    if (/\/invite\/?$/.test(location.pathname)) return showInvite();
    try {
      start(await api('GET', '/api/me'));
    } catch (e) {
      showLogin(e.status === 401 ? '' : errText(e));
    }
  };
  boot();
})();
