// Status page: a caregiver's view. Loads the admin API, then follows GET api/stream (server-sent
// events, read with fetch so the admin token can be sent) for falls, acknowledgements and device
// state. Relative URLs only, so it works under any ingress prefix. Times are the browser's local time.
'use strict';
(function () {
  const $ = (id) => document.getElementById(id);
  const token = () => sessionStorage.getItem('caredian-admin-token');
  const headers = () => (token() ? { Authorization: 'Bearer ' + token() } : {});
  const state = { falls: new Map(), devices: new Map(), people: new Map(), events: [], status: null, detailId: null, lastLoad: 0 };

  async function api(path, method) {
    const r = await fetch(path, { headers: headers(), method: method || 'GET' });
    if (r.status === 401) throw Object.assign(new Error('unauthorized'), { status: 401 });
    if (!r.ok) throw new Error(path + ': HTTP ' + r.status);
    return r.json();
  }

  // --- words and times -------------------------------------------------------------------------
  const sameDay = (a, b) => a.toDateString() === b.toDateString();
  function localTime(iso) {
    if (!iso) return '';
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return String(iso);
    const time = d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
    return sameDay(d, new Date()) ? time : d.toLocaleDateString(undefined, { day: 'numeric', month: 'short' }) + ' ' + time;
  }
  function ago(iso) {
    const s = Math.round((Date.now() - new Date(iso).getTime()) / 1000);
    if (!Number.isFinite(s)) return '';
    if (s < 60) return 'just now';
    if (s < 3600) return Math.round(s / 60) + ' min ago';
    if (s < 86400) return Math.round(s / 3600) + ' h ago';
    return Math.round(s / 86400) + ' days ago';
  }
  const person = (id) => state.people.get(id) || { device_id: id, name: id };
  function who(id) {
    const p = person(id);
    if (p.person) return p.person + ' (' + (p.name !== id ? p.name : id) + ')';
    return p.name !== id ? p.name + ' (' + id + ')' : id;
  }
  const place = (loc) => (loc ? String(loc).replace(/_/g, ' ') : '');
  function headline(a) {
    if (a.test) return 'Test alert: nobody fell';
    const p = person(a.device_id);
    const where = place(a.location);
    const at = where && where.toLowerCase() !== 'home' ? ' in the ' + where : ' at home';
    if (a.kind === 'help') return (p.person || p.name) + ' asked for help' + at;
    return p.person ? p.person + ' may have fallen' + at : p.name + ' detected a fall' + at;
  }

  // --- rendering -------------------------------------------------------------------------------
  const cell = (tr, text, cls, title) => {
    const td = document.createElement('td');
    td.textContent = text == null ? '' : String(text);
    if (cls) td.className = cls;
    if (title) td.title = title;
    tr.appendChild(td);
    return td;
  };
  function stateText(a) {
    const tags = (a.test ? '[TEST] ' : '') + (a.kind === 'help' ? 'HELP ' : '');
    const extra = (a.not_moving ? ', NOT MOVING' : '') + (a.moving_again ? ', moving again' : '');
    if (a.state === 'pending') return [tags + 'PENDING: caregivers alerted in ' + Math.max(0, Math.ceil((a.pending_until_ms - Date.now()) / 1000)) + ' s unless the wearer is OK' + extra, 'warn'];
    if (a.state === 'open') return [tags + 'OPEN' + (a.escalation_step ? ' (escalated ' + a.escalation_step + 'x)' : '') + extra, 'bad'];
    if (a.state === 'cancelled') return [tags + 'cancelled by the wearer (nobody was alerted)', 'ok'];
    return [tags + (a.cancelled_by_wearer ? 'resolved: the wearer is OK' : 'acknowledged by ' + a.acknowledged_by) + extra, 'ok'];
  }
  function actionButton(label, path, cls) {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = label;
    if (cls) b.className = cls;
    b.addEventListener('click', async (ev) => {
      ev.stopPropagation();
      b.disabled = true;
      try {
        const r = await api(path, 'POST');
        if (r && r.alert) upsertFall(r.alert);
      } catch (err) {
        showError(err);
      }
    });
    return b;
  }
  function actions(a) {
    const span = document.createElement('span');
    span.className = 'actions';
    const id = encodeURIComponent(a.id);
    if (a.state === 'pending') span.append(actionButton("I'm OK", 'api/falls/' + id + '/cancel'), ' ');
    if (a.state === 'open' || a.state === 'pending') span.appendChild(actionButton('Acknowledge', 'api/falls/' + id + '/ack', 'primary'));
    const more = document.createElement('a');
    more.href = '#fall=' + id;
    more.textContent = 'What happened';
    more.className = 'detail-link';
    span.append(' ', more);
    return span;
  }
  const sortedFalls = () => [...state.falls.values()].sort((x, y) => y.created_ms - x.created_ms);
  const active = (a) => a.state === 'open' || a.state === 'pending';

  function renderFalls() {
    const falls = sortedFalls();
    const body = $('falls').querySelector('tbody');
    body.replaceChildren();
    for (const a of falls) {
      const tr = document.createElement('tr');
      tr.dataset.id = a.id;
      tr.dataset.state = a.state;
      if (a.test) tr.classList.add('test');
      cell(tr, localTime(a.time), 'time', a.time);
      cell(tr, a.test ? 'test alert' : who(a.device_id));
      cell(tr, place(a.location));
      cell(tr, a.probability);
      const [text, cls] = stateText(a);
      const td = cell(tr, text, cls);
      if (a.state === 'pending') td.dataset.countdown = 'true';
      const act = document.createElement('td');
      act.appendChild(actions(a));
      tr.appendChild(act);
      body.appendChild(tr);
    }
    $('no-falls').hidden = falls.length > 0;
    renderAttention(falls.filter(active));
  }

  // Open and pending alerts on top, in big letters, with their buttons.
  function renderAttention(list) {
    const box = $('open-alerts');
    box.replaceChildren();
    for (const a of list) {
      const card = document.createElement('article');
      card.className = 'alert-card ' + a.state + (a.test ? ' test' : '');
      card.dataset.id = a.id;
      const h = document.createElement('h3');
      h.textContent = (a.test ? '[TEST] ' : '') + headline(a);
      const p = document.createElement('p');
      const [text] = stateText(a);
      p.textContent = localTime(a.time) + ' · ' + text;
      if (a.state === 'pending') p.dataset.countdown = 'true';
      card.append(h, p, actions(a));
      box.appendChild(card);
    }
    $('attention').hidden = list.length === 0;
  }

  function renderDevices() {
    const body = $('devices').querySelector('tbody');
    body.replaceChildren();
    const ids = new Set([...state.devices.keys(), ...state.people.keys()]);
    for (const id of [...ids].sort()) {
      const d = state.devices.get(id);
      const p = person(id);
      const tr = document.createElement('tr');
      tr.dataset.id = id;
      cell(tr, p.name !== id ? p.name + ' (' + id + ')' : id);
      cell(tr, [p.person, place(p.location || (d && d.location))].filter(Boolean).join(', '));
      cell(tr, p.placement || '');
      if (!d) cell(tr, 'never seen', 'off');
      else cell(tr, d.online ? 'online' : 'offline', d.online ? 'ok' : 'bad');
      const battery = d && d.battery != null ? Math.round(d.battery) + ' %' + (d.battery < 20 ? ' (low)' : '') : '';
      cell(tr, battery, d && d.battery != null && d.battery < 20 ? 'bad' : '');
      cell(tr, d ? localTime(d.last_seen) + ' (' + ago(d.last_seen) + ')' : '', 'time', d && d.last_seen);
      body.appendChild(tr);
    }
  }

  function renderEvents() {
    const body = $('events').querySelector('tbody');
    body.replaceChildren();
    for (const r of state.events) {
      const tr = document.createElement('tr');
      cell(tr, localTime(r.time), 'time', r.time);
      cell(tr, r.device_id);
      cell(tr, r.event, r.event === 'fall' ? 'bad' : '');
      cell(tr, place(r.location));
      cell(tr, r.prob);
      cell(tr, r.source);
      body.appendChild(tr);
    }
  }

  // What to do about each kind of warning, in plain words (by the check's name and what it says).
  const HINTS = {
    alerts: (t) => (/nobody is alerted: no alert sink is configured/.test(t) ? 'Falls are recorded, but no phone or webhook is told. Set up Home Assistant phones (ha_notify_mobile) or alert_webhooks.' : /nobody is alerted/.test(t) ? 'Alerts wait and are sent as soon as one of them answers again.' : ''),
    home_assistant: () => 'Alerts wait and are sent as soon as Home Assistant answers again.',
    influxdb: (t) => (/refused|dead-letter/.test(t) ? 'Those points are kept in the dead-letter file, with InfluxDB’s reason for each.' : 'Events are safe in the gateway’s own log and are written to InfluxDB when it is back.'),
    ingest: () => 'New devices are being turned away. Raise max_devices / max_new_devices_per_min, or remove devices you no longer use.',
    model: () => 'Raise imu_state_max_mb, or lower the number of devices streaming motion data.',
  };
  function renderStatus(s) {
    state.status = s;
    if (s.version) $('version').textContent = 'v' + s.version;
    const dl = $('status');
    dl.replaceChildren();
    const add = (k, v, cls) => {
      const dt = document.createElement('dt');
      dt.textContent = k;
      const dd = document.createElement('dd');
      dd.textContent = v;
      if (cls) dd.className = cls;
      dl.append(dt, dd);
    };
    add('Ready', s.status === 'degraded' ? 'yes, with warnings' : s.ready ? 'yes' : 'no', s.status === 'degraded' ? 'warn' : s.ready ? 'ok' : 'bad');
    if (s.uptime_s !== undefined) add('Uptime', Math.round(s.uptime_s) + ' s');
    for (const [name, c] of Object.entries(s.checks || {})) {
      const text = c.warning || c.detail || (c.ready ? 'ok' : 'not ready');
      // Something that is simply not set up is neither good nor bad: grey, not green.
      const off = !c.warning && c.ready && /^(not configured|not used|none configured|disabled|off)\b/.test(c.detail || '');
      add(name, text, c.warning ? 'warn' : off ? 'off' : c.ready ? 'ok' : 'bad');
    }
    const w = $('warnings');
    w.replaceChildren(
      ...(s.warnings || []).map((text) => {
        const li = document.createElement('li');
        const m = /^([a-z_]+): ([\s\S]*)$/.exec(text);
        const strong = document.createElement('span');
        strong.textContent = m ? m[2] : text;
        li.appendChild(strong);
        const hint = m && HINTS[m[1]] && HINTS[m[1]](m[2]);
        if (hint) {
          const small = document.createElement('small');
          small.textContent = hint;
          li.append(' ', small);
        }
        return li;
      }),
    );
    w.hidden = !(s.warnings || []).length;
  }

  // --- a fall's detail -------------------------------------------------------------------------
  async function showDetail(id) {
    state.detailId = id;
    let d;
    try {
      d = await api('api/falls/' + encodeURIComponent(id));
    } catch (err) {
      return showError(err);
    }
    if (state.detailId !== id) return;
    const a = d.alert;
    upsertFall(a, true);
    $('detail').hidden = false;
    $('detail').dataset.id = id;
    $('detail-title').textContent = (a.test ? '[TEST] ' : '') + headline(a);
    $('detail-when').textContent = new Date(a.time).toLocaleString(undefined, { dateStyle: 'full', timeStyle: 'medium' }) + (a.probability !== undefined ? ' · probability ' + a.probability : '') + ' · ' + sourceWords(a.source);
    const ol = $('detail-timeline');
    ol.replaceChildren(...timeline(a, d.motion).map(([t, text]) => {
      const li = document.createElement('li');
      const time = document.createElement('time');
      time.textContent = t ? localTime(t) : '';
      if (t) time.dateTime = new Date(t).toISOString();
      li.append(time, ' ', text);
      return li;
    }));
    const fig = $('detail-plot');
    fig.replaceChildren();
    if (d.motion) {
      fig.appendChild(window.CareDianPlot.render(d.motion));
      const cap = document.createElement('figcaption');
      cap.textContent = 'Acceleration (blue, g) and the model’s fall probability (orange) from 10 s before to 10 s after the fall was decided' + (d.motion.complete ? '.' : ' (still arriving).');
      fig.appendChild(cap);
      fig.dataset.complete = String(d.motion.complete);
      if (!d.motion.complete) setTimeout(() => state.detailId === id && showDetail(id), 2000);
    } else {
      const p = document.createElement('p');
      p.className = 'quiet';
      p.textContent = a.test ? 'A test alert has no motion data.' : 'No motion data: this fall was reported by the device itself, not decided from motion data streamed to the gateway.';
      fig.appendChild(p);
      delete fig.dataset.complete;
    }
    $('detail').scrollIntoView({ block: 'nearest' });
  }
  function sourceWords(s) {
    return { model: 'decided by the gateway’s model from motion data', sensor: 'reported by the device', both: 'reported by the device and confirmed by the model', ha_entity: 'reported by a Home Assistant entity', test: 'a test' }[s] || s;
  }
  function timeline(a, m) {
    const at = (ms) => (ms ? new Date(ms).toISOString() : undefined);
    const out = [];
    if (m && m.peak) out.push([new Date((m.fall_ts + m.peak.t) * 1000).toISOString(), 'impact: ' + m.peak.g.toFixed(1) + ' g']);
    out.push([a.time, a.test ? 'test alert sent' : a.kind === 'help' ? 'call for help' : 'fall detected (' + sourceWords(a.source) + ')']);
    if (a.falls > 1) out.push([undefined, a.falls + ' falls reported while this alert was open']);
    if (a.state === 'pending') out.push([at(a.pending_until_ms), 'caregivers are alerted then, unless the wearer says they are OK']);
    if (a.alerted_ms) out.push([at(a.alerted_ms), 'caregivers alerted']);
    if (a.escalation_step) out.push([undefined, 'escalated ' + a.escalation_step + ' time' + (a.escalation_step > 1 ? 's' : '') + ' (nobody answered in time)']);
    if (a.not_moving) out.push([undefined, 'the wearer lay still after the fall']);
    if (a.moving_again) out.push([undefined, 'the wearer was moving again after the fall']);
    if (a.state === 'cancelled') out.push([a.acknowledged_at, 'cancelled by the wearer: nobody was alerted']);
    else if (a.state === 'acknowledged') out.push([a.acknowledged_at, a.cancelled_by_wearer ? 'the wearer said they are OK' : 'acknowledged by ' + a.acknowledged_by]);
    else if (a.state === 'open') out.push([undefined, 'waiting for someone to acknowledge']);
    return out.sort((x, y) => (x[0] && y[0] ? new Date(x[0]) - new Date(y[0]) : 0));
  }
  function routeFromHash() {
    const m = /^#fall=(.+)$/.exec(location.hash);
    if (m) return showDetail(decodeURIComponent(m[1]));
    state.detailId = null;
    $('detail').hidden = true;
  }

  // --- data ------------------------------------------------------------------------------------
  function upsertFall(a, quiet) {
    state.falls.set(a.id, a);
    renderFalls();
    if (!quiet && state.detailId === a.id) showDetail(a.id);
  }
  function showError(err) {
    if (err && err.status === 401) {
      $('login').hidden = false;
      $('main').hidden = true;
      return;
    }
    $('error').textContent = String((err && err.message) || err);
    $('error').hidden = false;
  }
  async function loadAll() {
    state.lastLoad = Date.now();
    try {
      const [s, d, e, f, p] = await Promise.all([api('api/status'), api('api/devices'), api('api/events?limit=20'), api('api/falls'), api('api/people')]);
      state.people = new Map(p.devices.map((x) => [x.device_id, x]));
      state.devices = new Map(d.devices.map((x) => [x.device_id, x]));
      state.falls = new Map(f.falls.map((x) => [x.id, x]));
      state.events = e.events;
      renderStatus(s);
      renderFalls();
      renderDevices();
      renderEvents();
      $('main').hidden = false;
      $('login').hidden = true;
      $('error').hidden = true;
      document.body.dataset.loaded = 'true';
      if (!streaming) connect();
      if (state.detailId === null) routeFromHash();
    } catch (err) {
      showError(err);
    }
  }

  // --- live updates ----------------------------------------------------------------------------
  let streaming = false;
  function setLive(on, text) {
    $('live').textContent = text;
    $('live').className = 'live ' + (on ? 'on' : 'off');
    document.body.dataset.live = String(on);
  }
  function onMessage(event, data) {
    if (event === 'hello' || event === 'status') return renderStatus(data);
    if (event === 'alert') return upsertFall(data);
    if (event === 'devices') {
      for (const d of data) state.devices.set(d.device_id, d);
      return renderDevices();
    }
    if (event === 'device_removed') {
      state.devices.delete(data.device_id);
      return renderDevices();
    }
    if (event === 'event') {
      state.events = [data, ...state.events].slice(0, 20);
      return renderEvents();
    }
  }
  async function connect() {
    streaming = true;
    let opened = false;
    try {
      const r = await fetch('api/stream', { headers: { ...headers(), Accept: 'text/event-stream' } });
      if (r.status === 401) throw Object.assign(new Error('unauthorized'), { status: 401 });
      if (!r.ok || !r.body) throw new Error('live updates: HTTP ' + r.status);
      opened = true;
      setLive(true, 'live');
      const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value;
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          let event = 'message';
          const data = [];
          for (const line of block.split('\n')) {
            if (line.startsWith('event: ')) event = line.slice(7);
            else if (line.startsWith('data: ')) data.push(line.slice(6));
          }
          if (data.length) onMessage(event, JSON.parse(data.join('\n')));
        }
      }
    } catch (err) {
      if (err && err.status === 401) {
        streaming = false;
        return showError(err);
      }
    }
    setLive(false, 'reconnecting…');
    // Catch up on what happened while disconnected, then follow again.
    setTimeout(() => {
      streaming = false;
      loadAll();
    }, opened ? 1000 : 3000);
  }

  // --- wiring ----------------------------------------------------------------------------------
  // The countdown of pending alerts, every second.
  setInterval(() => {
    for (const a of state.falls.values()) {
      if (a.state !== 'pending') continue;
      for (const el of document.querySelectorAll('[data-id="' + CSS.escape(a.id) + '"] [data-countdown]')) {
        el.textContent = el.tagName === 'TD' ? stateText(a)[0] : localTime(a.time) + ' · ' + stateText(a)[0];
      }
    }
  }, 1000);
  $('test-alert').addEventListener('click', async () => {
    const b = $('test-alert');
    b.disabled = true;
    try {
      const r = await api('api/test-alert', 'POST');
      if (r && r.alert) upsertFall(r.alert);
    } catch (err) {
      showError(err);
    } finally {
      b.disabled = false;
    }
  });
  $('detail-close').addEventListener('click', (ev) => {
    ev.preventDefault();
    history.replaceState(null, '', location.pathname + location.search);
    routeFromHash();
  });
  window.addEventListener('hashchange', routeFromHash);
  $('login').addEventListener('submit', (ev) => {
    ev.preventDefault();
    sessionStorage.setItem('caredian-admin-token', $('token').value);
    loadAll();
  });
  loadAll();
  // A full refresh now and then as well (status details, relative times); every 10 s while live
  // updates do not get through (a proxy that buffers them).
  setInterval(() => {
    if ($('main').hidden) return;
    if (Date.now() - state.lastLoad >= (document.body.dataset.live === 'true' ? 30000 : 10000)) loadAll();
  }, 2000);
})();
