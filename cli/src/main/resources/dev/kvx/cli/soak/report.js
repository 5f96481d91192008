// Draws the kvx soak report's charts from the embedded report document (Chart.js, no network).
(function () {
  'use strict';
  const doc = JSON.parse(document.getElementById('kvx-data').textContent);
  const tl = doc.timeline || [];
  const pts = f => tl.map((s, i) => ({x: s.t, y: f(s, i)}));
  const perSecond = key => pts((s, i) => s[key] - (i > 0 ? tl[i - 1][key] : 0));
  const markerColor = {phase: '#888888', kill: '#d62728', restart: '#2ca02c', fault: '#ff7f0e', heal: '#17becf', hostile: '#9467bd', settle: '#8c564b'};

  // Vertical markers for phase starts, kills and restarts on every chart with a time axis.
  Chart.register({
    id: 'kvxMarkers',
    afterDatasetsDraw(chart) {
      const x = chart.scales.x;
      if (!x || x.type !== 'linear') {
        return;
      }
      const area = chart.chartArea;
      const ctx = chart.ctx;
      ctx.save();
      (doc.events || []).forEach(e => {
        const px = x.getPixelForValue(e.t);
        if (px < area.left || px > area.right) {
          return;
        }
        ctx.strokeStyle = markerColor[e.kind] || '#555555';
        ctx.fillStyle = ctx.strokeStyle;
        ctx.setLineDash(e.kind === 'phase' ? [4, 4] : []);
        ctx.lineWidth = e.kind === 'phase' ? 1 : 2;
        ctx.beginPath();
        ctx.moveTo(px, area.top);
        ctx.lineTo(px, area.bottom);
        ctx.stroke();
        ctx.font = '10px sans-serif';
        ctx.fillText(e.kind === 'phase' ? e.text.replace(' starts', '') : e.kind, px + 3, area.top + 10);
      });
      ctx.restore();
    }
  });
  Chart.defaults.animation = false;
  Chart.defaults.maintainAspectRatio = false;
  Chart.defaults.font.family = 'sans-serif';

  const time = (stacked) => ({type: 'linear', min: 0, stacked: !!stacked, title: {display: true, text: 'seconds'}});
  const charts = [];
  function chart(id, config) {
    charts.push(new Chart(document.getElementById(id), config));
  }
  function series(label, color, data, extra) {
    return Object.assign({label: label, data: data, borderColor: color, backgroundColor: color, pointRadius: 0, borderWidth: 2}, extra || {});
  }

  chart('chart-inflight', {type: 'line', data: {datasets: [series('in flight', '#1f77b4', pts(s => s.inFlight))]},
    options: {scales: {x: time(), y: {beginAtZero: true, title: {display: true, text: 'requests'}}}}});

  chart('chart-outcomes', {type: 'bar', data: {datasets: [
    series('completed', '#2ca02c', perSecond('completed')),
    series('timed out', '#d62728', perSecond('timedOut')),
    series('cancelled', '#ff7f0e', perSecond('cancelled')),
    series('failed', '#9467bd', perSecond('failed')),
    series('other', '#7f7f7f', perSecond('other'))]},
    options: {scales: {x: time(true), y: {stacked: true, beginAtZero: true, title: {display: true, text: 'requests / s'}}}}});

  const lat = key => pts(s => (s.latencyMs && s.latencyMs.count > 0) ? s.latencyMs[key] : null);
  chart('chart-latency', {type: 'line', data: {datasets: [
    series('p50', '#1f77b4', lat('p50'), {spanGaps: false, pointRadius: 2}),
    series('p99', '#d62728', lat('p99'), {spanGaps: false, pointRadius: 2}),
    series('max', '#bbbbbb', lat('max'), {spanGaps: false, pointRadius: 1, borderWidth: 1})]},
    options: {scales: {x: time(), y: {type: 'logarithmic', title: {display: true, text: 'ms (log)'}}}}});

  const kinds = ['silent-gen', 'no-ack', 'no-write', 'exception'];
  const kindColor = {'silent-gen': '#8c564b', 'no-ack': '#e377c2', 'no-write': '#17becf', 'exception': '#bcbd22'};
  chart('chart-faults', {type: 'bar', data: {datasets: kinds.map(k =>
    series(k, kindColor[k], pts(s => (s.faults && s.faults[k]) || 0)))},
    options: {scales: {x: time(true), y: {stacked: true, beginAtZero: true, title: {display: true, text: 'faults / s'}}}}});

  const phases = doc.phases || [];
  const outcomeKeys = phases.length ? Object.keys(phases[0].outcomes).filter(k => phases.some(p => p.outcomes[k] > 0)) : [];
  const outcomeColor = {COMPLETED: '#2ca02c', TIMED_OUT: '#d62728', CANCELLED: '#ff7f0e', FAILED: '#9467bd', REJECTED: '#7f7f7f',
    KILLED: '#000000', CORRUPT: '#e31a1c', INCONSISTENT: '#fb9a99', NONE: '#ffd700'};
  chart('chart-phases', {type: 'bar', data: {labels: phases.map(p => p.phase), datasets: outcomeKeys.map(k =>
    ({label: k.toLowerCase().replace('_', ' '), data: phases.map(p => p.outcomes[k]), backgroundColor: outcomeColor[k] || '#999999'}))},
    options: {indexAxis: 'y', plugins: {kvxMarkers: false}, scales: {x: {stacked: true, beginAtZero: true, title: {display: true, text: 'requests'}}, y: {stacked: true}}}});

  chart('chart-resources', {type: 'line', data: {datasets: [
    series('slots in use, context', '#8c564b', pts(s => s.ctxSlots), {yAxisID: 'slots'}),
    series('slots in use, generation', '#e377c2', pts(s => s.genSlots), {yAxisID: 'slots'}),
    series('free blocks, context', '#17becf', pts(s => s.ctxFreeBlocks), {yAxisID: 'blocks'}),
    series('free blocks, generation', '#bcbd22', pts(s => s.genFreeBlocks), {yAxisID: 'blocks'})]},
    options: {scales: {x: time(), slots: {position: 'left', beginAtZero: true, title: {display: true, text: 'slots'}},
      blocks: {position: 'right', beginAtZero: true, grid: {drawOnChartArea: false}, title: {display: true, text: 'blocks'}}}}});

  // Tells a test or a screenshot tool that the charts are drawn (after the next frame).
  requestAnimationFrame(() => requestAnimationFrame(() => {
    window.kvxReport = {charts: charts.length, samples: tl.length};
  }));
})();
