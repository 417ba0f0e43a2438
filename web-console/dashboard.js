/*! hark owners' dashboard · MIT OR Apache-2.0 */
// The owners' dashboard: reads /api/reports/* and draws figures, an SVG trend chart (shapes,
// line styles and labels, not colour alone, carry the meaning; a table repeats it) and tables
// with sorting, filters and CSV links. No build step, no dependencies; everything the server
// sends is inserted as text (textContent / SVG attributes), never as HTML.
'use strict';
(() => {
  const SVG_NS = 'http://www.w3.org/2000/svg';
  const $ = (id) => document.getElementById(id);

  /** An HTML element with attributes and children (strings become text nodes). */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'text') node.textContent = v;
      else if (k === 'on') for (const [ev, fn] of Object.entries(v)) node.addEventListener(ev, fn);
      else node.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children) if (c !== null && c !== undefined) node.append(c);
    return node;
  }

  /** An SVG element with attributes (presentation attributes, not style: the CSP forbids inline styles). */
  function sv(tag, attrs, text) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  async function api(path) {
    const r = await fetch(path, { credentials: 'same-origin', headers: { accept: 'application/json' } });
    let body = null;
    try { body = await r.json(); } catch (_) { body = null; }
    if (!r.ok) {
      const e = new Error((body && body.message) || 'HTTP ' + r.status);
      e.status = r.status;
      throw e;
    }
    return body;
  }

  // ---- formatting ----------------------------------------------------------------------------
  const none = '—';
  const signed = (v) => (v > 0 ? '+' : v < 0 ? '−' : '') + Math.abs(v).toFixed(Number.isInteger(v) ? 0 : 1);
  const nps = (v) => (v === null || v === undefined ? none : signed(v));
  const pct = (v) => (v === null || v === undefined ? none : (100 * v).toFixed(1).replace(/\.0$/, '') + '%');
  const ci = (i, f) => (i ? f(i.low) + ' to ' + f(i.high) : none);
  const money = (v) => (v === null || v === undefined ? none : v.toLocaleString('en', { maximumFractionDigits: 0 }));
  const num = (v, d) => (v === null || v === undefined ? none : v.toFixed(d));
  function secs(v) {
    if (v === null || v === undefined) return none;
    if (v < 90) return Math.round(v) + ' s';
    if (v < 5400) return Math.round(v / 60) + ' min';
    return (v / 3600).toFixed(1) + ' h';
  }
  function sentiment(v) {
    if (v === null || v === undefined) return none;
    const word = v >= 0.05 ? 'positive' : v <= -0.05 ? 'negative' : 'neutral';
    return word + ' (' + (v < 0 ? '−' : '') + Math.abs(v).toFixed(2) + ')';
  }
  const day = (ms) => new Date(ms).toISOString().slice(0, 10);

  // ---- the period ----------------------------------------------------------------------------
  function periodQuery() {
    const p = new URLSearchParams();
    if ($('preset').value === 'custom') {
      if ($('from').value) p.set('from', $('from').value);
      if ($('to').value) p.set('to', $('to').value);
    } else {
      p.set('days', $('preset').value);
    }
    return p;
  }

  function showError(node, text) {
    node.textContent = text || '';
    node.hidden = !text;
  }

  // ---- key figures ---------------------------------------------------------------------------
  function kpi(label, value, detail) {
    return el('div', {}, el('dt', { text: label }), el('dd', {}, value, detail ? el('small', { text: detail }) : null));
  }

  function renderKpis(d) {
    const n = d.nps;
    const s = d.service;
    const r = d.revenue_at_risk;
    const c = d.csat;
    $('kpis').replaceChildren(
      kpi('NPS', nps(n.nps), '95% interval ' + ci(n.ci95, nps) + ' · ' + n.responses + ' answers: ' +
        n.promoters + ' promoters, ' + n.passives + ' passives, ' + n.detractors + ' detractors'),
      kpi('CSAT satisfied (4–5 of 5)', pct(c.share_satisfied), '95% interval ' + ci(c.ci95, pct) + ' · ' +
        c.satisfied + ' of ' + c.responses + ' answers · mean ' + num(c.mean, 2)),
      kpi('Value-weighted NPS', nps(d.value_weighted_nps.nps), d.value_weighted_nps.answers_weighted +
        ' answers weighted by CLV, ' + d.value_weighted_nps.answers_without_clv + ' without a CLV'),
      kpi('Revenue at risk (CLV)', money(r.total_clv), r.customers + ' customers: ' + r.detractors +
        ' detractors, ' + r.at_risk + ' at risk (' + r.both + ' both)'),
      kpi('Bot resolution rate', pct(s.bot_resolution_rate), s.conversations + ' conversations'),
      kpi('Handoff rate', pct(s.handoff_rate), 'handed to a person'),
      kpi('First response', secs(s.first_response_seconds.median), 'median · 90th percentile ' +
        secs(s.first_response_seconds.p90) + ' · ' + s.first_response_seconds.count + ' handoffs'),
      kpi('Resolution time', secs(s.resolution_seconds.median), 'median · 90th percentile ' +
        secs(s.resolution_seconds.p90) + ' · ' + s.resolution_seconds.count + ' resolved'),
    );
    $('methods').textContent = 'NPS interval: ' + d.methods.nps_interval + '. CSAT interval: ' +
      d.methods.csat_interval + '. Revenue at risk: ' + d.methods.revenue_at_risk + '.';
  }

  // ---- the trend chart -------------------------------------------------------------------------
  // One axis from −100 to +100: NPS in points, CSAT satisfied in percent (0–100). NPS: filled
  // circles on a solid line with 95% interval bars; CSAT: open squares on a dashed line. Every
  // point carries its value as a label.
  function renderTrend(d) {
    const points = d.trend;
    const W = 720, H = 320, L = 48, R = 20, T = 20, B = 64;
    const x = (i) => L + (points.length === 1 ? (W - L - R) / 2 : (i * (W - L - R)) / (points.length - 1));
    const y = (v) => T + ((100 - v) * (H - T - B)) / 200;
    const chart = sv('svg', { viewBox: '0 0 ' + W + ' ' + H, role: 'img', 'aria-labelledby': 'trend-title trend-desc' });
    chart.append(sv('title', { id: 'trend-title' }, 'NPS and CSAT by ' + d.period.bucket));
    const withNps = points.filter((p) => p.nps.nps !== null).length;
    chart.append(sv('desc', { id: 'trend-desc' }, withNps + ' of ' + points.length + ' ' + d.period.bucket +
      's have NPS answers. NPS: filled circles on a solid line with 95% interval bars. CSAT satisfied: open squares on a dashed line. The table below repeats the figures.'));
    for (const v of [-100, -50, 0, 50, 100]) {
      chart.append(sv('line', { class: v === 0 ? 'axis' : 'grid', x1: L, x2: W - R, y1: y(v), y2: y(v), 'stroke-dasharray': v === 0 ? '' : '2 4' }));
      chart.append(sv('text', { class: 'y-label', x: L - 6, y: y(v) + 4, 'text-anchor': 'end' }, (v > 0 ? '+' : '') + v));
    }
    const every = Math.max(1, Math.ceil(points.length / 12));
    points.forEach((p, i) => {
      if (i % every === 0 || i === points.length - 1) {
        chart.append(sv('text', { class: 'x-label', x: x(i), y: H - B + 18, 'text-anchor': 'middle' }, p.bucket));
      }
    });
    const line = (values, cls, dash) => {
      let run = [];
      const flush = () => {
        if (run.length > 1) chart.append(sv('polyline', { class: cls, points: run.join(' '), 'stroke-dasharray': dash }));
        run = [];
      };
      values.forEach((v, i) => (v === null ? flush() : run.push(x(i) + ',' + y(v))));
      flush();
    };
    line(points.map((p) => p.nps.nps), 'nps-line', '');
    line(points.map((p) => (p.csat.share_satisfied === null ? null : 100 * p.csat.share_satisfied)), 'csat-line', '6 4');
    points.forEach((p, i) => {
      if (p.nps.nps !== null) {
        if (p.nps.ci95) chart.append(sv('line', { class: 'ci', x1: x(i), x2: x(i), y1: y(p.nps.ci95.low), y2: y(p.nps.ci95.high) }));
        const dot = sv('circle', { class: 'point nps', cx: x(i), cy: y(p.nps.nps), r: 5 });
        dot.append(sv('title', {}, p.bucket + ': NPS ' + nps(p.nps.nps) + ' (' + p.nps.responses + ' answers)'));
        chart.append(dot);
        chart.append(sv('text', { class: 'point-label nps-label', x: x(i) + 8, y: y(p.nps.nps) - 6 }, nps(p.nps.nps)));
      }
      const share = p.csat.share_satisfied;
      if (share !== null) {
        const sq = sv('rect', { class: 'point csat', x: x(i) - 4, y: y(100 * share) - 4, width: 8, height: 8 });
        sq.append(sv('title', {}, p.bucket + ': CSAT ' + pct(share) + ' satisfied (' + p.csat.responses + ' answers)'));
        chart.append(sq);
        chart.append(sv('text', { class: 'point-label csat-label', x: x(i) + 8, y: y(100 * share) + 14 }, pct(share)));
      }
    });
    // The legend: shape and line style, not colour, tell the series apart.
    const ly = H - 16;
    chart.append(sv('line', { class: 'nps-line', x1: L, x2: L + 28, y1: ly, y2: ly }));
    chart.append(sv('circle', { class: 'nps', cx: L + 14, cy: ly, r: 5 }));
    chart.append(sv('text', { class: 'legend', x: L + 36, y: ly + 4 }, 'NPS (points; bar: 95% interval)'));
    chart.append(sv('line', { class: 'csat-line', x1: L + 290, x2: L + 318, y1: ly, y2: ly, 'stroke-dasharray': '6 4' }));
    chart.append(sv('rect', { class: 'csat', x: L + 300, y: ly - 4, width: 8, height: 8 }));
    chart.append(sv('text', { class: 'legend', x: L + 326, y: ly + 4 }, 'CSAT satisfied (%)'));
    if (withNps === 0 && points.every((p) => p.csat.share_satisfied === null)) {
      chart.append(sv('text', { class: 'empty', x: W / 2, y: y(0) - 8, 'text-anchor': 'middle' }, 'No survey answers in this period'));
    }
    $('trend-chart').replaceChildren(chart);

    $('trend-table').replaceChildren(table({
      caption: 'NPS and CSAT by ' + d.period.bucket,
      columns: [
        { key: 'bucket', label: d.period.bucket },
        { key: 'start', label: 'from' },
        { key: 'nps', label: 'NPS', num: true, value: (p) => p.nps.nps, fmt: nps },
        { key: 'ci', label: 'NPS 95% interval', value: (p) => p.nps.ci95 && p.nps.ci95.low, fmt: (_, p) => ci(p.nps.ci95, nps) },
        { key: 'n', label: 'NPS answers', num: true, value: (p) => p.nps.responses },
        { key: 'csat', label: 'CSAT satisfied', num: true, value: (p) => p.csat.share_satisfied, fmt: pct },
        { key: 'csat_ci', label: 'CSAT 95% interval', value: (p) => p.csat.ci95 && p.csat.ci95.low, fmt: (_, p) => ci(p.csat.ci95, pct) },
        { key: 'csat_n', label: 'CSAT answers', num: true, value: (p) => p.csat.responses },
      ],
      rows: points,
      id: 'trend-rows',
    }));
  }

  // ---- tables --------------------------------------------------------------------------------
  /**
   * A table sorted by clicking a column's header button (client side) and, with `filter`,
   * narrowed by a text box. `value(row)` gives what a cell sorts by; `fmt(value, row)` its text.
   */
  function table(spec) {
    const wrap = el('div', { class: 'scroll' });
    let sortKey = null;
    let descending = false;
    let needle = '';
    const tbl = el('table', { class: 'tbl', id: spec.id || null });
    tbl.append(el('caption', { text: spec.caption }));
    const head = el('tr');
    const value = (c, r) => (c.value ? c.value(r) : r[c.key]);
    const headers = spec.columns.map((c) => {
      const th = el('th', { scope: 'col', class: c.num ? 'num' : null, 'aria-sort': 'none' });
      th.append(el('button', { type: 'button', text: c.label, on: { click: () => {
        descending = sortKey === c.key ? !descending : !!c.num;
        sortKey = c.key;
        draw();
      } } }));
      head.append(th);
      return th;
    });
    tbl.append(el('thead', {}, head));
    const body = el('tbody');
    tbl.append(body);
    function draw() {
      let rows = spec.rows.slice();
      if (needle) rows = rows.filter((r) => spec.columns.some((c) => !c.num && String(value(c, r) ?? '').toLowerCase().includes(needle)));
      if (sortKey) {
        const c = spec.columns.find((k) => k.key === sortKey);
        rows.sort((a, b) => {
          const va = value(c, a), vb = value(c, b);
          if (va === null || va === undefined) return vb === null || vb === undefined ? 0 : 1;
          if (vb === null || vb === undefined) return -1;
          const o = typeof va === 'number' ? va - vb : String(va).localeCompare(String(vb));
          return descending ? -o : o;
        });
      }
      headers.forEach((th, i) => th.setAttribute('aria-sort', spec.columns[i].key === sortKey ? (descending ? 'descending' : 'ascending') : 'none'));
      body.replaceChildren(...rows.map((r) => el('tr', {}, ...spec.columns.map((c) => {
        const v = value(c, r);
        const text = c.fmt ? c.fmt(v, r) : v === null || v === undefined ? none : String(v);
        return el('td', { class: c.num ? 'num' : null, text });
      }))));
      if (rows.length === 0) body.append(el('tr', {}, el('td', { colspan: spec.columns.length, text: 'Nothing to show.' })));
    }
    if (spec.filter) {
      const id = 'filter-' + spec.id;
      const input = el('input', { id, type: 'search', placeholder: 'filter', on: { input: (e) => { needle = e.target.value.trim().toLowerCase(); draw(); } } });
      const tools = el('div', { class: 'table-tools' }, el('label', { for: id, text: 'Filter ' + spec.caption.toLowerCase() }), input);
      if (spec.csv) tools.append(el('a', { href: spec.csv, download: '', text: 'Download CSV' }));
      wrap.append(tools);
    }
    wrap.append(tbl);
    draw();
    return wrap;
  }

  const groupColumns = [
    { key: 'label', label: 'group' },
    { key: 'nps', label: 'NPS', num: true, value: (g) => g.nps.nps, fmt: nps },
    { key: 'ci', label: '95% interval', value: (g) => g.nps.ci95 && g.nps.ci95.low, fmt: (_, g) => ci(g.nps.ci95, nps) },
    { key: 'n', label: 'NPS answers', num: true, value: (g) => g.nps.responses },
    { key: 'pd', label: 'promoters / passives / detractors', value: (g) => g.nps.promoters, fmt: (_, g) => g.nps.promoters + ' / ' + g.nps.passives + ' / ' + g.nps.detractors },
    { key: 'csat', label: 'CSAT satisfied', num: true, value: (g) => g.csat.share_satisfied, fmt: pct },
    { key: 'csat_n', label: 'CSAT answers', num: true, value: (g) => g.csat.responses },
  ];

  function renderBreakdowns(d, query) {
    const parts = [
      ['channel', 'By channel', 'channels'],
      ['segment', 'By value segment', 'segments'],
      ['agent', 'By agent', 'agents'],
      ['topic', 'By topic (knowledge-base article)', 'topics'],
    ];
    $('breakdowns').replaceChildren(...parts.map(([key, caption, csv]) => table({
      caption, columns: groupColumns, rows: d.breakdowns[key], filter: true, id: 'by-' + key,
      csv: '/api/reports/csv/' + csv + '?' + query,
    })));
  }

  // ---- customers (sorted, filtered and paged by the server) -------------------------------------
  const cust = { sort: 'clv', order: 'desc', offset: 0, limit: 25, total: 0 };
  function customerQuery() {
    const p = new URLSearchParams({ sort: cust.sort, order: cust.order });
    if ($('cust-q').value.trim()) p.set('q', $('cust-q').value.trim());
    if ($('cust-segment').value) p.set('segment', $('cust-segment').value);
    if ($('cust-risk').value) p.set('at_risk', $('cust-risk').value);
    return p;
  }
  async function loadCustomers() {
    const p = customerQuery();
    $('cust-csv').href = '/api/reports/csv/customers?' + p;
    p.set('limit', cust.limit);
    p.set('offset', cust.offset);
    try {
      const page = await api('/api/reports/customers?' + p);
      cust.total = page.total;
      const columns = [
        ['name', 'customer', false], ['clv', 'CLV', true], ['segment', 'segment', false],
        ['churn_risk', 'churn risk', true], [null, 'at risk', false], [null, 'reasons', false],
        ['latest_nps', 'latest NPS', true],
      ];
      const head = el('tr', {}, ...columns.map(([key, label, isNum]) => {
        const th = el('th', { scope: 'col', class: isNum ? 'num' : null });
        if (!key) { th.textContent = label; return th; }
        th.setAttribute('aria-sort', cust.sort === key ? (cust.order === 'desc' ? 'descending' : 'ascending') : 'none');
        th.append(el('button', { type: 'button', text: label, on: { click: () => {
          cust.order = cust.sort === key ? (cust.order === 'desc' ? 'asc' : 'desc') : isNum ? 'desc' : 'asc';
          cust.sort = key;
          cust.offset = 0;
          loadCustomers();
        } } }));
        return th;
      }));
      const rows = page.rows.map((c) => el('tr', {},
        el('td', { text: c.name || c.external_id || c.email || '#' + c.customer_id }),
        el('td', { class: 'num', text: money(c.clv) }),
        el('td', { text: c.segment }),
        el('td', { class: 'num', text: num(c.churn_risk, 2) }),
        el('td', { text: c.at_risk ? '⚠ at risk' : 'no' }),
        el('td', { text: c.reasons.join('; ') || none }),
        el('td', { class: 'num', text: c.latest_nps === null ? none : String(c.latest_nps) })));
      if (rows.length === 0) rows.push(el('tr', {}, el('td', { colspan: 7, text: 'No customers match.' })));
      $('customers').replaceChildren(el('div', { class: 'scroll' }, el('table', { class: 'tbl', id: 'customer-rows' },
        el('caption', { text: 'Customers by value, churn risk and reasons' }), el('thead', {}, head), el('tbody', {}, ...rows))));
      const last = Math.min(cust.offset + cust.limit, page.total);
      $('cust-pos').textContent = page.total ? (cust.offset + 1) + '–' + last + ' of ' + page.total : '0 customers';
      $('cust-prev').disabled = cust.offset === 0;
      $('cust-next').disabled = last >= page.total;
    } catch (e) {
      $('customers').replaceChildren(el('p', { class: 'error', role: 'alert', text: e.message }));
    }
  }

  // ---- comments ------------------------------------------------------------------------------
  async function loadComments() {
    const p = periodQuery();
    p.set('kind', $('com-kind').value);
    $('com-csv').href = '/api/reports/csv/comments?' + p;
    p.set('limit', 100);
    try {
      const page = await api('/api/reports/comments?' + p);
      $('comments').replaceChildren(table({
        caption: page.total + ' comments' + (page.total > page.rows.length ? ' (newest ' + page.rows.length + ' shown; the CSV has all)' : ''),
        columns: [
          { key: 'created_at', label: 'date', fmt: (v) => day(v) },
          { key: 'kind', label: 'survey', fmt: (v) => v.toUpperCase() },
          { key: 'score', label: 'score', num: true },
          { key: 'sentiment', label: 'sentiment', num: true, fmt: sentiment },
          { key: 'comment', label: 'comment' },
          { key: 'channel', label: 'channel' },
        ],
        rows: page.rows, filter: true, id: 'comment-rows',
      }));
    } catch (e) {
      $('comments').replaceChildren(el('p', { class: 'error', role: 'alert', text: e.message }));
    }
  }

  // ---- loading -------------------------------------------------------------------------------
  async function load() {
    const p = periodQuery();
    p.set('bucket', $('bucket').value);
    try {
      const d = await api('/api/reports/dashboard?' + p);
      showError($('period-error'), '');
      $('period-text').textContent = 'From ' + d.period.from + ' to ' + d.period.to + ' (UTC), by ' + d.period.bucket + '.';
      $('trend-csv').href = '/api/reports/csv/trend?' + p;
      renderKpis(d);
      renderTrend(d);
      renderBreakdowns(d, p);
      document.body.dataset.loaded = d.period.from + '/' + d.period.to + '/' + d.period.bucket;
    } catch (e) {
      showError($('period-error'), e.message);
    }
    loadComments();
  }

  function gate(text, link) {
    const g = $('gate');
    g.replaceChildren(text);
    if (link) g.append(' ', el('a', { href: '/console', text: link }));
    g.hidden = false;
    $('board').hidden = true;
  }

  async function boot() {
    $('preset').addEventListener('change', () => { $('custom').hidden = $('preset').value !== 'custom'; });
    $('period').addEventListener('submit', (e) => { e.preventDefault(); load(); });
    $('bucket').addEventListener('change', load);
    $('cust-filter').addEventListener('submit', (e) => { e.preventDefault(); cust.offset = 0; loadCustomers(); });
    $('cust-prev').addEventListener('click', () => { cust.offset = Math.max(0, cust.offset - cust.limit); loadCustomers(); });
    $('cust-next').addEventListener('click', () => { cust.offset += cust.limit; loadCustomers(); });
    $('com-kind').addEventListener('change', loadComments);
    let me;
    try {
      me = await api('/api/me');
    } catch (e) {
      if (e.status === 401) return gate('Sign in to the console first.', 'Sign in');
      return gate('The dashboard could not load: ' + e.message);
    }
    if (me.staff.role !== 'owner') return gate('Only owners can see the reports.', 'Back to the console');
    $('gate').hidden = true;
    $('board').hidden = false;
    await load();
    await loadCustomers();
  }

  boot();
})();
