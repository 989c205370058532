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
  function fillFalls(falls) {
    const body = $('falls').querySelector('tbody');
    body.replaceChildren();
    for (const a of falls) {
      const tr = document.createElement('tr');
      tr.dataset.id = a.id;
      cell(tr, a.time); cell(tr, a.device_id); cell(tr, a.location); cell(tr, a.probability);
      cell(tr, a.state === 'open' ? 'OPEN' + (a.escalation_step ? ' (escalated ' + a.escalation_step + 'x)' : '') : 'acknowledged by ' + a.acknowledged_by, a.state === 'open' ? 'bad' : 'ok');
      const td = document.createElement('td');
      if (a.state === 'open') {
        const b = document.createElement('button');
        b.textContent = 'Acknowledge';
        b.addEventListener('click', async () => { b.disabled = true; try { await api('api/falls/' + encodeURIComponent(a.id) + '/ack', 'POST'); } finally { refresh(); } });
        td.appendChild(b);
      }
      tr.appendChild(td);
      body.appendChild(tr);
    }
  }
  $('login').addEventListener('submit', (ev) => { ev.preventDefault(); sessionStorage.setItem('caredian-admin-token', $('token').value); refresh(); });
  refresh();
  setInterval(refresh, 5000);
})();
