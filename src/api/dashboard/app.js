// The dashboard: plain browser JavaScript against the API (no framework, no build step). Views are
// chosen by the URL hash (#/, #/library/tracks?q=…, #/track/12, #/queues, #/problems); live scan
// progress and library changes arrive as Server-Sent Events. Every text from the library goes in
// through text nodes, never as HTML.

const view = document.getElementById('view');

/** h('a', { href: '#/' }, 'text', child…): an element with attributes and children */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}

class HttpError extends Error {
  constructor(status, body) {
    super(body.message ?? `HTTP ${status}`);
    this.status = status;
    this.code = body.error;
  }
}

async function api(url, options = {}) {
  const init = options.body === undefined ? options : { ...options, headers: { 'content-type': 'application/json' }, body: JSON.stringify(options.body) };
  const response = await fetch(url, init);
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new HttpError(response.status, body);
  return body;
}

const n = (v) => Number(v ?? 0).toLocaleString('en-US');
const duration = (s) => (s == null ? '–' : `${Math.floor(s / 60)}:${String(Math.round(s % 60)).padStart(2, '0')}`);
const fixed = (v, d = 1) => (v == null ? '–' : Number(v).toFixed(d));
function ago(ms) {
  if (!ms) return 'never';
  const s = Math.round((Date.now() - ms) / 1000);
  const a = Math.abs(s);
  const text = a < 60 ? `${a} s` : a < 3600 ? `${Math.round(a / 60)} min` : a < 86400 ? `${Math.round(a / 3600)} h` : `${Math.round(a / 86400)} d`;
  return s >= 0 ? `${text} ago` : `in ${text}`;
}
/** "Album 7" → "A7", "東京事変" → "東": the first letter of the first two words */
const initials = (text) => (String(text ?? '').match(/(?<![\p{L}\p{N}])[\p{L}\p{N}]/gu) ?? ['?']).slice(0, 2).join('').toUpperCase();

/** a cover image, or a placeholder with the initials when there is none (never a broken image) */
function art(url, label) {
  if (url) {
    const img = h('img', { class: 'art', src: url, alt: '', loading: 'lazy', width: 256, height: 256 });
    img.addEventListener('error', () => img.replaceWith(placeholder(label)));
    return img;
  }
  return placeholder(label);
}
const placeholder = (label) => h('div', { class: 'art placeholder', 'aria-hidden': 'true' }, initials(label));

const card = (title, ...children) => h('section', { class: 'card', 'aria-label': title }, h('h2', {}, title), ...children);
const table = (headers, rows, numeric = []) =>
  h('div', { class: 'table-wrap' }, h('table', {}, h('thead', {}, h('tr', {}, headers.map((x, i) => h('th', { class: [numeric.includes(i) ? 'num' : '', x.opt ? 'opt' : ''].join(' ').trim() || null, scope: 'col' }, x.label ?? x)))), h('tbody', {}, rows.map((r) => h('tr', {}, r.map((c, i) => h('td', { class: [numeric.includes(i) ? 'num' : '', headers[i]?.opt ? 'opt' : ''].join(' ').trim() || null }, c)))))));

function pager(page, go) {
  const first = page.total === 0 ? 0 : page.offset + 1;
  const last = page.offset + page.items.length;
  return h(
    'div',
    { class: 'pager' },
    h('span', { class: 'muted' }, page.total === 0 ? 'nothing here' : `showing ${n(first)}–${n(last)} of ${n(page.total)}${page.totalExact === false ? '+' : ''}`),
    h('button', { type: 'button', class: 'ghost', disabled: page.offset === 0, onclick: () => go(Math.max(0, page.offset - page.limit)) }, 'Previous'),
    h('button', { type: 'button', class: 'ghost', disabled: last >= page.total, onclick: () => go(page.offset + page.limit) }, 'Next'),
  );
}

// ---- live state -------------------------------------------------------------------------------

let onScan = null; // the overview's scan panel, while it is shown
let onLibrary = null; // the view's refresh on library changes
let timer = null; // the view's periodic refresh

function connect() {
  const status = document.getElementById('connection');
  const events = new EventSource('/events');
  events.addEventListener('open', () => (status.textContent = 'live'));
  events.addEventListener('error', () => (status.textContent = 'reconnecting…'));
  events.addEventListener('scan', (event) => onScan?.(JSON.parse(event.data)));
  let pending = null;
  events.addEventListener('library', () => {
    clearTimeout(pending);
    pending = setTimeout(() => onLibrary?.(), 500);
  });
}

