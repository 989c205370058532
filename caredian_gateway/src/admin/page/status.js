// Status page: fetches the admin API with relative URLs so it works under any ingress prefix.
'use strict';
(function () {
  const $ = (id) => document.getElementById(id);
  const token = () => sessionStorage.getItem('caredian-admin-token');
  async function api(path, method) {
    const headers = {};
    if (token()) headers.Authorization = 'Bearer ' + token();
    const r = await fetch(path, { headers, method: method || 'GET' });
    if (r.status === 401) throw Object.assign(new Error('unauthorized'), { status: 401 });
    if (!r.ok) throw new Error(path + ': HTTP ' + r.status);
    return r.json();
  }
  const cell = (tr, text, cls) => { const td = document.createElement('td'); td.textContent = text == null ? '' : String(text); if (cls) td.className = cls; tr.appendChild(td); };
  function fill(id, rows, cols) {
    const body = $(id).querySelector('tbody');
    body.replaceChildren();
    for (const r of rows) { const tr = document.createElement('tr'); for (const c of cols) { const [v, cls] = c(r); cell(tr, v, cls); } body.appendChild(tr); }
  }
  function statusList(s) {
    const dl = $('status');
    dl.replaceChildren();
    const add = (k, v, ok) => { const dt = document.createElement('dt'); dt.textContent = k; const dd = document.createElement('dd'); dd.textContent = v; if (ok !== undefined) dd.className = ok ? 'ok' : 'bad'; dl.append(dt, dd); };
    add('Ready', s.status === 'degraded' ? 'yes, with warnings' : s.ready ? 'yes' : 'no', s.status === 'degraded' ? undefined : s.ready);
    if (s.status === 'degraded') dl.lastElementChild.className = 'warn';
    add('Uptime', Math.round(s.uptime_s) + ' s');
    for (const [name, c] of Object.entries(s.checks || {})) {
      add(name, c.warning || c.detail || (c.ready ? 'ok' : 'not ready'), c.warning ? undefined : c.ready);
      if (c.warning) dl.lastElementChild.className = 'warn';
    }
    const w = $('warnings');
    w.replaceChildren(...(s.warnings || []).map((text) => { const li = document.createElement('li'); li.textContent = text.replace(/^[a-z_]+: /, ''); return li; }));
    w.hidden = !(s.warnings || []).length;
  }
  async function refresh() {
    try {
      const [s, d, e, f] = await Promise.all([api('api/status'), api('api/devices'), api('api/events?limit=20'), api('api/falls')]);
      fillFalls(f.falls);
      $('version').textContent = 'v' + s.version;
      statusList(s);
      fill('devices', d.devices, [(r) => [r.device_id], (r) => [r.online ? 'online' : 'offline', r.online ? 'ok' : 'bad'], (r) => [r.last_seen], (r) => [r.location], (r) => [r.battery]]);
      fill('events', e.events, [(r) => [r.time], (r) => [r.device_id], (r) => [r.event, r.event === 'fall' ? 'bad' : ''], (r) => [r.location], (r) => [r.prob], (r) => [r.source]]);
      $('main').hidden = false; $('login').hidden = true; $('error').hidden = true;
      document.body.dataset.loaded = 'true';
    } catch (err) {
      if (err.status === 401) { $('login').hidden = false; $('main').hidden = true; return; }
      $('error').textContent = String(err.message || err); $('error').hidden = false;
    }
  }
  function stateText(a) {
    const tags = (a.test ? '[TEST] ' : '') + (a.kind === 'help' ? 'HELP ' : '');
    const extra = (a.not_moving ? ', NOT MOVING' : '') + (a.moving_again ? ', moving again' : '');
    if (a.state === 'pending') return [tags + 'PENDING: caregivers alerted in ' + Math.max(0, Math.ceil((a.pending_until_ms - Date.now()) / 1000)) + ' s unless the wearer is OK' + extra, 'warn'];
    if (a.state === 'open') return [tags + 'OPEN' + (a.escalation_step ? ' (escalated ' + a.escalation_step + 'x)' : '') + extra, 'bad'];
    if (a.state === 'cancelled') return [tags + 'cancelled by the wearer (nobody was alerted)', 'ok'];
    return [tags + (a.cancelled_by_wearer ? 'resolved: the wearer is OK' : 'acknowledged by ' + a.acknowledged_by) + extra, 'ok'];
  }
  function button(label, path) {
    const b = document.createElement('button');
    b.textContent = label;
    b.addEventListener('click', async () => { b.disabled = true; try { await api(path, 'POST'); } finally { refresh(); } });
    return b;
  }
  function fillFalls(falls) {
    const body = $('falls').querySelector('tbody');
    body.replaceChildren();
    for (const a of falls) {
      const tr = document.createElement('tr');
      tr.dataset.id = a.id;
      tr.dataset.state = a.state;
      cell(tr, a.time); cell(tr, a.device_id); cell(tr, a.location); cell(tr, a.probability);
      const [text, cls] = stateText(a);
      cell(tr, text, cls);
      if (a.state === 'pending') tr.lastChild.dataset.countdown = 'true';
      const td = document.createElement('td');
      const id = encodeURIComponent(a.id);
      if (a.state === 'pending') td.append(button("I'm OK", 'api/falls/' + id + '/cancel'), ' ');
      if (a.state === 'open' || a.state === 'pending') td.appendChild(button('Acknowledge', 'api/falls/' + id + '/ack'));
      tr.appendChild(td);
      body.appendChild(tr);
    }
    lastFalls = falls;
  }
  // The countdown of pending alerts, between refreshes.
  let lastFalls = [];
  setInterval(() => {
    for (const a of lastFalls) {
      if (a.state !== 'pending') continue;
      const td = document.querySelector('#falls tr[data-id="' + CSS.escape(a.id) + '"] td[data-countdown]');
      if (td) td.textContent = stateText(a)[0];
    }
  }, 1000);
  $('login').addEventListener('submit', (ev) => { ev.preventDefault(); sessionStorage.setItem('caredian-admin-token', $('token').value); refresh(); });
  refresh();
  setInterval(refresh, 5000);
})();
