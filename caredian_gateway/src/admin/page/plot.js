// The motion around a fall as plain SVG: the acceleration magnitude (g, left axis), the model's
// probability per window (right axis, with the decision threshold), the moment the fall was
// decided (0 s) and the impact (the largest magnitude).
'use strict';
(function () {
  const NS = 'http://www.w3.org/2000/svg';
  const W = 720, H = 280, L = 48, R = 48, T = 16, B = 36;
  function el(name, attrs, text) {
    const e = document.createElementNS(NS, name);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function render(m) {
    const svg = el('svg', { viewBox: '0 0 ' + W + ' ' + H, role: 'img', class: 'plot', 'aria-label': 'Acceleration and fall probability around the fall' });
    const x0 = -10, x1 = 10;
    const gMax = Math.max(2, Math.ceil(((m.peak && m.peak.g) || 1) * 1.1));
    const x = (t) => L + ((t - x0) / (x1 - x0)) * (W - L - R);
    const yg = (g) => T + (1 - g / gMax) * (H - T - B);
    const yp = (p) => T + (1 - p) * (H - T - B);
    // Axes and grid.
    const grid = el('g', { class: 'grid' });
    for (let t = x0; t <= x1; t += 2) {
      grid.appendChild(el('line', { x1: x(t), x2: x(t), y1: T, y2: H - B }));
      grid.appendChild(el('text', { x: x(t), y: H - B + 16, 'text-anchor': 'middle' }, (t > 0 ? '+' : '') + t + ' s'));
    }
    const gStep = gMax > 6 ? 2 : 1;
    for (let g = 0; g <= gMax; g += gStep) {
      grid.appendChild(el('line', { x1: L, x2: W - R, y1: yg(g), y2: yg(g) }));
      grid.appendChild(el('text', { x: L - 6, y: yg(g) + 4, 'text-anchor': 'end' }, g + ' g'));
    }
    for (const p of [0, 0.5, 1]) grid.appendChild(el('text', { x: W - R + 6, y: yp(p) + 4, class: 'prob-axis' }, p.toFixed(1)));
    svg.appendChild(grid);
    // The decision threshold and the moment of the decision.
    svg.appendChild(el('line', { x1: L, x2: W - R, y1: yp(m.threshold), y2: yp(m.threshold), class: 'threshold' }));
    svg.appendChild(el('text', { x: W - R - 4, y: yp(m.threshold) - 4, 'text-anchor': 'end', class: 'threshold-label' }, 'threshold ' + m.threshold));
    svg.appendChild(el('line', { x1: x(0), x2: x(0), y1: T, y2: H - B, class: 'decided' }));
    svg.appendChild(el('text', { x: x(0) + 4, y: T + 12, class: 'decided-label' }, 'fall decided'));
    // Magnitude: one polyline per run of samples (gaps stay gaps).
    let run = [];
    const flush = () => {
      if (run.length > 1) svg.appendChild(el('polyline', { points: run.join(' '), class: 'magnitude' }));
      run = [];
    };
    m.magnitude_g.forEach((g, i) => {
      const t = m.start_offset_sec + i / m.rate_hz;
      if (g === null || t < x0 || t > x1) return flush();
      run.push(x(t).toFixed(1) + ',' + yg(Math.min(g, gMax)).toFixed(1));
    });
    flush();
    // Probability: a step per window (each window's value holds until the next).
    if (m.prob.length) {
      const pts = [];
      m.prob.forEach(([t, p], i) => {
        if (i) pts.push(x(t).toFixed(1) + ',' + yp(m.prob[i - 1][1]).toFixed(1));
        pts.push(x(t).toFixed(1) + ',' + yp(p).toFixed(1));
      });
      svg.appendChild(el('polyline', { points: pts.join(' '), class: 'probability' }));
    }
    if (m.peak) {
      svg.appendChild(el('circle', { cx: x(m.peak.t), cy: yg(Math.min(m.peak.g, gMax)), r: 5, class: 'impact' }));
      svg.appendChild(el('text', { x: x(m.peak.t) - 8, y: Math.max(T + 12, yg(Math.min(m.peak.g, gMax)) - 8), 'text-anchor': 'end', class: 'impact-label' }, 'impact ' + m.peak.g.toFixed(1) + ' g'));
    }
    const legend = el('g', { class: 'legend' });
    legend.appendChild(el('line', { x1: L + 8, x2: L + 28, y1: H - 8, y2: H - 8, class: 'magnitude' }));
    legend.appendChild(el('text', { x: L + 32, y: H - 4 }, 'acceleration (g)'));
    legend.appendChild(el('line', { x1: L + 170, x2: L + 190, y1: H - 8, y2: H - 8, class: 'probability' }));
    legend.appendChild(el('text', { x: L + 194, y: H - 4 }, 'fall probability (model)'));
    svg.appendChild(legend);
    return svg;
  }
  window.CareDianPlot = { render };
})();