// ---- overview ---------------------------------------------------------------------------------

async function overview() {
  const alert = h('p', { class: 'alert', role: 'alert' });
  const rootList = h('ul', { class: 'roots' });
  const input = h('input', { type: 'text', id: 'root-path', name: 'path', placeholder: '/srv/music', autocomplete: 'off', spellcheck: 'false' });
  const addForm = h('form', { class: 'stack', id: 'add-root' }, h('label', { for: 'root-path' }, 'Add a music folder'), h('div', { class: 'row' }, input, h('button', { type: 'submit' }, 'Add folder')), alert);
  const bar = h('div', { id: 'scan-bar', role: 'progressbar', 'aria-label': 'scan progress', 'aria-valuemin': 0, 'aria-valuemax': 100, 'aria-valuenow': 0 });
  const scanText = h('p', { id: 'scan-text', class: 'muted', 'aria-live': 'polite' }, 'No scan yet.');
  const cancel = h('button', { type: 'button', class: 'danger', id: 'scan-cancel', hidden: true }, 'Cancel scan');
  const tiles = h('div', { class: 'tiles', id: 'stats' });
  const coverage = h('div', { class: 'stack', id: 'coverage' });
  const schedules = h('div', { id: 'schedules' }, h('p', { class: 'muted' }, 'Loading…'));
  const recent = h('div', { class: 'covers', id: 'recent' });
  let following = null;

  view.replaceChildren(
    h('h1', {}, 'Overview'),
    h('div', { class: 'grid' }, card('Library roots', rootList, addForm), card('Scan', h('div', { class: 'bar' }, bar), scanText, cancel), card('Library', tiles, coverage), card('Periodic tasks', schedules), h('section', { class: 'card wide', 'aria-label': 'Recently added albums' }, h('h2', {}, 'Recently added'), recent)),
  );

  function showScan(s) {
    if (following && s.scanId !== following) return;
    following = s.scanId;
    bar.style.width = `${s.percent}%`;
    bar.setAttribute('aria-valuenow', String(s.percent));
    const what = `${n(s.discovered)} found, ${n(s.extracted)} read, ${n(s.unchanged)} unchanged, ${n(s.failed)} failed, ${n(s.filesPerSecond)} files/s`;
    scanText.textContent = `${s.status}: ${s.percent}% — ${what}${s.root ? ` — ${s.root}` : ''}${s.lastError ? ` — ${s.lastError}` : ''}`;
    scanText.className = s.status === 'failed' ? 'bad' : 'muted';
    cancel.hidden = s.status !== 'running';
    if (s.status !== 'running') refresh();
  }
  onScan = showScan;
  cancel.addEventListener('click', async () => {
    if (!following) return;
    cancel.disabled = true;
    try {
      await api(`/scans/${encodeURIComponent(following)}/cancel`, { method: 'POST' });
    } catch (err) {
      scanText.textContent = `could not cancel: ${err.message}`;
    }
    cancel.disabled = false;
  });

  async function startScan(path) {
    alert.textContent = '';
    try {
      const started = await api('/scans', { method: 'POST', body: { root: path } });
      following = started.scanId;
      showScan({ scanId: started.scanId, status: 'running', percent: 0, discovered: 0, extracted: 0, unchanged: 0, failed: 0, filesPerSecond: 0, root: started.root });
    } catch (err) {
      alert.textContent = `Could not start the scan: ${err.message}`;
    }
  }

  addForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    alert.textContent = '';
    const path = input.value.trim();
    if (!path) return void (alert.textContent = 'Type the full path of your music folder, like /srv/music.');
    try {
      const root = await api('/roots', { method: 'POST', body: { path } });
      input.value = '';
      await refresh();
      await startScan(root.path);
    } catch (err) {
      alert.textContent = err.message;
    }
  });

  async function refresh() {
    const [roots, stats, cov, recentAlbums] = await Promise.all([api('/roots'), api('/stats'), api('/coverage'), api('/albums/recent?limit=12')]);
    const known = new Set(roots.library.map((r) => r.path));
    const configuredOnly = roots.configured.filter((p) => !known.has(p)).map((path) => ({ path, tracks: 0, lastScan: null, configured: true }));
    const all = [...roots.library, ...configuredOnly];
    rootList.replaceChildren(
      ...(all.length === 0
        ? [h('li', { class: 'muted' }, 'No music folder yet: add the folder that holds your music below, and it is scanned at once.')]
        : all.map((root) => {
            const remove = root.id
              ? h('button', { type: 'button', class: 'danger', 'aria-label': `Remove ${root.path} from the library` }, 'Remove')
              : null;
            remove?.addEventListener('click', async () => {
              if (remove.dataset.armed !== 'yes') {
                remove.dataset.armed = 'yes';
                remove.textContent = `Remove ${n(root.tracks)} tracks?`;
                setTimeout(() => { remove.dataset.armed = ''; remove.textContent = 'Remove'; }, 5000);
                return;
              }
              try {
                await api(`/roots/${root.id}`, { method: 'DELETE' });
              } catch (err) {
                alert.textContent = err.message;
              }
              refresh();
            });
            const last = root.lastScan;
            return h(
              'li',
              {},
              h('code', {}, root.path),
              h('span', { class: 'muted' }, `${n(root.tracks)} tracks${last ? `, last scan ${last.status} ${ago(last.finishedAt ?? last.startedAt)}` : ', never scanned'}`),
              h('span', { class: 'row' }, h('button', { type: 'button', 'aria-label': `Scan ${root.path}`, onclick: () => startScan(root.path) }, 'Scan'), remove),
            );
          })),
    );
    // after a reload: the scan running now, else the last one
    const scans = roots.library.map((r) => r.lastScan).filter(Boolean).sort((a, b) => b.startedAt - a.startedAt);
    if (!following && scans[0]) showScan(scans[0]);
    tiles.replaceChildren(
      ...[['tracks', stats.tracks, '#/library/tracks'], ['albums', stats.albums, '#/library/albums'], ['artists', stats.artists, '#/library/artists'], ['unreadable files', stats['unreadable files'], '#/problems'], ['missing tracks', stats.missing ?? 0, '#/problems']].map(([label, value, href]) =>
        h('div', {}, h('b', {}, n(value)), h('a', { href }, label)),
      ),
    );
    const pct = (a, b) => (b > 0 ? Math.round((100 * a) / b) : 0);
    const v = cov.vectors;
    coverage.replaceChildren(
      h('p', {}, cov.analysisEnabled ? `Analysis: ${n(cov.analysed)} of ${n(cov.tracks)} tracks (${pct(cov.analysed, cov.tracks)} %)` : 'Analysis is off (SONIQUEBAY_ANALYSIS=false): BPM and key come from the tags.'),
      h('div', { class: 'bar' }, h('div', { style: `width:${pct(cov.analysed, cov.tracks)}%`, role: 'progressbar', 'aria-label': 'analysis coverage', 'aria-valuenow': pct(cov.analysed, cov.tracks), 'aria-valuemin': 0, 'aria-valuemax': 100 })),
      h('p', {}, v.active ? `Vectors: model v${v.active.version}, ${n(v.active.vectors)} of ${n(v.readyTracks)} ready tracks (${Math.round(v.coverage * 100)} %)` : `Vectors: no model yet (${n(v.readyTracks)} tracks ready)`),
      ...v.warnings.map((w) => h('p', { class: 'muted' }, w)),
    );
    recent.replaceChildren(...(recentAlbums.items.length ? recentAlbums.items.map(albumTile) : [h('p', { class: 'muted' }, 'Albums appear here after a scan.')]));
    const sched = await api('/schedules');
    schedules.replaceChildren(table(['task', { label: 'cron', opt: true }, 'last run', 'next run'], sched.items.map((s) => [s.id, h('code', {}, s.cron), s.lastRun ? `${ago(s.lastRun)}${s.lastState === 'failed' ? ' (failed)' : ''}` : 'not yet', s.nextRun ? ago(s.nextRun) : '–'])));
  }
  onLibrary = refresh;
  timer = setInterval(refresh, 15_000);
  await refresh();
}

