/*! hark web widget · MIT OR Apache-2.0 · protocol: docs/protocol.md */
(() => {
  'use strict';
  const W = window, D = document;
  if (W.harkWidget || !W.WebSocket) return;

  // ---- configuration (data attributes on the script tag) ----------------------------------------
  const script = D.currentScript || D.querySelector('script[src*="widget.js"]');
  const ds = (script && script.dataset) || {};
  const opt = (k, d) => (ds[k] != null && ds[k] !== '' ? ds[k] : d);
  const TITLE = opt('harkTitle', 'Chat with us');
  const BOT = opt('harkBotName', 'Assistant');
  const GREETING = opt('harkGreeting', 'Hi! Ask us anything. We usually answer right away.');
  const wsUrl = (() => {
    try {
      const u = new URL(opt('harkServer', script && script.src ? script.src : location.href), location.href);
      if (!/^https?:$/.test(u.protocol)) return null;
      const path = ds.harkServer ? u.pathname.replace(/\/+$/, '') : '';
      return (u.protocol === 'https:' ? 'wss://' : 'ws://') + u.host + path + '/ws/widget';
    } catch (e) { return null; }
  })();

  // ---- storage (may throw in sandboxed frames / private modes) --------------------------------
  const get = (a, k) => { try { return W[a].getItem(k); } catch (e) { return null; } };
  const put = (a, k, v) => { try { v == null ? W[a].removeItem(k) : W[a].setItem(k, v); } catch (e) { /* ignore */ } };
  const rid = () => {
    const b = new Uint8Array(16);
    crypto.getRandomValues(b);
    return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  };

  let token = get('localStorage', 'hark.visitor');
  let readUpTo = +get('localStorage', 'hark.read') || 0;
  let outbox = [];
  try { outbox = JSON.parse(get('sessionStorage', 'hark.outbox')) || []; } catch (e) { /* ignore */ }
  if (!Array.isArray(outbox)) outbox = [];
  outbox = outbox.filter((e) => e && typeof e.c === 'string' && /^(message|choose|handoff)$/.test(e.t));
  const saveOutbox = () =>
    put('sessionStorage', 'hark.outbox', outbox.length ? JSON.stringify(outbox.map(({ c, t, x, a }) => ({ c, t, x, a }))) : null);

  // ---- DOM --------------------------------------------------------------------------------------
  const STYLE = `
:host{all:initial}
*{box-sizing:border-box}
[hidden]{display:none!important}
.w{--a:var(--hark-accent,#0b6b53);--on:var(--hark-on-accent,#fff);--bg:#fff;--fg:#1b2230;--mut:#586172;--soft:#eef2f1;--line:#d9dedd;--agent:#fdf3e1;--err:#a4262c;--fld:#7c8592;--ring:var(--a);
font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--fg);-webkit-font-smoothing:antialiased}
@media (prefers-color-scheme:dark){.w{--bg:#181c22;--fg:#e9edf2;--mut:#a9b1bd;--soft:#252b33;--line:#38404a;--agent:#3a3122;--err:#ff8a8a;--fld:#7d8794;--ring:#e9edf2}}
button,textarea{font:inherit;color:inherit}
button{cursor:pointer}
:focus-visible{outline:3px solid var(--ring);outline-offset:2px}
.sr{position:absolute;width:1px;height:1px;padding:0;margin:-1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap;border:0}
.bub{position:fixed;right:20px;bottom:20px;z-index:2147483000;width:58px;height:58px;border-radius:50%;border:0;background:var(--a);color:var(--on);
display:grid;place-items:center;box-shadow:0 0 0 2px rgba(255,255,255,.85),0 6px 20px rgba(0,0,0,.25);transition:transform .15s}
.bub:hover{transform:scale(1.06)}
.bub:focus-visible{outline-offset:3px;box-shadow:0 0 0 3px #fff,0 6px 20px rgba(0,0,0,.25)}
.bub svg{width:28px;height:28px}
.bub .x{display:none}.bub[aria-expanded=true] .x{display:block}.bub[aria-expanded=true] .c{display:none}
.badge{position:absolute;top:-3px;right:-3px;min-width:21px;height:21px;padding:0 6px;border-radius:11px;background:#c42b1c;color:#fff;font:700 12px/21px system-ui,sans-serif;text-align:center;border:2px solid #fff}
:host([data-pos=left]) .bub{right:auto;left:20px}
:host([data-pos=left]) .p{right:auto;left:20px}
.p{position:fixed;right:20px;bottom:90px;z-index:2147483001;width:380px;height:min(620px,calc(100vh - 110px));max-height:calc(100vh - 110px);
display:flex;flex-direction:column;background:var(--bg);border-radius:16px;overflow:hidden;box-shadow:0 12px 48px rgba(0,0,0,.28);border:1px solid var(--line);animation:in .18s ease-out}
@keyframes in{from{opacity:0;transform:translateY(12px) scale(.98)}}
.hd{display:flex;align-items:center;gap:10px;padding:12px 10px 12px 16px;background:var(--a);color:var(--on)}
.av{flex:none;width:36px;height:36px;border-radius:50%;background:rgba(255,255,255,.2);display:grid;place-items:center}
.av svg{width:20px;height:20px}
.av span{font-weight:700;font-size:16px}
.ti{flex:1;min-width:0}
.ti h2{margin:0;font-size:16px;font-weight:650;line-height:1.25;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.ti p{margin:0;font-size:13px;opacity:.92;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.ib{flex:none;width:38px;height:38px;border-radius:10px;border:0;background:transparent;color:inherit;display:grid;place-items:center}
.ib:hover{background:rgba(255,255,255,.16)}
.ib:disabled{opacity:.5;cursor:default;background:transparent}
.ib svg{width:21px;height:21px}
.hd :focus-visible{outline-color:var(--on);outline-offset:-3px}
.st{padding:10px 16px;background:var(--soft);border-bottom:1px solid var(--line);font-size:14px;display:flex;gap:10px;align-items:flex-start}
.st b{display:block;font-weight:600}
.st small{display:block;color:var(--mut);font-size:13px}
.spin{flex:none;width:16px;height:16px;margin-top:2px;border:2px solid var(--line);border-top-color:var(--a);border-radius:50%;animation:sp 1s linear infinite}
@keyframes sp{to{transform:rotate(1turn)}}
.log{flex:1;overflow-y:auto;overscroll-behavior:contain;padding:16px 14px 8px;display:flex;flex-direction:column;gap:10px;min-height:0}
.m{display:flex;flex-direction:column;align-items:flex-start;max-width:88%;min-width:0}
.m[data-author=customer]{align-self:flex-end;align-items:flex-end}
.who{font-size:12px;color:var(--mut);margin:0 4px 2px}
.tx{padding:9px 13px;border-radius:16px 16px 16px 4px;background:var(--soft);white-space:pre-wrap;overflow-wrap:anywhere;word-break:break-word;max-width:100%}
.tx a{color:inherit;text-decoration:underline}
.m[data-author=customer] .tx{background:var(--a);color:var(--on);border-radius:16px 16px 4px 16px}
.m[data-author=agent] .tx{background:var(--agent)}
.m[data-author=system]{align-self:center;align-items:center;max-width:94%}
.m[data-author=system] .tx{background:transparent;color:var(--mut);font-size:13px;text-align:center;padding:2px 8px}
.m[data-pending] .tx{opacity:.72}
.m[data-failed] .tx{outline:2px dashed var(--err);outline-offset:2px}
.meta{font-size:12px;color:var(--mut);margin:3px 4px 0}
.meta button{border:0;background:none;color:var(--err);text-decoration:underline;padding:0 2px;font-size:12px}
.ev{align-self:center;font-size:13px;color:var(--mut);text-align:center;padding:2px 10px;max-width:94%;overflow-wrap:anywhere}
.ev.j{color:var(--fg);font-weight:600}
.csat{align-self:stretch;border:1px solid var(--line);border-radius:12px;padding:10px;display:flex;flex-direction:column;gap:8px}
.csat-q{margin:0;font-weight:600}
.csat-row{display:flex;gap:4px;flex-wrap:wrap}
.csat-b{font:inherit;border:1px solid var(--line);background:var(--bg);color:var(--fg);border-radius:8px;padding:4px 6px;cursor:pointer}
.csat-b[aria-pressed=true]{background:var(--a);color:var(--on);border-color:var(--a)}
.csat-c{font:inherit;border:1px solid var(--fld);border-radius:8px;padding:6px;background:var(--bg);color:var(--fg);resize:vertical}
.csat-s{font:inherit;align-self:flex-start;background:var(--a);color:var(--on);border:0;border-radius:8px;padding:6px 12px;cursor:pointer}
.csat-s:disabled{opacity:.5;cursor:default}
.csat button:focus-visible,.csat-c:focus-visible{outline:2px solid var(--ring);outline-offset:2px}
.nps-row{display:flex;gap:3px;flex-wrap:wrap}
.nps-row .csat-b{min-width:28px;padding:4px 0;text-align:center;flex:1 0 28px}
.nps-ends{display:flex;justify-content:space-between;gap:8px;font-size:12px;color:var(--mut);margin-top:-4px}
.csat-x{display:flex;gap:12px;flex-wrap:wrap}
.csat-l{font:inherit;font-size:13px;border:0;background:none;color:var(--mut);text-decoration:underline;padding:0;cursor:pointer}
.intro{align-self:flex-start;max-width:88%;padding:9px 13px;border-radius:16px 16px 16px 4px;background:var(--soft);overflow-wrap:anywhere}
.sg{margin-top:8px;display:flex;flex-direction:column;align-items:flex-start;gap:6px;max-width:100%}
.sg p{margin:0;font-size:13px;color:var(--mut)}
.ch{max-width:100%;text-align:left;padding:7px 12px;border-radius:12px;border:1.5px solid var(--ring);background:var(--bg);color:var(--fg);overflow-wrap:anywhere}
.ch:hover:not(:disabled){background:var(--soft)}
.ch:disabled{opacity:.6;cursor:default}
.ch[aria-pressed=true]{opacity:1;background:var(--a);color:var(--on)}
.ch.ho{border-style:dashed;font-weight:600}
.ty{display:flex;align-items:center;gap:8px;padding:0 18px 6px;font-size:13px;color:var(--mut)}
.dots{display:inline-flex;gap:3px}
.dots i{width:6px;height:6px;border-radius:50%;background:var(--mut);animation:bl 1.2s infinite}
.dots i:nth-child(2){animation-delay:.2s}.dots i:nth-child(3){animation-delay:.4s}
@keyframes bl{0%,80%,100%{opacity:.25}40%{opacity:1}}
.ss{padding:4px 16px;font-size:13px;color:var(--mut);text-align:center;border-top:1px solid var(--line)}
.ss.off{color:var(--fg);background:var(--soft)}
.nt{margin:0 12px 6px;padding:8px 12px;border-radius:10px;background:var(--fg);color:var(--bg);font-size:13px}
.f{display:flex;align-items:flex-end;gap:8px;padding:10px 12px;border-top:1px solid var(--line);background:var(--bg)}
.f textarea{flex:1;min-width:0;resize:none;border:1.5px solid var(--fld);border-radius:12px;padding:9px 12px;font-size:16px;line-height:1.35;max-height:132px;background:var(--bg);color:var(--fg)}
.f textarea::placeholder{color:var(--mut)}
.f textarea:focus-visible{outline:none;border-color:var(--ring);box-shadow:0 0 0 2px var(--ring)}
.send{flex:none;width:44px;height:44px;border-radius:12px;border:0;background:var(--a);color:var(--on);display:grid;place-items:center}
.send svg{width:22px;height:22px}
.ft{padding:0 12px 8px;text-align:center;font-size:11px;color:var(--mut);background:var(--bg)}
@media (max-width:480px){
.p{inset:0;right:0;bottom:0;width:100%;max-height:none;height:100%;height:var(--hark-vh,100dvh);border-radius:0;border:0}
.p{top:var(--hark-vt,0px)}
.w.open .bub{display:none}
.m,.intro{max-width:92%}
}
@media print{.w{display:none}}
@media (forced-colors:active){.bub,.send,.tx,.intro,.ch,.badge{border:1px solid CanvasText}}
@media (prefers-reduced-motion:reduce){*,*::before,*::after{animation:none!important;transition:none!important}}
`;
  const ICON = {
    chat: '<svg class="c" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true"><path d="M21 12a8 8 0 0 1-11.6 7.1L4 20.5l1.4-4.6A8 8 0 1 1 21 12z"/></svg>',
    x: '<svg class="x" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2.2" stroke-linecap="round" aria-hidden="true"><path d="M6 6l12 12M18 6L6 18"/></svg>',
    person: '<svg viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true"><circle cx="12" cy="8" r="4"/><path d="M4 21a8 8 0 0 1 16 0"/></svg>',
    headset: '<svg viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true"><path d="M4 14v-2a8 8 0 0 1 16 0v2"/><rect x="3" y="13" width="4" height="6" rx="1.5"/><rect x="17" y="13" width="4" height="6" rx="1.5"/><path d="M19 19a4 4 0 0 1-4 3h-2"/></svg>',
    send: '<svg viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2.2" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true"><path d="M5 12h13M12 5l7 7-7 7"/></svg>',
  };

  const host = D.createElement('div');
  host.id = 'hark-widget';
  // Page rules such as `div { display: none }` must not reach the host either.
  host.style.cssText = 'all:initial !important';
  if (opt('harkPosition', '') === 'left') host.dataset.pos = 'left';
  const root = host.attachShadow({ mode: 'open' });
  // Static markup only: every piece of message text is set with textContent further down.
  root.innerHTML = `<div class="w">
<button class="bub" type="button" data-hark="bubble" aria-expanded="false" aria-label="Open chat" aria-controls="hark-panel" aria-describedby="hark-unread">${ICON.chat}${ICON.x}<span class="badge" data-hark="badge" aria-hidden="true" hidden></span></button><span class="sr" id="hark-unread"></span>
<div class="p" id="hark-panel" data-hark="panel" role="dialog" aria-modal="false" hidden>
<div class="hd"><div class="av" aria-hidden="true">${ICON.person}<span hidden></span></div><div class="ti"><h2 id="hark-title"></h2><p data-hark="subtitle"></p></div>
<button class="ib" type="button" data-hark="handoff" aria-label="Talk to a person" title="Talk to a person">${ICON.headset}</button>
<button class="ib" type="button" data-hark="close" aria-label="Close chat" title="Close chat">${ICON.x.replace(' class="x"', '')}</button></div>
<div class="st" data-hark="state" hidden><span class="spin" aria-hidden="true"></span><span><b></b><small></small></span></div>
<div class="log" data-hark="log" role="log" aria-live="polite" aria-relevant="additions" aria-label="Conversation" tabindex="0"></div>
<div class="ty" data-hark="typing" hidden><span class="dots" aria-hidden="true"><i></i><i></i><i></i></span><span></span></div>
<div class="nt" data-hark="notice" role="alert" hidden></div>
<div class="ss" data-hark="status" role="status" hidden></div>
<form class="f" data-hark="form"><label class="sr" for="hark-input">Your message</label>
<textarea id="hark-input" data-hark="input" rows="1" maxlength="4000" placeholder="Write a message…" enterkeyhint="send" autocomplete="off"></textarea>
<button class="send" type="submit" data-hark="send" aria-label="Send">${ICON.send}</button></form>
<div class="ft">Powered by hark</div></div></div>`;
  // A constructed stylesheet is not blocked by a page's Content-Security-Policy (style-src); a <style>
  // element is the fallback for older browsers.
  try {
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(STYLE);
    root.adoptedStyleSheets = [sheet];
  } catch (e) {
    const st = D.createElement('style');
    st.textContent = STYLE;
    root.prepend(st);
  }
  const $ = (s) => root.querySelector(s);
  const wrap = $('.w'), bubble = $('[data-hark=bubble]'), panel = $('[data-hark=panel]'), log = $('[data-hark=log]');
  const input = $('[data-hark=input]'), form = $('[data-hark=form]'), statusEl = $('[data-hark=status]');
  const stateEl = $('[data-hark=state]'), typingEl = $('[data-hark=typing]'), noticeEl = $('[data-hark=notice]');
  const badge = $('[data-hark=badge]'), subtitle = $('[data-hark=subtitle]'), headHandoff = $('.hd [data-hark=handoff]');
  $('#hark-title').textContent = TITLE;
  panel.setAttribute('aria-label', TITLE);
  const el = (tag, cls, text) => {
    const e = D.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    return e;
  };

  // Custom accent colour: pick black or white text, whichever contrasts more.
  const color = opt('harkColor', '');
  if (color && W.CSS && W.CSS.supports('color', color)) {
    host.style.setProperty('--hark-accent', color);
    const probe = el('span');
    probe.style.color = color;
    root.appendChild(probe);
    const rgb = (getComputedStyle(probe).color.match(/[\d.]+/g) || [0, 0, 0]).slice(0, 3).map((v) => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    });
    probe.remove();
    const L = 0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2];
    host.style.setProperty('--hark-on-accent', 1.05 / (L + 0.05) >= (L + 0.05) / 0.05 ? '#fff' : '#111');
  }

  // ---- rendering --------------------------------------------------------------------------------
  const shown = new Map(); // message id -> element
  const pendingEls = new Map(); // client_id -> element not yet acknowledged
  // lastId: highest id shown (messages and acks); heardId: highest id of a message frame received, sent in hello
  // (an ack can overtake a broadcast still queued on the server, so acks do not advance it).
  let lastId = null, heardId = null, agentName = null, unread = 0, isOpen = false;

  // Keep log items ordered: messages by id, local events right after the newest message, pending at the end.
  const place = (node, key) => {
    node.remove();
    node._k = key;
    let ref = null;
    for (let c = log.lastElementChild; c && c._k > key; c = c.previousElementSibling) ref = c;
    log.insertBefore(node, ref);
    if (atBottom || key === Infinity) toBottom();
  };
  // Follow new messages while the reader is at the bottom, also when the banner or the input grows.
  // Only the reader scrolling up unpins (a layout change or our own scrolling never does).
  let atBottom = true, lastTop = 0;
  const toBottom = () => { log.scrollTop = log.scrollHeight; lastTop = log.scrollTop; atBottom = true; };
  log.addEventListener('scroll', () => {
    if (log.scrollHeight - log.scrollTop - log.clientHeight < 40) atBottom = true;
    else if (log.scrollTop < lastTop) atBottom = false;
    lastTop = log.scrollTop;
  }, { passive: true });
  if (W.ResizeObserver) new ResizeObserver(() => atBottom && toBottom()).observe(log);
  const intro = el('div', 'intro', GREETING);
  place(intro, -Infinity);

  const event = (text, cls) => {
    const e = el('div', 'ev' + (cls ? ' ' + cls : ''), text);
    e.dataset.hark = 'event';
    place(e, (lastId || 0) + 0.5);
    return e;
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

  const whoName = (author, name) =>
    author === 'customer' ? 'You' : author === 'bot' ? BOT : author === 'agent' ? name || 'Support agent' : 'Notice';

  const buildMessage = (author, text, name, time) => {
    const m = el('div', 'm');
    m.dataset.hark = 'message';
    m.dataset.author = author;
    const who = el('div', author === 'agent' ? 'who' : 'sr', whoName(author, name) + (author === 'agent' ? '' : ':'));
    const tx = el('div', 'tx');
    tx.dataset.hark = 'text';
    fillText(tx, String(text == null ? '' : text));
    if (time) tx.title = new Date(time).toLocaleString();
    m.append(who, tx);
    return m;
  };

  const handoffBusy = () => convState === 'waiting' || convState === 'agent' || handoffQueued();
  const handoffQueued = () => outbox.some((e) => e.t === 'handoff');
  const syncHandoffButtons = () => {
    const busy = handoffBusy();
    root.querySelectorAll('button[data-hark=handoff]').forEach((b) => { b.disabled = busy; });
  };

  const addMessage = (f) => {
    const id = Number(f.id);
    if (!Number.isFinite(id)) return;
    if (shown.has(id)) {
      if (heardId == null || id > heardId) heardId = id;
      return;
    }
    const author = /^(customer|bot|agent|system)$/.test(f.author) ? f.author : 'system';
    if (heardId == null || id > heardId) heardId = id;
    // The stored message proves its request arrived, even if the ack was lost.
    if (f.client_id != null && !pendingEls.has(f.client_id)) dropEntry(f.client_id);
    if (author === 'bot' && f.article_id != null) outbox.filter((e) => e.t === 'choose' && e.a === f.article_id).forEach((e) => dropEntry(e.c));
    let m = f.client_id != null && pendingEls.get(f.client_id);
    if (m) {
      pendingEls.delete(f.client_id);
      dropEntry(f.client_id);
      m.removeAttribute('data-pending');
      m.querySelector('.meta')?.remove();
    } else {
      if (author === 'agent' && f.author_name && f.author_name !== agentName) {
        agentName = f.author_name;
        event(agentName + ' joined', 'j');
        showState();
      }
      m = buildMessage(author, f.text, f.author_name, f.created_at);
      const sugg = Array.isArray(f.suggestions) ? f.suggestions.filter((s) => s && s.article_id != null) : [];
      if (sugg.length || f.offer_handoff) {
        const box = el('div', 'sg');
        if (sugg.length) {
          box.append(el('p', '', 'Did you mean…'));
          for (const s of sugg) {
            const b = el('button', 'ch', s.title || String(s.article_id));
            b.type = 'button';
            b.dataset.hark = 'suggestion';
            b.dataset.articleId = s.article_id;
            b.setAttribute('aria-pressed', 'false');
            b.onclick = () => {
              box.querySelectorAll('[data-hark=suggestion]').forEach((o) => { o.disabled = true; });
              b.setAttribute('aria-pressed', 'true');
              queue({ c: rid(), t: 'choose', a: s.article_id });
            };
            box.append(b);
          }
        }
        if (f.offer_handoff) {
          const h = el('button', 'ch ho', 'Talk to a person');
          h.type = 'button';
          h.dataset.hark = 'handoff';
          h.onclick = askHandoff;
          h.disabled = handoffBusy();
          box.append(h);
        }
        m.append(box);
      }
      if (author === 'bot' || author === 'agent') hideTyping(author);
      if (!isOpen && author !== 'customer' && id > readUpTo) setUnread(unread + 1);
    }
    m.dataset.id = id;
    shown.set(id, m);
    if (lastId == null || id > lastId) lastId = id;
    if (isOpen) markRead();
    place(m, id);
  };

  const addPending = (e) => {
    const m = buildMessage('customer', e.x);
    m.dataset.pending = '';
    const meta = el('div', 'meta', 'Sending…');
    m.append(meta);
    pendingEls.set(e.c, m);
    place(m, Infinity);
    return m;
  };

  // ---- conversation state (bot / waiting / agent / resolved) -----------------------------------
  let convState = 'bot', stateReason = null, stateExtra = {};
  // Escalation reasons are meant for agents (some, like sentiment or customer value, must never be shown to the
  // customer): show a sentence the server wrote for them, or a known code, and nothing else.
  const REASON = { bot_could_not_answer: 'A person will help with your question.' };
  const pretty = (r) => (typeof r !== 'string' ? '' : / /.test(r.trim()) ? r.trim() : REASON[r] || '');
  const waitText = () => {
    const parts = [];
    const pos = stateExtra.queue_position;
    const eta = stateExtra.estimated_wait_seconds;
    if (Number.isFinite(pos) && pos > 0) parts.push(pos === 1 ? 'You are next in line' : `You are number ${pos} in the queue`);
    if (Number.isFinite(eta) && eta > 0) parts.push(eta < 90 ? 'about a minute' : `about ${Math.round(eta / 60)} minutes`);
    return parts.join(' · ') || pretty(stateReason);
  };
  const stateLine = () =>
    convState === 'waiting' ? 'Finding a person for you…'
      : convState === 'agent' ? (agentName ? `You're chatting with ${agentName}` : 'A person has joined')
        : convState === 'resolved' ? 'Conversation closed' : '';
  const showState = () => {
    const line = stateLine();
    stateEl.hidden = !line;
    stateEl.querySelector('b').textContent = line;
    stateEl.querySelector('small').textContent =
      convState === 'waiting' ? waitText() : convState === 'resolved' ? 'Write again any time to start a new conversation.' : '';
    stateEl.querySelector('.spin').hidden = convState !== 'waiting';
    const withAgent = convState === 'agent' && !!agentName;
    const av = $('.av span');
    av.hidden = !withAgent;
    av.textContent = withAgent ? [...agentName.trim()][0] || '' : '';
    $('.av svg').style.display = withAgent ? 'none' : '';
    subtitle.textContent = withAgent ? agentName + ' · Support'
      : convState === 'waiting' ? 'Waiting for a person' : 'We usually answer right away';
    syncHandoffButtons();
    showStatus();
  };
  const setState = (s, reason, live, f) => {
    if (!/^(bot|waiting|agent|resolved)$/.test(s)) return;
    const prev = convState;
    convState = s;
    stateReason = reason || null;
    stateExtra = f || {};
    // A person is being fetched or is here: an unacknowledged handoff request has done its job.
    if (s !== 'bot') outbox.filter((e) => e.t === 'handoff').forEach((e) => dropEntry(e.c));
    if (live && s !== prev) {
      // "waiting" is shown by the banner (and the server writes its own system message into the log).
      if (s === 'resolved') event('Conversation closed');
      else if (s === 'bot' && (prev === 'agent' || prev === 'waiting')) event(`You're back with the ${BOT.toLowerCase()}`);
      if (s !== 'agent') agentName = null;
    }
    const named = stateExtra.agent_name;
    if (s === 'agent' && typeof named === 'string' && named && named !== agentName) {
      if (live) event(named + ' joined', 'j');
      agentName = named;
    }
    showState();
  };

  // ---- status line & notices --------------------------------------------------------------------
  let conn = 'idle'; // idle | connecting | open | retrying | off
  const showStatus = () => {
    const txt = conn === 'retrying' ? 'Reconnecting…' : conn === 'connecting' && lastId == null && outbox.length === 0
      ? 'Connecting…' : conn === 'connecting' ? 'Reconnecting…' : conn === 'off' ? 'Chat is unavailable right now.' : stateLine();
    const problem = txt && txt !== stateLine();
    statusEl.textContent = txt;
    statusEl.hidden = !txt;
    // The conversation state is shown in the banner and announced in the log: keep it here for
    // scripts, but visually hidden and not announced twice.
    statusEl.className = problem ? 'ss off' : txt ? 'ss sr' : 'ss';
    statusEl.setAttribute('aria-live', problem ? 'polite' : 'off');
  };
  let noticeT = 0;
  const notice = (text) => {
    noticeEl.textContent = text;
    noticeEl.hidden = false;
    clearTimeout(noticeT);
    noticeT = setTimeout(() => { noticeEl.hidden = true; }, 6000);
  };

  // ---- typing (the other side) ------------------------------------------------------------------
  let typingWho = null, typingT = 0;
  const hideTyping = (who) => {
    if (who && typingWho !== who) return;
    typingWho = null;
    typingEl.hidden = true;
    clearTimeout(typingT);
  };
  const showTyping = (who, active) => {
    if (!active) return hideTyping(who);
    typingWho = who;
    typingEl.lastElementChild.textContent = (who === 'agent' ? agentName || 'Support' : BOT) + ' is typing…';
    typingEl.hidden = false;
    clearTimeout(typingT);
    typingT = setTimeout(hideTyping, 15000);
  };

  // ---- CSAT after a resolved conversation ---------------------------------------------------------
  // Five labelled buttons (keyboard: Tab and Enter/Space), an optional comment, one answer.
  let csatEl = null;
  const CSAT = ['Very bad', 'Bad', 'OK', 'Good', 'Very good'];
  const showCsat = (f) => {
    if (csatEl) return;
    const box = el('div', 'csat');
    box.dataset.hark = 'csat';
    box.setAttribute('role', 'group');
    const q = el('p', 'csat-q', typeof f.question === 'string' ? f.question : 'How would you rate the help you got?');
    q.id = 'hark-csat-q';
    box.setAttribute('aria-labelledby', q.id);
    const row = el('div', 'csat-row');
    let picked = 0;
    const comment = el('textarea', 'csat-c');
    comment.rows = 2;
    comment.maxLength = 1000;
    comment.placeholder = 'Anything to add? (optional)';
    comment.setAttribute('aria-label', 'Comment (optional)');
    const submit = el('button', 'csat-s', 'Send rating');
    submit.type = 'button';
    submit.disabled = true;
    CSAT.forEach((label, i) => {
      const b = el('button', 'csat-b', '★'.repeat(i + 1));
      b.type = 'button';
      b.dataset.score = String(i + 1);
      b.setAttribute('aria-label', `${i + 1} of 5: ${label}`);
      b.setAttribute('aria-pressed', 'false');
      b.onclick = () => {
        picked = i + 1;
        row.querySelectorAll('button').forEach((x) => x.setAttribute('aria-pressed', String(x === b)));
        submit.disabled = false;
      };
      row.append(b);
    });
    submit.onclick = () => {
      if (!picked) return;
      const text = comment.value.trim();
      if (raw({ type: 'csat', score: picked, comment: text || null })) submit.disabled = true;
    };
    box.append(q, row, comment, submit, surveyLinks('csat'));
    csatEl = box;
    place(box, (lastId || 0) + 0.75);
    toBottom();
  };

  // "No thanks" and "Don't ask me again" under a survey card.
  const surveyLinks = (kind, askId) => {
    const links = el('div', 'csat-x');
    const no = el('button', 'csat-l', 'No thanks');
    no.type = 'button';
    no.onclick = () => raw(askId ? { type: 'survey_dismiss', kind, ask_id: askId } : { type: 'survey_dismiss', kind });
    const never = el('button', 'csat-l', "Don't ask me again");
    never.type = 'button';
    never.onclick = () => raw({ type: 'survey_opt_out' });
    links.append(no, never);
    return links;
  };

  // ---- NPS: 0–10 with the scale's end labels, then the reason ------------------------------------
  // The score goes out on the press; the server answers `survey_reason` with the follow-up.
  // Keyboard: Tab reaches the scale, arrow keys (and Home/End) move along it, Enter/Space pick.
  let npsEl = null, npsAsk = 0;
  const showNps = (f) => {
    if (npsEl || !(f.ask_id > 0)) return;
    npsAsk = f.ask_id;
    const box = el('div', 'csat');
    box.dataset.hark = 'nps';
    box.setAttribute('role', 'group');
    const q = el('p', 'csat-q', typeof f.question === 'string' ? f.question : 'How likely are you to recommend us to a friend?');
    q.id = 'hark-nps-q';
    box.setAttribute('aria-labelledby', q.id);
    const low = typeof f.min_label === 'string' ? f.min_label : 'Not at all likely';
    const high = typeof f.max_label === 'string' ? f.max_label : 'Extremely likely';
    const ends = el('div', 'nps-ends');
    ends.id = 'hark-nps-ends';
    ends.append(el('span', '', '0 = ' + low), el('span', '', '10 = ' + high));
    const row = el('div', 'nps-row');
    row.setAttribute('role', 'group');
    row.setAttribute('aria-labelledby', q.id);
    row.setAttribute('aria-describedby', ends.id);
    const btns = [];
    for (let i = 0; i <= 10; i++) {
      const b = el('button', 'csat-b', String(i));
      b.type = 'button';
      b.dataset.score = String(i);
      b.tabIndex = i === 0 ? 0 : -1;
      b.setAttribute('aria-label', i === 0 ? `0 out of 10, ${low}` : i === 10 ? `10 out of 10, ${high}` : `${i} out of 10`);
      b.setAttribute('aria-pressed', 'false');
      b.onclick = () => {
        if (!raw({ type: 'nps', ask_id: npsAsk, score: i })) return;
        btns.forEach((x) => { x.setAttribute('aria-pressed', String(x === b)); x.disabled = true; });
      };
      btns.push(b);
      row.append(b);
    }
    row.addEventListener('keydown', (ev) => {
      const at = btns.indexOf(root.activeElement);
      if (at < 0) return;
      const to = { ArrowRight: at + 1, ArrowDown: at + 1, ArrowLeft: at - 1, ArrowUp: at - 1, Home: 0, End: 10 }[ev.key];
      if (to == null) return;
      ev.preventDefault();
      const n = Math.max(0, Math.min(10, to));
      btns.forEach((x, k) => { x.tabIndex = k === n ? 0 : -1; });
      btns[n].focus();
    });
    box.append(q, row, ends, surveyLinks('nps', npsAsk));
    npsEl = box;
    place(box, (lastId || 0) + 0.8);
    toBottom();
  };
  const npsReason = (f) => {
    if (!npsEl || f.ask_id !== npsAsk) return;
    const box = npsEl;
    box.textContent = '';
    const q = el('label', 'csat-q', typeof f.question === 'string' ? f.question : 'What is the main reason for your score?');
    q.htmlFor = 'hark-nps-r';
    const text = el('textarea', 'csat-c');
    text.id = 'hark-nps-r';
    text.rows = 2;
    text.maxLength = 1000;
    text.placeholder = 'Optional';
    const send = el('button', 'csat-s', 'Send');
    send.type = 'button';
    send.onclick = () => {
      const r = text.value.trim();
      if (raw({ type: 'nps_reason', ask_id: npsAsk, reason: r || null })) send.disabled = true;
    };
    const skip = el('button', 'csat-l', 'Skip');
    skip.type = 'button';
    skip.onclick = () => raw({ type: 'nps_reason', ask_id: npsAsk, reason: null });
    const links = el('div', 'csat-x');
    links.append(send, skip);
    box.append(q, text, links);
    text.focus({ preventScroll: true });
    toBottom();
  };
  const closeSurvey = (kind) => {
    if ((kind === 'csat' || !kind) && csatEl) { csatEl.remove(); csatEl = null; }
    if ((kind === 'nps' || !kind) && npsEl) { npsEl.remove(); npsEl = null; }
  };

  // ---- connection -------------------------------------------------------------------------------
  let ws = null, ready = false, attempt = 0, retryT = 0, helloT = 0, convId = null;
  const raw = (obj) => {
    if (!ws || ws.readyState !== 1) return false;
    ws.send(JSON.stringify(obj));
    return true;
  };
  const frame = (e) =>
    e.t === 'message' ? { type: 'message', client_id: e.c, text: e.x }
      : e.t === 'choose' ? { type: 'choose', client_id: e.c, article_id: e.a } : { type: 'handoff', client_id: e.c };
  const sendEntry = (e) => { if (ready && !e.w) raw(frame(e)); };
  const flush = () => outbox.forEach(sendEntry);
  const dropEntry = (cid) => {
    const i = outbox.findIndex((e) => e.c === cid);
    if (i < 0) return null;
    const [e] = outbox.splice(i, 1);
    clearTimeout(e.w);
    saveOutbox();
    return e;
  };
  const hello = () => raw({ type: 'hello', visitor_token: token, last_seen_id: heardId });

  const connect = () => {
    if (!wsUrl) { conn = 'off'; showStatus(); return; }
    if (ws) return;
    clearTimeout(retryT);
    retryT = 0;
    let s;
    try { s = new WebSocket(wsUrl); } catch (e) { conn = 'off'; showStatus(); return; }
    ws = s;
    ready = false;
    if (conn !== 'retrying') conn = 'connecting';
    showStatus();
    s.binaryType = 'arraybuffer';
    s.onopen = () => {
      if (ws !== s) return;
      hello();
      // No welcome in time: a stuck connection; start over with backoff.
      helloT = setTimeout(() => ws === s && !ready && s.close(), 10000);
    };
    s.onmessage = (ev) => {
      if (ws !== s) return;
      let f;
      try { f = JSON.parse(typeof ev.data === 'string' ? ev.data : new TextDecoder().decode(ev.data)); } catch (e) { return; }
      if (f && typeof f.type === 'string') handle(f);
    };
    s.onclose = () => {
      if (ws !== s) return;
      clearTimeout(helloT);
      ws = null;
      ready = false;
      typingOn = false;
      hideTyping();
      retry();
    };
  };
  const retry = () => {
    if (retryT) return;
    const b = Math.min(15000, 500 * 2 ** attempt);
    attempt = Math.min(attempt + 1, 10);
    conn = 'retrying';
    showStatus();
    retryT = setTimeout(() => { retryT = 0; connect(); }, b / 2 + (Math.random() * b) / 2);
  };
  // A user action or the network coming back: try again now instead of waiting out the backoff.
  const kick = () => {
    if (ws || !wsUrl) return;
    clearTimeout(retryT);
    retryT = 0;
    connect();
  };
  W.addEventListener('online', () => { attempt = 0; kick(); });

  const handle = (f) => {
    switch (f.type) {
      case 'welcome': {
        ready = true;
        clearTimeout(helloT);
        attempt = 0;
        conn = 'open';
        if (typeof f.visitor_token === 'string' && f.visitor_token) {
          // A new visitor (first visit, or the server forgot the old token): nothing of theirs was read yet.
          if (f.visitor_token !== token) put('localStorage', 'hark.read', String((readUpTo = 0)));
          token = f.visitor_token;
          put('localStorage', 'hark.visitor', token);
        }
        // On a reconnect, a state change that happened while away is told in the conversation too.
        const resumed = convId != null;
        if (resumed && f.conversation_id !== convId && lastId != null) event('New conversation');
        convId = f.conversation_id == null ? null : f.conversation_id;
        setState(f.state, null, resumed, typeof f.agent_name === 'string' ? { agent_name: f.agent_name } : stateExtra);
        showState();
        flush();
        break;
      }
      case 'ack': {
        const e = dropEntry(f.client_id);
        const m = pendingEls.get(f.client_id);
        const id = Number(f.message_id);
        if (m) {
          pendingEls.delete(f.client_id);
          if (shown.has(id)) m.remove();
          else if (Number.isFinite(id)) {
            m.removeAttribute('data-pending');
            m.querySelector('.meta')?.remove();
            m.dataset.id = id;
            shown.set(id, m);
            if (lastId == null || id > lastId) lastId = id;
            place(m, id);
          }
        }
        if (e && e.t === 'handoff') showState();
        showStatus();
        break;
      }
      case 'message':
        addMessage(f);
        break;
      case 'state':
        setState(f.state, f.reason, true, f);
        break;
      case 'typing':
        showTyping(f.author, !!f.active);
        break;
      case 'survey':
        if (f.kind === 'csat') showCsat(f);
        else if (f.kind === 'nps') showNps(f);
        break;
      case 'survey_reason':
        npsReason(f);
        break;
      case 'survey_thanks':
        closeSurvey(f.kind === 'nps' ? 'nps' : 'csat');
        event(f.kind === 'nps' ? 'Thank you for your feedback!' : 'Thank you for your rating!');
        break;
      case 'survey_closed':
        closeSurvey(f.kind);
        break;
      case 'survey_opted_out':
        closeSurvey();
        event("OK, we won't ask you again.");
        break;
      case 'error':
        onError(f);
        break;
    }
  };

  const failEntry = (e) => {
    const m = pendingEls.get(e.c);
    if (!m) return;
    m.dataset.failed = '';
    m.removeAttribute('data-pending');
    const meta = m.querySelector('.meta');
    meta.textContent = 'Not sent. ';
    const b = el('button', '', 'Retry');
    b.type = 'button';
    b.onclick = () => {
      m.removeAttribute('data-failed');
      m.dataset.pending = '';
      meta.textContent = 'Sending…';
      outbox.push(e);
      saveOutbox();
      sendEntry(e);
      kick();
    };
    meta.append(b);
    toBottom();
  };
  const ERR = {
    frame_too_large: 'That message is too long to send.',
    bad_request: 'That message could not be sent.',
    internal: 'Something went wrong on our side. Please try again.',
  };
  const onError = (f) => {
    const e = f.client_id != null ? outbox.find((x) => x.c === f.client_id) : null;
    if (f.code === 'hello_required') { hello(); return; }
    // hello itself was refused (the server could not start the conversation): reconnect with backoff.
    if (!ready && ws) { ws.close(); return; }
    if (e && (f.code === 'rate_limited' || (f.code === 'internal' && (e.n || 0) < 3))) {
      e.n = (e.n || 0) + 1;
      clearTimeout(e.w);
      e.w = setTimeout(() => { e.w = 0; sendEntry(e); }, Math.min(10000, 1000 * e.n) + Math.random() * 500);
      return;
    }
    if (e) {
      dropEntry(e.c);
      e.n = 0;
      failEntry(e);
      showState(); // also clears the banner of a refused handoff request
    }
    if (f.code !== 'rate_limited') notice(ERR[f.code] || 'Something went wrong. Please try again.');
  };

  // ---- sending ----------------------------------------------------------------------------------
  const queue = (e) => {
    outbox.push(e);
    saveOutbox();
    if (e.t === 'message') addPending(e);
    sendEntry(e);
    kick();
    showStatus();
  };
  function askHandoff() {
    if (handoffBusy()) return;
    queue({ c: rid(), t: 'handoff' });
    syncHandoffButtons();
    stateEl.hidden = false;
    stateEl.querySelector('b').textContent = 'Asking for a person…';
    stateEl.querySelector('small').textContent = '';
    stateEl.querySelector('.spin').hidden = false;
  }
  headHandoff.onclick = askHandoff;

  let typingOn = false, typingAt = 0, idleT = 0;
  const stopTyping = () => {
    clearTimeout(idleT);
    if (typingOn) {
      typingOn = false;
      if (ready) raw({ type: 'typing', active: false });
    }
  };
  const autosize = () => {
    input.style.height = 'auto';
    input.style.height = Math.min(input.scrollHeight + 3, 132) + 'px';
  };
  input.addEventListener('input', () => {
    autosize();
    if (!input.value.trim()) return stopTyping();
    const now = Date.now();
    if (ready && (!typingOn || now - typingAt > 2500)) {
      typingOn = raw({ type: 'typing', active: true });
      typingAt = now;
    }
    clearTimeout(idleT);
    idleT = setTimeout(stopTyping, 3000);
  });
  input.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing && ev.keyCode !== 229) {
      ev.preventDefault();
      submit();
    }
  });
  const submit = () => {
    const text = input.value.trim();
    if (!text) return;
    stopTyping();
    input.value = '';
    autosize();
    queue({ c: rid(), t: 'message', x: text.slice(0, 4000) });
  };
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    submit();
    input.focus();
  });

  // ---- open / close -----------------------------------------------------------------------------
  const setUnread = (n) => {
    unread = n;
    badge.textContent = n > 9 ? '9+' : String(n);
    badge.hidden = !n;
    $('#hark-unread').textContent = n ? (n === 1 ? '1 new message' : n + ' new messages') : '';
  };
  const markRead = () => {
    if (lastId != null && lastId > readUpTo) put('localStorage', 'hark.read', String((readUpTo = lastId)));
    setUnread(0);
  };
  const open = (focus = true) => {
    if (!isOpen) {
      isOpen = true;
      panel.hidden = false;
      wrap.classList.add('open');
      bubble.setAttribute('aria-expanded', 'true');
      bubble.setAttribute('aria-label', 'Close chat');
      put('sessionStorage', 'hark.open', '1');
      markRead();
      toBottom();
      kick();
    }
    if (focus) input.focus({ preventScroll: true });
  };
  const close = (returnFocus = true) => {
    if (!isOpen) return;
    isOpen = false;
    panel.hidden = true;
    wrap.classList.remove('open');
    bubble.setAttribute('aria-expanded', 'false');
    bubble.setAttribute('aria-label', 'Open chat');
    put('sessionStorage', 'hark.open', null);
    stopTyping();
    if (returnFocus) bubble.focus();
  };
  bubble.onclick = () => (isOpen ? close() : open());
  $('[data-hark=close]').onclick = () => close();
  // Full screen on a phone the panel is modal: Tab cycles inside it.
  const phone = W.matchMedia('(max-width:480px)');
  const syncModal = () => panel.setAttribute('aria-modal', String(phone.matches));
  phone.addEventListener ? phone.addEventListener('change', syncModal) : phone.addListener(syncModal);
  syncModal();
  root.addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape' && isOpen) {
      ev.stopPropagation();
      close();
    } else if (ev.key === 'Tab' && isOpen && phone.matches) {
      const all = [...panel.querySelectorAll('button,textarea,[tabindex="0"],a[href]')].filter((e) => !e.disabled && e.getClientRects().length);
      const first = all[0], last = all[all.length - 1];
      if (ev.shiftKey ? root.activeElement === first : root.activeElement === last) {
        ev.preventDefault();
        (ev.shiftKey ? last : first).focus();
      }
    }
  });

  // On phones the on-screen keyboard shrinks the visual viewport; size the full-screen panel to it.
  const vv = W.visualViewport;
  if (vv) {
    const fit = () => {
      host.style.setProperty('--hark-vh', vv.height + 'px');
      host.style.setProperty('--hark-vt', vv.offsetTop + 'px');
    };
    vv.addEventListener('resize', fit);
    vv.addEventListener('scroll', fit);
    fit();
  }

  // ---- start ------------------------------------------------------------------------------------
  outbox.forEach((e) => e.t === 'message' && addPending(e));
  showState();
  W.harkWidget = {
    open: () => open(),
    close: () => close(false),
    toggle: () => (isOpen ? close() : open()),
    send: (text) => { input.value = String(text); submit(); },
    state: () => ({ connected: ready, conversationId: convId, lastSeenId: heardId, lastShownId: lastId, pending: outbox.length, open: isOpen, conversationState: convState }),
  };
  const mount = () => {
    D.body.appendChild(host);
    if (get('sessionStorage', 'hark.open')) open(false);
    // Returning visitors reconnect at once so agent replies arrive; new visitors connect on first open.
    else if (token || outbox.length || opt('harkConnect', '') === 'eager') connect();
  };
  D.body ? mount() : D.addEventListener('DOMContentLoaded', mount);
})();
