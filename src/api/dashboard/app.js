// The dashboard: live scan progress (Server-Sent Events), library stats, queue counts, failures
// with retry, covers of recent albums. Plain browser JavaScript against the API, no build step.
const $ = (id) => document.getElementById(id);
const json = async (url, options) => {
  const response = await fetch(url, options);
  if (!response.ok) throw new Error((await response.json().catch(() => ({}))).message ?? response.statusText);
  return response.json();
};
const text = (value) => document.createTextNode(String(value));

let currentScan = null;

function showScan(data) {
  if (currentScan && data.scanId !== currentScan) return;
  $('scan').hidden = false;
  const bar = $('scan-bar');
  bar.style.width = `${data.percent}%`;
  bar.setAttribute('aria-valuenow', String(data.percent));
  $('scan-text').textContent = `${data.status}: ${data.percent}% — ${data.discovered} found, ${data.extracted} read, ${data.unchanged} unchanged, ${data.failed} failed, ${data.filesPerSecond} files/s`;
  if (data.status !== 'running') refresh();
}

async function refresh() {
  const [stats, queues, failures, albums] = await Promise.all([json('/stats'), json('/queues'), json('/jobs?state=failed&limit=20'), json('/albums/recent?limit=12')]);
  $('stats').replaceChildren(...Object.entries(stats).map(([name, n]) => { const li = document.createElement('li'); const b = document.createElement('b'); b.append(text(n)); li.append(b, text(name)); return li; }));
  $('queues').tBodies[0].replaceChildren(...Object.entries(queues).map(([queue, c]) => {
    const tr = document.createElement('tr');
    for (const v of [queue, c.waiting, c.delayed, c.active, c.completed, c.failed]) { const td = document.createElement('td'); td.append(text(v)); tr.append(td); }
    return tr;
  }));
  $('failures').replaceChildren(...(failures.items.length ? failures.items.map((job) => { const li = document.createElement('li'); li.append(text(`${job.name} (${job.id}): ${job.error ?? ''}`)); return li; }) : [Object.assign(document.createElement('li'), { className: 'muted', textContent: 'no failed jobs' })]));
  $('albums').replaceChildren(...albums.items.map((album) => {
    const figure = document.createElement('figure');
    const img = document.createElement('img');
    img.alt = album.title;
    if (album.cover) img.src = album.cover;
    const caption = document.createElement('figcaption');
    caption.append(text(`${album.artist} — ${album.title}`));
    figure.append(img, caption);
    return figure;
  }));
}

async function start() {
  const roots = await json('/roots');
  const all = [...new Set([...roots.configured, ...roots.library.map((r) => r.path)])];
  $('root').replaceChildren(...all.map((p) => Object.assign(document.createElement('option'), { value: p, textContent: p })));
  $('scan-button').disabled = all.length === 0;
  $('scan-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      const started = await json('/scans', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ root: $('root').value }) });
      currentScan = started.scanId;
      showScan({ scanId: started.scanId, status: 'running', percent: 0, discovered: 0, extracted: 0, unchanged: 0, failed: 0, filesPerSecond: 0 });
    } catch (err) {
      $('scan-text').textContent = `could not start the scan: ${err.message}`;
      $('scan').hidden = false;
    }
  });
  $('retry-all').addEventListener('click', async () => {
    await json('/jobs/retry', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ all: true }) });
    refresh();
  });
  const events = new EventSource('/events');
  events.addEventListener('open', () => { $('connection').textContent = 'live'; });
  events.addEventListener('error', () => { $('connection').textContent = 'reconnecting…'; });
  events.addEventListener('scan', (event) => showScan(JSON.parse(event.data)));
  events.addEventListener('library', () => refresh());
  await refresh();
  setInterval(refresh, 5000);
}

start().catch((err) => { $('connection').textContent = `error: ${err.message}`; });