const albumTile = (a) => h('a', { href: `#/album/${a.id}` }, art(a.cover, a.title), h('div', { class: 'title' }, a.title), h('div', { class: 'sub' }, a.artist));

// ---- library ----------------------------------------------------------------------------------

async function library(kind = 'albums', query) {
  const q = query.get('q') ?? '';
  const offset = Number(query.get('offset') ?? 0);
  const go = (params) => (location.hash = `#/library/${kind}?${new URLSearchParams({ ...(q ? { q } : {}), ...params })}`);
  const search = h('input', { type: 'search', id: 'search', name: 'q', value: q, placeholder: 'title, artist or album' });
  const form = h('form', { class: 'row', role: 'search' }, h('label', { for: 'search' }, 'Search the library'), search, h('button', { type: 'submit' }, 'Search'));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    location.hash = `#/library/${kind}?${new URLSearchParams(search.value.trim() ? { q: search.value.trim() } : {})}`;
  });
  const tabs = h('nav', { class: 'tabs', 'aria-label': 'What to list' }, ['albums', 'artists', 'tracks'].map((k) => h('a', { href: `#/library/${k}${q ? `?q=${encodeURIComponent(q)}` : ''}`, 'aria-current': k === kind ? 'page' : null }, k[0].toUpperCase() + k.slice(1))));
  const results = h('div', { id: 'results' }, h('p', { class: 'muted' }, 'Loading…'));
  view.replaceChildren(h('h1', {}, 'Library'), form, tabs, results);
  const page = await api(`/${kind}?${new URLSearchParams({ limit: kind === 'tracks' ? '50' : '48', offset: String(offset), ...(q ? { search: q } : {}) })}`);
  const more = pager(page, (o) => go({ offset: String(o) }));
  if (kind === 'albums') results.replaceChildren(h('div', { class: 'covers' }, page.items.map(albumTile)), more);
  else if (kind === 'artists') results.replaceChildren(h('div', { class: 'covers' }, page.items.map((a) => h('a', { href: `#/artist/${a.id}` }, art(a.image, a.name), h('div', { class: 'title' }, a.name)))), more);
  else results.replaceChildren(trackTable(page.items), more);
}

