// Menagerie's web console: plain JavaScript over the REST gateway (/api/v1) and the
// AdminServer commands (/commands). Every znode name and byte of data is untrusted: the page
// is built with textContent and DOM nodes only, never HTML strings.
'use strict';

const $ = (id) => document.getElementById(id);

function el(tag, props, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'text') e.textContent = v;
    else e.setAttribute(k, v);
  }
  for (const kid of kids) if (kid != null) e.append(kid instanceof Node ? kid : String(kid));
  return e;
}

const state = {
  auth: sessionStorage.getItem('menagerie.auth'),
  selected: null,
  node: null,
  mode: 'text',
  editing: false,
  acl: [],
  stream: null,
  timers: [],
};

// ---- HTTP helpers --------------------------------------------------------------------------

async function api(method, url, opts = {}) {
  const headers = Object.assign({}, opts.headers || {});
  if (state.auth) headers['Authorization'] = 'digest ' + state.auth;
  let body = opts.body;
  if (opts.json !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(opts.json);
  }
  const r = await fetch(url, { method, headers, body });
  const type = r.headers.get('content-type') || '';
  const data = type.includes('json') ? await r.json().catch(() => null) : await r.text();
  return { status: r.status, ok: r.ok, data, headers: r.headers };
}

function encodePath(path) {
  return path === '/' ? '' : path.split('/').map(encodeURIComponent).join('/');
}

function znodeUrl(path, query) {
  return '/api/v1/znodes' + encodePath(path) + (query ? '?' + query : '');
}

function aclUrl(path) {
  return '/api/v1/acl' + (path === '/' ? '/' : encodePath(path));
}

function errorText(res) {
  const d = res.data;
  if (d && typeof d === 'object' && d.error) {
    return d.error + (d.code !== undefined ? ' (' + d.code + ')' : '') + (d.message ? ': ' + d.message : '');
  }
  return 'HTTP ' + res.status;
}

function join(parent, name) {
  return parent === '/' ? '/' + name : parent + '/' + name;
}

function parentOf(path) {
  const i = path.lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
}

