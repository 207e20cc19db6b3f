// The /ui page: one self-contained HTML document (no build step, no
// dependency). It opens an EventSource on /ui/events (which reconnects by
// itself) and redraws from each snapshot; values are set with textContent,
// never as HTML. data-* attributes name what each element shows, for
// scripts and the browser test.

export const UI_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Tessera · topology</title>
<style>
  :root { color-scheme: light dark; --ok: #1a7f37; --warn: #9a6700; --bad: #cf222e; --info: #0969da; --dim: #6e7781; }
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; }
  h1 { font-size: 1.2rem; margin: 0 0 .5rem; }
  header { display: flex; gap: 1.5rem; align-items: baseline; flex-wrap: wrap; margin-bottom: 1rem; }
  #conn[data-state="live"] { color: var(--ok); } #conn[data-state="down"] { color: var(--bad); }
  .shards { display: grid; grid-template-columns: repeat(auto-fill, minmax(34rem, 1fr)); gap: 1rem; }
  section.shard { border: 1px solid #8884; border-radius: 6px; padding: .6rem .8rem; }
  section.shard h2 { font-size: 1rem; margin: 0 0 .4rem; }
  table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
  th, td { text-align: left; padding: .15rem .5rem; border-bottom: 1px solid #8882; white-space: nowrap; }
  th { color: var(--dim); font-weight: 500; } td.num { text-align: right; }
  tr[data-role="primary"] td:first-child { font-weight: 700; }
  td[data-health="InSync"] { color: var(--ok); } td[data-health="Lagging"] { color: var(--warn); }
  td[data-health="CatchingUp"] { color: var(--info); } td[data-health="Offline"] { color: var(--bad); }
  tr[data-health="Offline"] td:not([data-health]) { color: var(--dim); }
  .paused { color: var(--warn); font-weight: 600; }
  ol#elections { padding-left: 1.2rem; } ol#elections li { margin: .15rem 0; }
  [data-outcome="elected"], [data-outcome="adopted"] { color: var(--ok); } [data-outcome="no_quorum"] { color: var(--bad); }
  .dim { color: var(--dim); }
</style>
</head>
<body>
<header>
  <h1>Tessera topology</h1>
  <span id="conn" data-state="connecting">connecting…</span>
  <span>writes/s <b id="writes" data-rate="writes">-</b></span>
  <span>reads/s <b id="reads" data-rate="reads">-</b></span>
  <span class="dim" id="at"></span>
</header>
<div class="shards" id="shards"></div>
<h2 style="font-size:1rem">Elections <span class="dim">(newest first)</span></h2>
<ol id="elections"><li class="dim">none yet</li></ol>
<script>
(() => {
  const $ = (id) => document.getElementById(id);
  const el = (tag, text, attrs) => {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
    return e;
  };
  const num = (v) => (typeof v === 'number' ? v : '-');
  const COLS = [['node', ''], ['role', ''], ['term', 'num'], ['lastSeq', 'num'], ['commitSeq', 'num'], ['lag', 'num'], ['health', ''], ['rollbacks', 'num']];
  function shardSection(s) {
    const sec = el('section', null, { class: 'shard', 'data-shard': s.id, 'data-primary': s.primaryId || '', 'data-term': s.term });
    const h = el('h2', 'shard ' + s.id + ' · term ' + s.term + ' · primary ' + (s.primaryId || 'none') + ' · commit ' + s.commitSeq + ' · ');
    h.append(s.writesPaused ? el('span', 'writes paused', { class: 'paused' }) : el('span', 'writes open', { class: 'dim' }));
    sec.append(h);
    const t = el('table');
    const hr = el('tr');
    for (const [c, cls] of COLS) hr.append(el('th', c, cls ? { class: cls } : {}));
    t.append(hr);
    for (const n of s.nodes) {
      const tr = el('tr', null, { 'data-node': n.id, 'data-role': n.role, 'data-health': n.health });
      const lag = n.lag + (typeof n.lagMs === 'number' ? ' (' + Math.round(n.lagMs) + ' ms)' : '');
      // An Offline node shows what it last reported: a deposed primary still calls itself one.
      const role = n.health === 'Offline' && n.id !== s.primaryId ? n.role + ' (last seen)' : n.role;
      const vals = [n.id, role, num(n.term), num(n.lastSeq), num(n.commitSeq), lag, n.health, num(n.rollbackCount)];
      vals.forEach((v, i) => tr.append(el('td', v, i === 6 ? { 'data-health': n.health } : COLS[i][1] ? { class: COLS[i][1] } : {})));
      t.append(tr);
    }
    sec.append(t);
    return sec;
  }
  function electionItem(e) {
    const when = new Date(e.at).toLocaleTimeString();
    const what = e.outcome === 'elected' || e.outcome === 'adopted'
      ? e.winner + ' ' + e.outcome + ' (term ' + e.term + ')'
      : e.outcome + (e.detail ? ': ' + e.detail : '');
    return el('li', when + ' · shard ' + e.shard + ' · ' + e.reason + ' → ' + what + ' in ' + e.durationMs + ' ms',
      { 'data-shard': e.shard, 'data-reason': e.reason, 'data-outcome': e.outcome, 'data-winner': e.winner || '', 'data-term': e.term ?? '' });
  }
  function render(snap) {
    $('shards').replaceChildren(...snap.shards.map(shardSection));
    const items = snap.elections.map(electionItem);
    $('elections').replaceChildren(...(items.length ? items : [el('li', 'none yet', { class: 'dim' })]));
    $('writes').textContent = snap.rates.writesPerSec;
    $('reads').textContent = snap.rates.readsPerSec;
    $('at').textContent = 'as of ' + new Date(snap.at).toLocaleTimeString();
  }
  const conn = $('conn');
  const es = new EventSource('/ui/events');
  es.onopen = () => { conn.textContent = 'live'; conn.dataset.state = 'live'; };
  es.onerror = () => { conn.textContent = 'reconnecting…'; conn.dataset.state = 'down'; };
  es.onmessage = (m) => render(JSON.parse(m.data));
})();
</script>
</body>
</html>
`;