function trackTable(items) {
  return table(
    ['title', 'artist', { label: 'album', opt: true }, 'time', 'BPM', { label: 'key', opt: true }, { label: 'LUFS', opt: true }],
    items.map((t) => [h('a', { href: `#/track/${t.id}` }, t.title), t.artist, t.albumId ? h('a', { href: `#/album/${t.albumId}` }, t.album ?? '') : (t.album ?? ''), duration(t.duration), t.bpm == null ? '–' : Math.round(t.bpm), t.key ? `${t.key} ${t.scale ?? ''}` : '–', fixed(t.lufs)]),
    [3, 4, 6],
  );
}

async function album(id) {
  const a = await api(`/albums/${id}`);
  view.replaceChildren(
    h('div', { class: 'head' }, art(a.cover?.urls?.['256'], a.title), h('div', {}, h('h1', {}, a.title), h('p', {}, h('a', { href: `#/artist/${a.artistId}` }, a.artist), a.year ? ` · ${a.year}` : ''))),
    card('Tracks', table(['#', 'title', 'artist', 'time'], a.tracks.map((t) => [t.trackNo ?? '', h('a', { href: `#/track/${t.id}` }, t.title), t.artist, duration(t.duration)]), [0, 3])),
  );
}

async function artist(id) {
  const a = await api(`/artists/${id}`);
  const albums = await api(`/albums?${new URLSearchParams({ search: a.name, limit: '100' })}`);
  view.replaceChildren(h('div', { class: 'head' }, art(a.image?.urls?.['256'], a.name), h('div', {}, h('h1', {}, a.name), h('p', { class: 'muted' }, `${a.albums.length} album(s)`))), h('div', { class: 'covers' }, albums.items.filter((x) => x.artistId === a.id).map(albumTile)));
}