function fromBase64(b64) {
  if (b64 == null) return null;
  const s = atob(b64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

function toBase64(bytes) {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

// ---- Login ---------------------------------------------------------------------------------

async function showIdentity() {
  const res = await api('GET', '/api/v1/whoami');
  const ids = res.ok ? res.data.identities.map((i) => i.scheme + ':' + i.id).join(', ') : errorText(res);
  $('identity').textContent = (state.auth ? '' : 'anonymous · ') + ids;
  $('login-open').hidden = !!state.auth;
  $('logout').hidden = !state.auth;
}

function setupLogin() {
  $('login-open').addEventListener('click', () => $('login').showModal());
  $('login-cancel').addEventListener('click', () => $('login').close());
  $('login-form').addEventListener('submit', () => {
    state.auth = $('login-user').value + ':' + $('login-password').value;
    sessionStorage.setItem('menagerie.auth', state.auth);
    $('login-password').value = '';
    afterIdentityChange();
  });
  $('logout').addEventListener('click', () => {
    state.auth = null;
    sessionStorage.removeItem('menagerie.auth');
    afterIdentityChange();
  });
}

function afterIdentityChange() {
  showIdentity();
  resetTree();
  if (state.selected) openNode(state.selected);
}

// ---- Tree ----------------------------------------------------------------------------------

const PAGE = 200;

function treeItem(path, name, numChildren, hideCount) {
  const li = el('li', { 'data-path': path });
  const twisty = el('span', { class: 'twisty', text: numChildren > 0 ? '▸' : '·' });
  const row = el('div', { class: 'row' }, twisty, el('span', { class: 'name', text: name }),
    numChildren > 0 && !hideCount ? el('span', { class: 'count', text: '(' + numChildren + ')' }) : null);
  row.addEventListener('click', () => {
    if (numChildren > 0) toggle(li);
    openNode(path);
  });
  li.append(row);
  li._info = { path, numChildren, open: false, prefix: '', shown: 0 };
  return li;
}

function toggle(li) {
  const info = li._info;
  const twisty = li.querySelector(':scope > .row > .twisty');
  if (info.open) {
    info.open = false;
    twisty.textContent = '▸';
    const ul = li.querySelector(':scope > ul');
    if (ul) ul.remove();
    li.querySelectorAll(':scope > .more, :scope > .filter').forEach((e) => e.remove());
    return;
  }
  info.open = true;
  twisty.textContent = '▾';
  loadChildren(li, true);
}

async function loadChildren(li, fresh) {
  const info = li._info;
  let ul = li.querySelector(':scope > ul');
  if (fresh || !ul) {
    if (ul) ul.remove();
    li.querySelectorAll(':scope > .more, :scope > .filter').forEach((e) => e.remove());
    ul = el('ul');
    li.append(ul);
    info.shown = 0;
  }
  const q = 'children&counts&limit=' + PAGE + '&offset=' + info.shown + (info.prefix ? '&prefix=' + encodeURIComponent(info.prefix) : '');
  const res = await api('GET', znodeUrl(info.path, q));
  if (!res.ok) {
    ul.append(el('li', { class: 'error', text: errorText(res) }));
    return;
  }
  const kids = res.data.children_stats;
  kids.forEach((k) => ul.append(treeItem(join(info.path, k.name), k.name, k.numChildren)));
  info.shown += kids.length;
  li.querySelectorAll(':scope > .more').forEach((e) => e.remove());
  if (info.shown < res.data.children_total) {
    li.append(el('div', { class: 'more' }, el('button', {
      text: 'more… (' + (res.data.children_total - info.shown) + ' left)',
      onclick: () => loadChildren(li, false),
    })));
  }
  if (fresh && (res.data.children_total > 50 || info.prefix) && !li.querySelector(':scope > .filter')) {
    const input = el('input', { placeholder: 'name prefix', value: info.prefix });
    input.addEventListener('change', () => { info.prefix = input.value; loadChildren(li, true); });
    li.insertBefore(el('div', { class: 'filter' }, 'filter: ', input), ul);
  }
}

function resetTree() {
  const tree = $('tree');
  tree.replaceChildren();
  const root = treeItem('/', '/', 1, true);
  tree.append(root);
  toggle(root);
}

async function refreshChildren(path) {
  const li = document.querySelector('#tree li[data-path="' + CSS.escape(path) + '"]');
  if (li && li._info.open) loadChildren(li, true);
}

// ---- One znode -----------------------------------------------------------------------------

function status(text) {
  $('node-status').textContent = text;
}

async function openNode(path) {
  state.selected = path;
  state.editing = false;
  document.querySelectorAll('#tree .row.selected').forEach((r) => r.classList.remove('selected'));
  const li = document.querySelector('#tree li[data-path="' + CSS.escape(path) + '"]');
  if (li) li.querySelector(':scope > .row').classList.add('selected');
  $('node-empty').hidden = true;
  $('node').hidden = false;
  $('node-path').textContent = path;
  $('history').hidden = true;
  status('');
  stopStream();
  await loadNode();
  if ($('live').checked) startStream(path);
}

async function loadNode() {
  const path = state.selected;
  const res = await api('GET', znodeUrl(path, 'stat'));
  if (path !== state.selected) return;
  if (!res.ok) {
    state.node = null;
    $('node-error').hidden = false;
    $('node-error').textContent = errorText(res);
    $('node-body').hidden = true;
    return;
  }
  $('node-error').hidden = true;
  $('node-body').hidden = false;
  state.node = res.data;
  state.node.bytes = fromBase64(res.data.data_base64);
  if (!state.editing) renderData();
  renderStat();
  loadAcl();
}

function hexDump(bytes) {
  const lines = [];
  for (let i = 0; i < bytes.length; i += 16) {
    const chunk = Array.from(bytes.slice(i, i + 16));
    const hex = chunk.map((b) => b.toString(16).padStart(2, '0')).join(' ');
    const ascii = chunk.map((b) => (b >= 32 && b < 127 ? String.fromCharCode(b) : '.')).join('');
    lines.push(i.toString(16).padStart(8, '0') + '  ' + hex.padEnd(48) + '  ' + ascii);
  }
  return lines.join('\n');
}

function renderData() {
  const n = state.node;
  const view = $('data-view');
  view.classList.remove('error');
  if (n.bytes == null) { view.textContent = '(null)'; return; }
  if (state.mode === 'hex') { view.textContent = hexDump(n.bytes) || '(empty)'; return; }
  if (n.data == null) { view.textContent = '(binary, ' + n.bytes.length + ' bytes: see Hex)'; return; }
  if (state.mode === 'json') {
    try {
      view.textContent = JSON.stringify(JSON.parse(n.data), null, 2);
    } catch (e) {
      view.textContent = 'not valid JSON: ' + e.message;
      view.classList.add('error');
    }
    return;
  }
  view.textContent = n.data === '' ? '(empty)' : n.data;
}

function renderStat() {
  const t = $('stat');
  t.replaceChildren();
  const s = state.node.stat;
  const when = (ms) => (ms ? new Date(ms).toISOString() : '0');
  const rows = [
    ['czxid', '0x' + s.czxid.toString(16)], ['mzxid', '0x' + s.mzxid.toString(16)],
    ['pzxid', '0x' + s.pzxid.toString(16)], ['ctime', when(s.ctime)], ['mtime', when(s.mtime)],
    ['version', s.version], ['cversion', s.cversion], ['aversion', s.aversion],
    ['ephemeralOwner', s.ephemeralOwner ? '0x' + s.ephemeralOwner.toString(16) : '0'],
    ['dataLength', s.dataLength], ['numChildren', s.numChildren],
  ];
  for (const [k, v] of rows) t.append(el('tr', {}, el('td', { text: k }), el('td', { text: String(v) })));
}

function setupDataTabs() {
  document.querySelectorAll('#data-tabs button').forEach((b) => b.addEventListener('click', () => {
    document.querySelectorAll('#data-tabs button').forEach((x) => x.classList.remove('active'));
    b.classList.add('active');
    state.mode = b.dataset.mode;
    if (state.node) renderData();
  }));
  $('live').addEventListener('change', () => {
    stopStream();
    if ($('live').checked && state.selected) startStream(state.selected);
  });
}

function setEditing(on) {
  state.editing = on;
  $('editor').hidden = !on;
  $('data-view').hidden = on;
  $('edit').hidden = on;
  $('save').hidden = !on;
  $('cancel').hidden = !on;
  $('edit-error').hidden = true;
}

function setupEditing() {
  $('edit').addEventListener('click', () => {
    const n = state.node;
    if (!n) return;
    let text = n.data == null ? '' : n.data;
    if (state.mode === 'json') { try { text = JSON.stringify(JSON.parse(text), null, 2); } catch (e) { /* edit as is */ } }
    $('data-edit').value = text;
    setEditing(true);
  });
  $('cancel').addEventListener('click', () => { setEditing(false); renderData(); });
  $('save').addEventListener('click', async () => {
    const text = $('data-edit').value;
    if (state.mode === 'json') {
      try { JSON.parse(text); } catch (e) {
        $('edit-error').hidden = false;
        $('edit-error').textContent = 'not valid JSON: ' + e.message;
        return;
      }
    }
    const res = await api('PUT', znodeUrl(state.selected), {
      body: new TextEncoder().encode(text),
      headers: { 'If-Match': '"' + state.node.stat.version + '"', 'Content-Type': 'application/octet-stream' },
    });
    if (!res.ok) {
      $('edit-error').hidden = false;
      $('edit-error').textContent = res.status === 412
        ? 'The node changed meanwhile (BadVersion): cancel and edit the new data.'
        : errorText(res);
      return;
    }
    setEditing(false);
    status('saved: version ' + res.data.stat.version);
    await loadNode();
  });
}

// ---- Create, delete, rename, export, import ------------------------------------------------

async function createNode(path, bytes, mode, aclText) {
  let q = 'mode=' + encodeURIComponent(mode || 'persistent');
  if (aclText) q += '&acl=' + encodeURIComponent(aclText);
  return api('POST', znodeUrl(path, q), { body: bytes, headers: { 'Content-Type': 'application/octet-stream' } });
}

function aclText(acl) {
  return acl.map((a) => a.scheme + ':' + a.id + ':' + a.perms).join(',');
}

function setupNodeActions() {
  $('create-child').addEventListener('click', async () => {
    const name = prompt('Name of the new child of ' + state.selected);
    if (!name) return;
    const data = prompt('Data (text)', '') || '';
    const mode = prompt('Mode: persistent, persistent_sequential, ephemeral, ephemeral_sequential, container', 'persistent');
    const res = await createNode(join(state.selected, name), new TextEncoder().encode(data), mode);
    status(res.ok ? 'created ' + res.data.path : errorText(res));
    if (res.ok) refreshChildren(state.selected);
  });
  $('delete').addEventListener('click', async () => {
    const path = state.selected;
    if (!state.node || !confirm('Delete ' + path + ' (version ' + state.node.stat.version + ')?')) return;
    const res = await api('DELETE', znodeUrl(path), { headers: { 'If-Match': '"' + state.node.stat.version + '"' } });
    status(res.ok ? 'deleted ' + path : errorText(res));
    if (res.ok) refreshChildren(parentOf(path));
  });
  $('rename').addEventListener('click', async () => {
    const n = state.node;
    if (!n) return;
    if (n.stat.numChildren > 0) { status('Only a node without children can be renamed (copy, then delete).'); return; }
    const to = prompt('New path for ' + state.selected, state.selected);
    if (!to || to === state.selected) return;
    const ops = [
      { op: 'create', path: to, data_base64: n.data_base64 || '', acl: state.acl },
      { op: 'delete', path: state.selected, version: n.stat.version },
    ];
    const res = await api('POST', '/api/v1/multi', { json: ops });
    status(res.ok ? 'renamed to ' + to : errorText(res));
    if (res.ok) { refreshChildren(parentOf(state.selected)); refreshChildren(parentOf(to)); openNode(to); }
  });
  $('export').addEventListener('click', exportSubtree);
  $('history-load').addEventListener('click', loadHistory);
  $('import').addEventListener('change', importSubtree);
}

const EXPORT_LIMIT = 10000;

async function exportSubtree() {
  const root = state.selected;
  const nodes = [];
  const queue = [root];
  while (queue.length && nodes.length < EXPORT_LIMIT) {
    const path = queue.shift();
    const [res, acl] = await Promise.all([api('GET', znodeUrl(path, 'children&limit=100000')), api('GET', aclUrl(path))]);
    if (!res.ok) { status('export stopped at ' + path + ': ' + errorText(res)); return; }
    if (res.data.stat.ephemeralOwner === 0 || path === root) {
      nodes.push({ path, data_base64: res.data.data_base64, acl: acl.ok ? acl.data.acl : [] });
    }
    for (const c of res.data.children) if (!(path === '/' && c === 'zookeeper')) queue.push(join(path, c));
  }
  const blob = new Blob([JSON.stringify({ root, nodes }, null, 1)], { type: 'application/json' });
  const a = el('a', { href: URL.createObjectURL(blob), download: (root === '/' ? 'root' : root.slice(1).replaceAll('/', '_')) + '.json' });
  document.body.append(a);
  a.click();
  a.remove();
  status('exported ' + nodes.length + ' nodes' + (nodes.length >= EXPORT_LIMIT ? ' (limit reached)' : ''));
}

async function importSubtree(ev) {
  const file = ev.target.files[0];
  ev.target.value = '';
  if (!file) return;
  let doc;
  try { doc = JSON.parse(await file.text()); } catch (e) { status('not a JSON export: ' + e.message); return; }
  const target = state.selected;
  let done = 0;
  for (const n of doc.nodes || []) {
    const rel = n.path === doc.root ? '' : n.path.slice(doc.root === '/' ? 0 : doc.root.length);
    const path = rel === '' ? target : (target === '/' ? rel : target + rel);
    if (path === '/') continue;
    const bytes = fromBase64(n.data_base64) || new Uint8Array();
    let res = await createNode(path, bytes, 'persistent', aclText(n.acl || []) || null);
    if (res.status === 409) res = await api('PUT', znodeUrl(path), { body: bytes });
    if (!res.ok) { status('import stopped at ' + path + ': ' + errorText(res)); return; }
    done++;
  }
  status('imported ' + done + ' nodes under ' + target);
  refreshChildren(target);
}

// ---- ACL -----------------------------------------------------------------------------------

const SCHEMES = {
  world: 'world:anyone — every client.',
  digest: 'digest:user:base64(sha1(user:password)) — clients that ran addauth digest user:password (or logged in here).',
  ip: 'ip:address or ip:address/bits — clients connecting from that address (the TCP peer, never X-Forwarded-For).',
  x509: 'x509:subject — clients with a verified TLS certificate with that subject (CN=…,O=…).',
  sasl: 'sasl:user — clients authenticated with SASL DIGEST-MD5 as that user.',
  auth: 'auth: — the creator’s own identities (digest, sasl, x509) at the time of setting.',
};

async function loadAcl() {
  const res = await api('GET', aclUrl(state.selected));
  state.acl = res.ok ? res.data.acl : [];
  state.aversion = res.ok ? res.data.stat.aversion : -1;
  renderAcl(res.ok ? null : errorText(res));
}

function renderAcl(error) {
  const body = $('acl').querySelector('tbody');
  body.replaceChildren();
  if (error) { body.append(el('tr', {}, el('td', { class: 'error', colspan: '4', text: error }))); return; }
  state.acl.forEach((a, i) => body.append(el('tr', {},
    el('td', { text: a.scheme, title: SCHEMES[a.scheme] || '' }), el('td', { text: a.id }), el('td', { text: a.perms }),
    el('td', {}, el('button', { text: 'remove', onclick: () => { state.acl.splice(i, 1); renderAcl(); } })))));
}

function setupAcl() {
  const help = () => { $('acl-help').textContent = SCHEMES[$('acl-scheme').value] + ' Permissions: c create, d delete, r read, w write, a admin.'; };
  $('acl-scheme').addEventListener('change', help);
  help();
  $('acl-add').addEventListener('submit', (e) => {
    e.preventDefault();
    state.acl.push({ scheme: $('acl-scheme').value, id: $('acl-id').value || ($('acl-scheme').value === 'world' ? 'anyone' : ''), perms: $('acl-perms').value || 'r' });
    renderAcl();
  });
  $('acl-save').addEventListener('click', async () => {
    const res = await api('PUT', aclUrl(state.selected), { json: state.acl, headers: { 'If-Match': '"' + state.aversion + '"' } });
    status(res.ok ? 'ACL saved (aversion ' + res.data.stat.aversion + ')' : 'ACL not saved: ' + errorText(res));
    loadAcl();
  });
}

// ---- History from the transaction log -----------------------------------------------------

function preview(bytes) {
  if (bytes == null) return '(null)';
  let text;
  try { text = new TextDecoder('utf-8', { fatal: true }).decode(bytes); } catch (e) { return '(' + bytes.length + ' bytes, binary)'; }
  return text.length > 80 ? text.slice(0, 80) + '…' : text;
}

async function loadHistory() {
  const path = state.selected;
  const res = await api('GET', '/api/v1/history' + encodePath(path) + '?limit=50');
  const table = $('history');
  const body = table.querySelector('tbody');
  body.replaceChildren();
  table.hidden = false;
  if (!res.ok) { body.append(el('tr', {}, el('td', { colspan: '6', class: 'error', text: errorText(res) }))); return; }
  if (!res.data.changes.length) body.append(el('tr', {}, el('td', { colspan: '6', class: 'hint', text: 'no change in the newest log files' })));
  for (const c of res.data.changes) {
    const bytes = fromBase64(c.data_base64);
    const restore = c.type === 'delete' || c.type === 'setACL' ? null : el('button', {
      text: 'restore', title: 'set the data back to this value (if the node is still at the version shown)',
      onclick: () => restoreData(path, bytes, c.zxid),
    });
    body.append(el('tr', {}, el('td', { text: '0x' + c.zxid.toString(16) }), el('td', { text: new Date(c.time).toISOString() }),
      el('td', { text: c.type }), el('td', { text: c.session }), el('td', { text: preview(bytes) }), el('td', {}, restore)));
  }
}

async function restoreData(path, bytes, zxid) {
  if (path !== state.selected || !state.node) return;
  const res = await api('PUT', znodeUrl(path), {
    body: bytes || new Uint8Array(),
    headers: { 'If-Match': '"' + state.node.stat.version + '"', 'Content-Type': 'application/octet-stream' },
  });
  status(res.ok ? 'restored the data of zxid 0x' + zxid.toString(16) + ': version ' + res.data.stat.version : 'not restored: ' + errorText(res));
  await loadNode();
  loadHistory();
}

async function showChanges() {
  const res = await api('GET', '/api/v1/history?limit=200');
  const body = $('changes').querySelector('tbody');
  body.replaceChildren();
  if (!res.ok) { body.append(el('tr', {}, el('td', { colspan: '5', class: 'error', text: errorText(res) }))); return; }
  for (const c of res.data.changes) {
    const link = el('a', { href: '#' + c.path, text: c.path, onclick: (e) => { e.preventDefault(); showView('tree'); openNode(c.path); } });
    body.append(el('tr', {}, el('td', { text: '0x' + c.zxid.toString(16) }), el('td', { text: new Date(c.time).toISOString() }),
      el('td', { text: c.type }), el('td', {}, link), el('td', { text: c.session })));
  }
}

// ---- Live updates: a persistent watch streamed as Server-Sent Events -----------------------

function stopStream() {
  if (state.stream) state.stream.abort();
  state.stream = null;
  document.body.dataset.watch = 'off';
}

async function startStream(path) {
  const ctl = new AbortController();
  state.stream = ctl;
  const headers = { Accept: 'text/event-stream' };
  if (state.auth) headers['Authorization'] = 'digest ' + state.auth;
  let r;
  try {
    r = await fetch(znodeUrl(path, 'watch'), { headers, signal: ctl.signal });
  } catch (e) { return; }
  if (!r.ok || !r.body) return;
  const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  for (;;) {
    let chunk;
    try { chunk = await reader.read(); } catch (e) { return; }
    if (chunk.done || state.stream !== ctl) return;
    buf += chunk.value;
    let end;
    while ((end = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, end);
      buf = buf.slice(end + 2);
      const type = (block.match(/^event: (.*)$/m) || [])[1];
      const data = (block.match(/^data: (.*)$/m) || [])[1];
      if (type) onEvent(path, type, data ? JSON.parse(data) : {});
    }
  }
}

function onEvent(path, type, ev) {
  if (path !== state.selected) return;
  if (type === 'ready') { document.body.dataset.watch = 'ready'; return; }
  status(type + (ev.zxid ? ' at zxid 0x' + ev.zxid.toString(16) : ''));
  if (type === 'NodeChildrenChanged' || type === 'NodeCreated' || type === 'NodeDeleted') refreshChildren(path);
  if (type === 'NodeDeleted') refreshChildren(parentOf(path));
  if (!state.editing) loadNode();
}

// ---- Server views --------------------------------------------------------------------------

async function showSessions() {
  const res = await api('GET', '/api/v1/server/sessions');
  const body = $('sessions').querySelector('tbody');
  body.replaceChildren();
  if (!res.ok) { body.append(el('tr', {}, el('td', { colspan: '7', class: 'error', text: errorText(res) }))); return; }
  for (const s of res.data.sessions) {
    body.append(el('tr', {}, el('td', { text: s.session_id }), el('td', { text: s.client }),
      el('td', { text: s.timeout_ms + ' ms' }),
      el('td', { text: s.last_response_ms ? new Date(s.last_response_ms).toISOString() : '-' }),
      el('td', { text: String(s.requests) }), el('td', { text: s.ephemerals.join('\n') }),
      el('td', { text: s.watches.join('\n') })));
  }
}

async function showWatches() {
  const res = await api('GET', '/commands/watches_by_path');
  const body = $('watches').querySelector('tbody');
  body.replaceChildren();
  const map = res.ok ? res.data.path_to_session_ids || {} : {};
  for (const [p, ids] of Object.entries(map)) {
    body.append(el('tr', {}, el('td', { text: p }), el('td', { text: ids.map((i) => '0x' + BigInt(i).toString(16)).join(' ') })));
  }
  if (!Object.keys(map).length) body.append(el('tr', {}, el('td', { colspan: '2', class: 'hint', text: res.ok ? 'no data watches' : errorText(res) })));
}

async function showLargest() {
  const res = await api('GET', '/api/v1/server/largest?limit=50');
  const body = $('largest').querySelector('tbody');
  body.replaceChildren();
  if (!res.ok) return;
  const max = res.data.jute_maxbuffer;
  $('maxbuffer').textContent = 'jute.maxbuffer = ' + max + ' bytes: a znode (with its request) must fit in it.';
  for (const n of res.data.nodes) {
    const share = n.bytes / max;
    const bar = el('div', { class: 'bar' + (share > 0.5 ? ' warn' : '') }, el('span'));
    bar.firstChild.style.width = Math.min(100, share * 100).toFixed(1) + '%';
    body.append(el('tr', {}, el('td', { text: n.path }), el('td', { text: String(n.bytes) }),
      el('td', {}, bar, el('span', { class: 'hint', text: (share * 100).toFixed(2) + ' %' }))));
  }
}

async function showEnsemble() {
  const [mon, votes] = await Promise.all([api('GET', '/commands/monitor'), api('GET', '/commands/voting_view')]);
  const t = $('ensemble');
  t.replaceChildren();
  if (!mon.ok) { t.append(el('tr', {}, el('td', { class: 'error', text: errorText(mon) }))); return; }
  const m = mon.data;
  const rows = [['state', m.server_state], ['version', m.version], ['znodes', m.znode_count],
    ['sessions', m.global_sessions], ['connections', m.num_alive_connections]];
  // Keys a replicated server reports in mntr (leader: followers, synced followers, pending syncs).
  for (const k of ['learners', 'synced_followers', 'synced_non_voting_followers', 'synced_observers', 'pending_syncs', 'last_proposal_size', 'peer_state', 'quorum_size']) {
    if (m[k] !== undefined) rows.push([k, m[k]]);
  }
  for (const [k, v] of rows) t.append(el('tr', {}, el('td', { text: k }), el('td', { text: String(v) })));
  const members = votes.ok && votes.data.current_config ? Object.entries(votes.data.current_config) : [];
  $('members').hidden = members.length === 0;
  const body = $('members').querySelector('tbody');
  body.replaceChildren();
  for (const [id, info] of members) body.append(el('tr', {}, el('td', { text: id }), el('td', { text: JSON.stringify(info) }), el('td', { text: info.role || '' })));
  $('ensemble-note').textContent = m.server_state === 'standalone'
    ? 'This server runs standalone: there is no ensemble to show. Members, roles, zxids and lag appear here when the server is part of an ensemble.'
    : '';
}

// ---- Charts --------------------------------------------------------------------------------

const chart = { points: [], last: null };

function parseProm(text) {
  const out = {};
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out[line.slice(0, i)] = Number(line.slice(i + 1));
  }
  return out;
}

function quantile(now, before, name, q) {
  const bounds = Object.keys(now).filter((k) => k.startsWith(name + '_bucket{le="')).map((k) => k.slice(name.length + 12, -2));
  const total = (now[name + '_count'] || 0) - ((before && before[name + '_count']) || 0);
  if (total <= 0) return 0;
  for (const b of bounds) {
    const key = name + '_bucket{le="' + b + '"}';
    const n = now[key] - ((before && before[key]) || 0);
    if (n >= q * total) return b === '+Inf' ? NaN : Number(b) * 1000;
  }
  return NaN;
}

async function sampleCharts() {
  const [mon, prom] = await Promise.all([api('GET', '/commands/monitor'), api('GET', '/metrics')]);
  if (!mon.ok || !prom.ok) return;
  const now = { t: Date.now(), m: mon.data, p: parseProm(prom.data) };
  const last = chart.last;
  chart.last = now;
  if (!last) return;
  const dt = (now.t - last.t) / 1000;
  const fsyncs = now.p.fsynctime_count - last.p.fsynctime_count;
  chart.points.push({
    rate: (now.m.packets_received - last.m.packets_received) / dt,
    p50: quantile(now.p, last.p, 'menagerie_read_latency_seconds', 0.5),
    p99: quantile(now.p, last.p, 'menagerie_read_latency_seconds', 0.99),
    fsync: fsyncs > 0 ? (now.p.fsynctime_sum - last.p.fsynctime_sum) / fsyncs : 0,
    outstanding: now.m.outstanding_requests,
  });
  if (chart.points.length > 90) chart.points.shift();
  draw($('chart-rate'), [['rate', '#2f6fd0']]);
  draw($('chart-latency'), [['p50', '#2f6fd0'], ['p99', '#b42318']]);
  draw($('chart-fsync'), [['fsync', '#7a4cc2']]);
  draw($('chart-outstanding'), [['outstanding', '#0d8a5f']]);
}

function draw(canvas, series) {
  canvas.width = canvas.clientWidth || canvas.width;
  const g = canvas.getContext('2d');
  const w = canvas.width, h = canvas.height, left = 48, top = 16, bottom = 8;
  g.clearRect(0, 0, w, h);
  const values = series.flatMap(([k]) => chart.points.map((p) => p[k]).filter((v) => Number.isFinite(v)));
  const max = Math.max(1, ...values) * 1.1;
  const n = Math.max(chart.points.length - 1, 1);
  g.font = '11px sans-serif';
  for (let i = 0; i <= 4; i++) {
    const y = top + (h - top - bottom) * i / 4;
    g.strokeStyle = '#d9dee7';
    g.beginPath(); g.moveTo(left, y); g.lineTo(w, y); g.stroke();
    g.fillStyle = '#667085';
    g.fillText((max * (1 - i / 4)).toPrecision(2), 2, y + 4);
  }
  series.forEach(([k, color], s) => {
    g.strokeStyle = color;
    g.lineWidth = 2;
    g.beginPath();
    chart.points.forEach((p, i) => {
      const x = left + (w - left) * i / n;
      const y = top + (h - top - bottom) * (1 - (Number.isFinite(p[k]) ? p[k] : 0) / max);
      if (i === 0) g.moveTo(x, y); else g.lineTo(x, y);
    });
    g.stroke();
    g.fillStyle = color;
    g.fillText(k, w - 70 + s * 32, 11);
  });
}

// ---- Views ---------------------------------------------------------------------------------

function showView(name) {
  state.timers.forEach(clearInterval);
  state.timers = [];
  document.querySelectorAll('#nav button').forEach((b) => b.classList.toggle('active', b.dataset.view === name));
  document.querySelectorAll('.view').forEach((v) => { v.hidden = v.id !== 'view-' + name; });
  const every = (f, ms) => { f(); state.timers.push(setInterval(f, ms)); };
  if (name === 'sessions') every(showSessions, 5000);
  if (name === 'watches') every(showWatches, 5000);
  if (name === 'largest') showLargest();
  if (name === 'changes') every(showChanges, 5000);
  if (name === 'ensemble') every(showEnsemble, 5000);
  if (name === 'charts') every(sampleCharts, 2000);
  location.hash = name === 'tree' ? (state.selected || '') : '!' + name;
}

function setup() {
  setupLogin();
  setupDataTabs();
  setupEditing();
  setupNodeActions();
  setupAcl();
  document.querySelectorAll('#nav button').forEach((b) => b.addEventListener('click', () => showView(b.dataset.view)));
  $('goto-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const p = $('goto').value.trim();
    if (p.startsWith('/')) openNode(p);
  });
  showIdentity();
  resetTree();
  const hash = decodeURIComponent(location.hash.slice(1));
  if (hash.startsWith('!')) showView(hash.slice(1));
  else if (hash.startsWith('/')) openNode(hash);
  document.body.dataset.ready = 'yes';
}

document.addEventListener('DOMContentLoaded', setup);