async function track(id) {
  const t = await api(`/tracks/${id}`);
  const tr = t.track;
  const an = t.analysis;
  const similar = h('div', { id: 'similar', 'aria-live': 'polite' }, h('p', { class: 'muted' }, 'Loading…'));
  const playlist = h('div', { id: 'playlist', 'aria-live': 'polite' });
  const makePlaylist = h('button', { type: 'button', id: 'make-playlist' }, 'Make a playlist from this');
  const hitList = (answer) => (answer.tracks.length === 0 ? h('p', { class: 'muted' }, 'No track matches.') : h('ol', { class: 'list' }, answer.tracks.map((x) => h('li', {}, h('a', { href: `#/track/${x.trackId}` }, x.title), ` — ${x.artist}`, h('span', { class: 'muted' }, ` (${x.similarity === undefined ? '' : `${Math.round(x.similarity * 100)} % alike`}${x.bpm ? `, ${Math.round(x.bpm)} BPM` : ''})`)))));
  const format = [tr.format, tr.codec && tr.codec !== tr.format ? tr.codec : null].filter(Boolean).join(' · ');
  view.replaceChildren(
    h('div', { class: 'head' }, art(t.cover?.urls?.['256'], t.album ?? tr.title), h('div', {}, h('h1', {}, tr.title), h('p', {}, tr.artist_display, t.album ? [' · ', tr.album_id ? h('a', { href: `#/album/${tr.album_id}` }, t.album) : t.album] : '', tr.year ? ` · ${tr.year}` : ''), tr.missing_since ? h('p', { class: 'bad' }, `The file is missing since ${new Date(tr.missing_since).toLocaleString()}.`) : null)),
    h(
      'div',
      { class: 'grid' },
      card(
        'Analysis',
        an
          ? h('dl', { class: 'facts', id: 'analysis' },
              h('dt', {}, 'BPM'), h('dd', {}, `${fixed(an.bpm)}${t.fromTags.bpm ? ` (tag: ${t.fromTags.bpm})` : ''}`),
              h('dt', {}, 'key'), h('dd', {}, an.key ? `${an.key} ${an.scale ?? ''} (${an.camelot ?? '–'})` : '–'),
              h('dt', {}, 'loudness'), h('dd', {}, an.lufs == null ? '–' : `${fixed(an.lufs)} LUFS, peak ${fixed(an.true_peak)} dBTP`),
              h('dt', {}, 'ReplayGain'), h('dd', {}, an.rg_track_gain == null ? '–' : `${fixed(an.rg_track_gain, 2)} dB`),
              h('dt', {}, 'energy'), h('dd', {}, fixed(an.energy, 2)),
              h('dt', {}, 'danceability'), h('dd', {}, fixed(an.danceability, 2)))
          : h('p', { class: 'muted', id: 'analysis' }, `Not analysed yet${t.fromTags.bpm ? ` (tags say ${t.fromTags.bpm} BPM${t.fromTags.key ? `, key ${t.fromTags.key}` : ''})` : ''}.`),
      ),
      card('File', h('dl', { class: 'facts' }, h('dt', {}, 'path'), h('dd', {}, h('code', {}, tr.path)), h('dt', {}, 'format'), h('dd', {}, `${format || '–'}, ${duration(tr.duration)}, ${tr.sample_rate ? `${tr.sample_rate} Hz` : '–'}`), h('dt', {}, 'genres'), h('dd', {}, t.genres.join(', ') || '–'))),
      card('Similar tracks', similar),
      card('Playlist', makePlaylist, playlist),
    ),
  );
  makePlaylist.addEventListener('click', async () => {
    playlist.replaceChildren(h('p', { class: 'muted' }, 'Making a playlist…'));
    try {
      playlist.replaceChildren(hitList(await api(`/playlists?seeds=${id}&length=20`)));
    } catch (err) {
      playlist.replaceChildren(h('p', { class: 'muted' }, err.message));
    }
  });
  try {
    similar.replaceChildren(hitList(await api(`/tracks/${id}/similar?k=10`)));
  } catch (err) {
    similar.replaceChildren(h('p', { class: 'muted' }, err.status === 409 || err.status === 503 ? `Not yet: ${err.message}` : err.message));
  }
}

// ---- queues -----------------------------------------------------------------------------------

async function queues() {
  const counts = h('div', { id: 'queues' });
  const failures = h('div', { id: 'failures' });
  const retryAll = h('button', { type: 'button', id: 'retry-all' }, 'Retry all failed');
  const note = h('p', { class: 'muted', 'aria-live': 'polite' });
  view.replaceChildren(h('h1', {}, 'Queues'), h('div', { class: 'grid' }, h('section', { class: 'card wide', 'aria-label': 'Queues' }, h('h2', {}, 'Jobs per queue'), counts), h('section', { class: 'card wide', 'aria-label': 'Failed jobs' }, h('div', { class: 'row' }, h('h2', {}, 'Failed jobs'), retryAll), note, failures)));
  async function retry(body) {
    try {
      const { retried } = await api('/jobs/retry', { method: 'POST', body });
      note.textContent = `${retried} job(s) put back in their queue`;
    } catch (err) {
      note.textContent = err.message;
    }
    refresh();
  }
  retryAll.addEventListener('click', () => retry({ all: true }));
  async function refresh() {
    const [rates, failed] = await Promise.all([api('/queues/rates'), api('/jobs?state=failed&limit=50')]);
    counts.replaceChildren(table(['queue', 'waiting', 'active', { label: 'delayed', opt: true }, 'failed', 'done/min'], Object.entries(rates).map(([q, c]) => [q, n(c.waiting), n(c.active), n(c.delayed), n(c.failed), n(c.completedPerMinute)]), [1, 2, 3, 4, 5]));
    retryAll.disabled = failed.items.length === 0;
    failures.replaceChildren(
      failed.items.length === 0
        ? h('p', { class: 'muted' }, 'No failed jobs.')
        : table(['job', 'error', { label: 'attempts', opt: true }, ''], failed.items.map((j) => [h('span', {}, j.name, h('br'), h('code', { class: 'muted' }, j.id)), j.error ?? '', `${j.attemptsMade}/${j.maxAttempts}`, h('button', { type: 'button', class: 'ghost', 'aria-label': `Retry job ${j.id}`, 'data-job': j.id, onclick: () => retry({ ids: [j.id] }) }, 'Retry')])),
    );
  }
  timer = setInterval(refresh, 3_000);
  onLibrary = refresh;
  await refresh();
}

// ---- problems ---------------------------------------------------------------------------------

async function problems(query) {
  const offset = Number(query.get('offset') ?? 0);
  const [unreadable, missing] = await Promise.all([api(`/unreadable?limit=50&offset=${offset}`), api('/tracks/missing?limit=100')]);
  view.replaceChildren(
    h('h1', {}, 'Problems'),
    h('div', { class: 'grid' },
      h('section', { class: 'card wide', 'aria-label': 'Unreadable files' }, h('h2', {}, 'Files that could not be read'), unreadable.items.length ? table(['file', 'reason', { label: 'stage', opt: true }], unreadable.items.map((e) => [h('code', {}, e.path), e.message, e.stage])) : h('p', { class: 'muted' }, 'Every file could be read.'), pager(unreadable, (o) => (location.hash = `#/problems?offset=${o}`))),
      h('section', { class: 'card wide', 'aria-label': 'Missing tracks' }, h('h2', {}, 'Missing tracks'), h('p', { class: 'muted' }, 'Tracks whose file has gone: they keep their analysis until the file is found again or they are purged (soniquebay library purge-missing).'), missing.items.length ? table(['track', 'file', 'missing since'], missing.items.map((t) => [h('a', { href: `#/track/${t.id}` }, `${t.artist} — ${t.title}`), h('code', {}, t.path), ago(t.missingSince)])) : h('p', { class: 'muted' }, 'No missing tracks.')),
    ),
  );
}

// ---- routing ----------------------------------------------------------------------------------

async function route() {
  clearInterval(timer);
  onScan = null;
  onLibrary = null;
  const [path, search] = location.hash.replace(/^#/, '').split('?');
  const parts = (path || '/').split('/').filter(Boolean);
  const query = new URLSearchParams(search ?? '');
  const section = parts[0] ?? 'overview';
  for (const a of document.querySelectorAll('[data-nav]')) a.toggleAttribute('aria-current', false);
  const nav = { track: 'library', album: 'library', artist: 'library' }[section] ?? section;
  document.querySelector(`[data-nav="${nav}"]`)?.setAttribute('aria-current', 'page');
  try {
    if (section === 'overview') await overview();
    else if (section === 'library') await library(parts[1] ?? 'albums', query);
    else if (section === 'album') await album(Number(parts[1]));
    else if (section === 'artist') await artist(Number(parts[1]));
    else if (section === 'track') await track(Number(parts[1]));
    else if (section === 'queues') await queues();
    else if (section === 'problems') await problems(query);
    else view.replaceChildren(h('h1', {}, 'Not found'), h('p', {}, h('a', { href: '#/' }, 'Back to the overview')));
    document.title = `${view.querySelector('h1')?.textContent ?? 'SoniqueBay'} · SoniqueBay`;
  } catch (err) {
    view.replaceChildren(h('h1', {}, 'Something went wrong'), h('p', { class: 'bad', role: 'alert' }, err.message));
  }
}

document.getElementById('theme').addEventListener('click', () => {
  const dark = document.documentElement.dataset.theme ? document.documentElement.dataset.theme === 'dark' : matchMedia('(prefers-color-scheme: dark)').matches;
  document.documentElement.dataset.theme = dark ? 'light' : 'dark';
  try {
    localStorage.setItem('theme', document.documentElement.dataset.theme);
  } catch {}
});
window.addEventListener('hashchange', () => {
  route();
  view.focus({ preventScroll: true });
});
connect();
route();
