// The sandbox page: plays the Slack client. It talks only to the sandbox server (same origin), which signs and
// forwards what the page does to ward as Slack would; the page never sees a secret.
import { renderBlocks, textObject } from './blocks.js';
import { renderMrkdwn } from './mrkdwn.js';

const $ = (sel) => document.querySelector(sel);
const state = {
  me: localStorage.getItem('ward-sandbox-user') ?? '',
  data: null,
  /** The channel id on screen, or 'dm' (kept across reloads, like the user). */
  view: localStorage.getItem('ward-sandbox-view') ?? '',
  /** Channel ids with messages not seen yet. */
  unread: new Set(),
  /** ts → message as last received */
  messages: new Map(),
  stream: null,
  history: [],
  historyIndex: -1,
  openViewId: null,
  returnFocus: null,
  mfa: [],
  mfaFetchedAt: 0,
};

// ---- server calls ---------------------------------------------------------------------------------------------

// The per-run token `npm run sandbox` printed in the page's address: the sandbox's API answers nobody without it
// (other users of this machine reach 127.0.0.1 too). Sent as a header, or in the query where a header cannot go.
const TOKEN = new URLSearchParams(location.search).get('token') ?? '';
const withToken = (path) => `${path}${path.includes('?') ? '&' : '?'}token=${encodeURIComponent(TOKEN)}`;
const get = (path) => fetch(path, { headers: { 'x-ward-sandbox-token': TOKEN } });

async function post(path, body) {
  const res = await fetch(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-ward-sandbox': '1', 'x-ward-sandbox-token': TOKEN },
    body: JSON.stringify(body),
  });
  const json = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(json.error ?? `HTTP ${res.status}`);
  return json;
}

async function load() {
  const user = state.me || 'U0DEMORESP';
  // fresh=1: a page (re)load is a new Slack client, where no modal from before is open.
  const res = await get(`/api/state?user=${encodeURIComponent(user)}&fresh=1`);
  if (res.status === 401) {
    throw new Error(
      'Open the address `npm run sandbox` printed (with its ?token=…): the sandbox answers nothing without it.',
    );
  }
  if (!res.ok) {
    if (state.me) {
      state.me = '';
      return load();
    }
    throw new Error(`cannot load the sandbox state (HTTP ${res.status})`);
  }
  state.data = await res.json();
  state.me = state.data.me;
  state.messages = new Map(state.data.messages.map((m) => [m.ts, m]));
  state.mfa = state.data.mfa;
  state.mfaFetchedAt = Date.now();
  if (state.view !== 'dm' && !state.data.channels.some((c) => c.id === state.view)) {
    state.view = state.data.channel.id;
  }
  renderChrome();
  renderChannels();
  renderAll();
  renderMfa();
  connect();
}

function connect() {
  state.stream?.close();
  const stream = new EventSource(withToken(`/api/events?user=${encodeURIComponent(state.me)}`));
  state.stream = stream;
  stream.addEventListener('message', (e) => upsert(JSON.parse(e.data)));
  stream.addEventListener('view', (e) => openModal(JSON.parse(e.data)));
  stream.addEventListener('resync', () => resync());
  // EventSource reconnects by itself; what happened while it was away is fetched once it is back.
  let opened = false;
  stream.addEventListener('open', () => {
    if (opened) resync();
    opened = true;
  });
}

async function resync() {
  const res = await get(`/api/state?user=${encodeURIComponent(state.me)}`);
  if (!res.ok) return;
  const data = await res.json();
  const known = new Set(state.data.channels.map((c) => c.id));
  for (const c of data.channels) if (!known.has(c.id)) state.unread.add(c.id);
  state.data.channels = data.channels;
  // The snapshot may be older than messages that arrived over the stream meanwhile: keep those (a later ts).
  const latest = data.messages.reduce((max, m) => Math.max(max, Number(m.ts)), 0);
  const newer = [...state.messages.values()].filter((m) => Number(m.ts) > latest);
  state.messages = new Map([...data.messages, ...newer].map((m) => [m.ts, m]));
  if (state.view !== 'dm' && !data.channels.some((c) => c.id === state.view)) state.view = data.channel.id;
  renderChannels();
  renderAll();
}

// ---- names ----------------------------------------------------------------------------------------------------

function nameOf(id) {
  if (id === state.data?.bot.id) return 'ward';
  return state.data?.users.find((u) => u.id === id)?.name;
}
function channelName(id) {
  return state.data?.channels.find((c) => c.id === id)?.name;
}
function channelOf(id) {
  return state.data?.channels.find((c) => c.id === id);
}
const mrkdwnCtx = { nameOf, channelName };

// ---- chrome: users, alerts, channels --------------------------------------------------------------------------

function renderChrome() {
  const select = $('#user-select');
  select.replaceChildren(
    ...state.data.users.map((u) => {
      const o = document.createElement('option');
      o.value = u.id;
      o.textContent = u.label;
      o.selected = u.id === state.me;
      return o;
    }),
  );
  $('#dry-run-banner').hidden = !state.data.dryRun;
  const menu = $('#alert-menu');
  menu.replaceChildren(
    ...state.data.samples.map((s) => {
      const b = document.createElement('button');
      b.type = 'button';
      b.setAttribute('role', 'menuitem');
      b.dataset.sample = s.id;
      const note = document.createElement('span');
      note.className = 'note';
      note.textContent = s.note;
      b.append(s.label, note);
      b.addEventListener('click', () => sendAlert(s));
      return b;
    }),
  );
}

$('#user-select').addEventListener('change', (e) => {
  state.me = e.target.value;
  localStorage.setItem('ward-sandbox-user', state.me);
  closeModal(false);
  load().then(() => setStatus(`Now acting as ${labelOf(state.me)}.`));
});

function labelOf(id) {
  return state.data?.users.find((u) => u.id === id)?.label ?? id;
}

const menuButton = $('#alert-menu-button');
menuButton.addEventListener('click', () => toggleMenu());
function toggleMenu(open = $('#alert-menu').hidden) {
  $('#alert-menu').hidden = !open;
  menuButton.setAttribute('aria-expanded', String(open));
  if (open) $('#alert-menu button')?.focus();
}
$('#alert-menu').addEventListener('keydown', (e) => {
  const items = [...document.querySelectorAll('#alert-menu button')];
  const i = items.indexOf(document.activeElement);
  if (e.key === 'Escape') {
    toggleMenu(false);
    menuButton.focus();
  } else if (e.key === 'ArrowDown') {
    e.preventDefault();
    items[(i + 1) % items.length]?.focus();
  } else if (e.key === 'ArrowUp') {
    e.preventDefault();
    items[(i - 1 + items.length) % items.length]?.focus();
  }
});
document.addEventListener('click', (e) => {
  if (!e.target.closest('.menu-wrap')) toggleMenu(false);
});

async function sendAlert(sample) {
  toggleMenu(false);
  try {
    const r = await post('/api/alert', { sample: sample.id });
    const ok = r.status >= 200 && r.status < 300;
    toast(
      ok
        ? `ward accepted the ${sample.label.split(':')[0]} alert (HTTP ${r.status}).`
        : `ward refused the ${sample.label.split(':')[0]} alert (HTTP ${r.status}): ${r.answer}`,
      !ok,
    );
  } catch (err) {
    toast(`Could not send the alert: ${err.message}`, true);
  }
}

/** The sidebar's channels: #incident, each incident channel the person is in (🔒 private), then ward's DMs. */
function renderChannels() {
  const entries = [
    ...state.data.channels.map((c) => ({
      view: c.id,
      label: `${c.isPrivate ? '🔒' : '#'} ${c.name}`,
      note: c.archived ? 'archived' : '',
      archived: c.archived,
    })),
    { view: 'dm', label: 'ward', note: 'direct messages', archived: false },
  ];
  $('#channel-list').replaceChildren(
    ...entries.map((e) => {
      const li = document.createElement('li');
      const b = document.createElement('button');
      b.type = 'button';
      b.className = `channel-link${e.archived ? ' archived' : ''}`;
      b.dataset.view = e.view;
      b.setAttribute('aria-current', String(e.view === state.view));
      b.append(e.label);
      if (e.note) {
        const note = document.createElement('span');
        note.className = 'muted';
        note.textContent = ` (${e.note})`;
        b.append(note);
      }
      if (state.unread.has(e.view) && e.view !== state.view) {
        const badge = document.createElement('span');
        badge.className = 'unread';
        badge.textContent = 'new';
        b.append(' ', badge);
      }
      b.addEventListener('click', () => showView(e.view));
      li.append(b);
      return li;
    }),
  );
}

function showView(view) {
  state.view = view;
  localStorage.setItem('ward-sandbox-view', view);
  state.unread.delete(view);
  renderChannels();
  renderAll();
}

// ---- messages -------------------------------------------------------------------------------------------------

function currentChannel() {
  return state.view === 'dm' ? state.data.dm : state.view;
}

function renderAll() {
  const channel = channelOf(state.view);
  $('#view-title').textContent =
    state.view === 'dm'
      ? 'ward (direct messages)'
      : `${channel?.isPrivate ? '🔒' : '#'} ${channel?.name ?? state.view}${channel?.archived ? ' (archived)' : ''}`;
  const list = $('#messages');
  const all = [...state.messages.values()].filter((m) => m.channel === currentChannel()).sort(byTs);
  const parents = all.filter((m) => !m.threadTs || m.threadTs === m.ts);
  const nodes = parents.map((m) => renderWithThread(m, all));
  if (nodes.length === 0) {
    const empty = document.createElement('p');
    empty.className = 'empty';
    empty.textContent =
      state.view === 'dm'
        ? 'No direct messages from ward yet.'
        : 'Nothing here yet. Type a command below, e.g. forensics localhost, or send a sample alert.';
    nodes.push(empty);
  }
  list.replaceChildren(...nodes);
  list.scrollTop = list.scrollHeight;
}

function byTs(a, b) {
  return Number(a.ts) - Number(b.ts);
}

function renderWithThread(parent, all) {
  const wrap = document.createElement('div');
  wrap.className = 'thread-wrap';
  wrap.dataset.threadOf = parent.ts;
  wrap.append(renderMessage(parent));
  const replies = all.filter((m) => m.threadTs === parent.ts && m.ts !== parent.ts);
  if (replies.length > 0) {
    const thread = document.createElement('div');
    thread.className = 'thread';
    thread.setAttribute('aria-label', 'Thread replies');
    thread.append(...replies.map(renderMessage));
    wrap.append(thread);
  }
  return wrap;
}

function upsert(message) {
  const isNew = !state.messages.has(message.ts);
  state.messages.set(message.ts, message);
  if (message.channel !== currentChannel()) {
    if (isNew) {
      state.unread.add(message.channel === state.data.dm ? 'dm' : message.channel);
      renderChannels();
    }
    return;
  }
  const existing = document.querySelector(`.msg[data-ts="${CSS.escape(message.ts)}"]`);
  if (existing) {
    // chat.update: the message changes in place, where it is.
    existing.replaceWith(renderMessage(message));
    return;
  }
  const list = $('#messages');
  const nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 120;
  list.querySelector('.empty')?.remove();
  if (message.threadTs && message.threadTs !== message.ts) {
    const wrap = list.querySelector(`.thread-wrap[data-thread-of="${CSS.escape(message.threadTs)}"]`);
    if (wrap) {
      let thread = wrap.querySelector('.thread');
      if (!thread) {
        thread = document.createElement('div');
        thread.className = 'thread';
        thread.setAttribute('aria-label', 'Thread replies');
        wrap.append(thread);
      }
      thread.append(renderMessage(message));
      if (nearBottom) list.scrollTop = list.scrollHeight;
      return;
    }
  }
  const all = [...state.messages.values()].filter((m) => m.channel === message.channel);
  list.append(renderWithThread(message, all));
  if (nearBottom || isNew) list.scrollTop = list.scrollHeight;
}

function renderMessage(m) {
  const article = document.createElement('article');
  article.className = `msg${m.ephemeral ? ' ephemeral' : ''}`;
  article.dataset.ts = m.ts;
  const isBot = m.user === state.data.bot.id;
  const name = nameOf(m.user) ?? m.user;
  const avatar = document.createElement('div');
  avatar.className = `avatar${isBot ? ' bot' : ''}`;
  avatar.setAttribute('aria-hidden', 'true');
  avatar.textContent = name.slice(0, 1).toUpperCase();
  const body = document.createElement('div');
  body.className = 'msg-body';
  const meta = document.createElement('div');
  meta.className = 'meta';
  const author = document.createElement('span');
  author.className = 'author';
  author.textContent = name;
  meta.append(author);
  if (isBot) {
    const badge = document.createElement('span');
    badge.className = 'badge';
    badge.textContent = 'APP';
    meta.append(badge);
  }
  const time = document.createElement('time');
  time.className = 'time';
  const date = new Date(Number(m.ts) * 1000);
  time.dateTime = date.toISOString();
  time.textContent = date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
  meta.append(time);
  if (m.edited) {
    const edited = document.createElement('span');
    edited.className = 'edited';
    edited.textContent = '(edited)';
    meta.append(edited);
  }
  if (m.ephemeral) {
    const only = document.createElement('span');
    only.className = 'only-you';
    only.textContent = 'Only visible to you';
    meta.append(only);
  }
  body.append(meta);
  if (m.blocks.length > 0) {
    body.append(
      renderBlocks(m.blocks, {
        ...mrkdwnCtx,
        onButton: (button, _block, el) => click(m, button, el),
      }),
    );
  } else if (m.text) {
    const text = document.createElement('div');
    text.className = 'msg-text';
    text.append(renderMrkdwn(m.text, mrkdwnCtx));
    body.append(text);
  }
  if (m.files.length > 0) body.append(renderFiles(m.files));
  article.append(avatar, body);
  return article;
}

function renderFiles(files) {
  const box = document.createElement('div');
  box.className = 'files';
  for (const f of files) {
    const row = document.createElement('div');
    row.className = 'file';
    const icon = document.createElement('span');
    icon.className = 'file-icon';
    icon.setAttribute('aria-hidden', 'true');
    icon.textContent = (f.name.match(/\.([a-z0-9]{1,4})$/i)?.[1] ?? 'file').slice(0, 4);
    const info = document.createElement('div');
    const name = document.createElement('div');
    name.className = 'file-name';
    name.textContent = f.title;
    const size = document.createElement('div');
    size.className = 'file-size';
    size.textContent = `${f.name} · ${formatBytes(f.size)}`;
    info.append(name, size);
    const link = document.createElement('a');
    link.className = 'btn btn-default';
    link.href = withToken(f.url);
    link.download = f.name;
    link.textContent = 'Download';
    link.setAttribute('aria-label', `Download ${f.name}`);
    row.append(icon, info, link);
    box.append(row);
  }
  return box;
}

function formatBytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

async function click(message, button, el) {
  if (button.confirm && !(await confirmDialog(button.confirm))) return;
  el.setAttribute('aria-busy', 'true');
  el.disabled = true;
  state.returnFocus = el;
  try {
    await post('/api/action', {
      user: state.me,
      channel: message.channel,
      ts: message.ts,
      actionId: button.action_id,
      value: button.value ?? '',
    });
    setStatus(`${labelOf(state.me)} clicked “${button.text?.text ?? button.action_id}”.`);
  } catch (err) {
    setStatus(`The click did not reach ward: ${err.message}`, true);
  } finally {
    // The message may have been replaced meanwhile (chat.update); if not, the button works again.
    if (el.isConnected) {
      el.disabled = false;
      el.removeAttribute('aria-busy');
    }
  }
}

function confirmDialog(confirm) {
  const dialog = $('#confirm');
  $('#confirm-title').textContent = confirm.title?.text ?? 'Are you sure?';
  $('#confirm-body').replaceChildren(textObject(confirm.text, mrkdwnCtx));
  $('#confirm-ok').textContent = confirm.confirm?.text ?? 'Confirm';
  $('#confirm-deny').textContent = confirm.deny?.text ?? 'Cancel';
  $('#confirm-ok').className = `btn btn-${confirm.style === 'danger' ? 'danger' : 'primary'}`;
  const previous = document.activeElement;
  dialog.showModal();
  $('#confirm-deny').focus();
  return new Promise((resolve) => {
    dialog.addEventListener(
      'close',
      () => {
        previous?.focus?.();
        resolve(dialog.returnValue === 'ok');
      },
      { once: true },
    );
  });
}

// ---- command box ----------------------------------------------------------------------------------------------

$('#command-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const input = $('#command-input');
  const text = input.value.trim().replace(/^\/ward\b\s*/, '');
  if (text === '' && input.value.trim() === '') return;
  state.history.unshift(text);
  state.historyIndex = -1;
  input.value = '';
  setStatus(`Sending /ward ${text} as ${labelOf(state.me)}…`);
  try {
    // In ward's DMs a command goes to #incident, as the sandbox's slash commands always have.
    const channel = state.view === 'dm' ? state.data.channel.id : state.view;
    await post('/api/command', { user: state.me, text, channel });
    setStatus(`Sent /ward ${text} as ${labelOf(state.me)}.`);
  } catch (err) {
    setStatus(`The command did not reach ward: ${err.message}`, true);
  }
});

$('#command-input').addEventListener('keydown', (e) => {
  if (e.key !== 'ArrowUp' && e.key !== 'ArrowDown') return;
  if (state.history.length === 0) return;
  e.preventDefault();
  state.historyIndex =
    e.key === 'ArrowUp'
      ? Math.min(state.historyIndex + 1, state.history.length - 1)
      : Math.max(state.historyIndex - 1, -1);
  e.target.value = state.historyIndex === -1 ? '' : state.history[state.historyIndex];
});

function setStatus(text, isError = false) {
  const el = $('#command-status');
  el.textContent = text;
  el.classList.toggle('error', isError);
}

function toast(text, isError = false) {
  const t = document.createElement('div');
  t.className = `toast${isError ? ' error' : ''}`;
  t.textContent = text;
  $('#toasts').append(t);
  setTimeout(() => t.remove(), 8000);
}

// ---- modals (views.open) --------------------------------------------------------------------------------------

function openModal(view) {
  const dialog = $('#modal');
  const sameView = state.openViewId === view.id && dialog.open;
  state.openViewId = view.id;
  $('#modal-title').textContent = view.title?.text ?? 'ward';
  $('#modal-body').replaceChildren(renderBlocks(view.blocks ?? [], { ...mrkdwnCtx }));
  $('#modal-error').textContent = '';
  $('#modal-submit').textContent = view.submit?.text ?? 'Submit';
  $('#modal-submit').hidden = !view.submit;
  $('#modal-close').textContent = view.close?.text ?? 'Cancel';
  if (!sameView) {
    if (!state.returnFocus) state.returnFocus = document.activeElement;
    dialog.showModal();
  }
  // A view without inputs (the exact plan) opens at its top, focus on Close: focusing a button at the bottom would
  // scroll the plan's hash out of sight.
  const first =
    dialog.querySelector('#modal-body input, #modal-body textarea') ??
    (view.submit ? $('#modal-submit') : $('#modal-close'));
  first.focus({ preventScroll: !view.submit });
  if (!view.submit) $('#modal-body').scrollTop = 0;
}

function closeModal(notify = true) {
  const dialog = $('#modal');
  const viewId = state.openViewId;
  state.openViewId = null;
  if (dialog.open) dialog.close();
  if (notify && viewId) post('/api/view-close', { user: state.me, viewId }).catch(() => {});
  const back = state.returnFocus;
  state.returnFocus = null;
  if (back?.isConnected) back.focus();
  else $('#command-input').focus();
}

$('#modal-close').addEventListener('click', () => closeModal());
// An error is about what was submitted: editing the field clears it, as in Slack.
$('#modal-body').addEventListener('input', (e) => {
  if (!e.target.dataset?.blockId) return;
  e.target.removeAttribute('aria-invalid');
  const err = document.getElementById(`${e.target.id}-error`);
  if (err) err.textContent = '';
});
$('#modal').addEventListener('cancel', (e) => {
  e.preventDefault();
  closeModal();
});

$('#modal-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const viewId = state.openViewId;
  if (!viewId) return;
  const values = {};
  for (const input of document.querySelectorAll('#modal-body [data-block-id]')) {
    values[input.dataset.blockId] ??= {};
    values[input.dataset.blockId][input.dataset.actionId] = input.value;
    input.removeAttribute('aria-invalid');
    const err = document.getElementById(`${input.id}-error`);
    if (err) err.textContent = '';
  }
  $('#modal-error').textContent = '';
  const submit = $('#modal-submit');
  submit.disabled = true;
  try {
    const r = await post('/api/view', { user: state.me, viewId, values });
    if (r.errors) {
      // response_action: errors — shown under the inputs they name, as Slack does.
      let firstInvalid = null;
      for (const [blockId, message] of Object.entries(r.errors)) {
        const input = document.querySelector(`#modal-body [data-block-id="${CSS.escape(blockId)}"]`);
        if (input) {
          input.setAttribute('aria-invalid', 'true');
          document.getElementById(`${input.id}-error`).textContent = message;
          firstInvalid ??= input;
        } else {
          $('#modal-error').textContent = message;
        }
      }
      (firstInvalid ?? submit).focus();
      firstInvalid?.select?.();
      return;
    }
    if (state.openViewId === viewId) closeModal(false);
    setStatus('Submitted.');
  } catch (err) {
    $('#modal-error').textContent = `The submission did not reach ward: ${err.message}`;
  } finally {
    submit.disabled = false;
  }
});

// ---- demo MFA codes -------------------------------------------------------------------------------------------

function renderMfa() {
  const list = $('#mfa-codes');
  if (!state.mfa || state.mfa.length === 0) {
    const li = document.createElement('li');
    li.className = 'muted small';
    li.textContent = 'No demo MFA enrolments in this build of ward.';
    list.replaceChildren(li);
    return;
  }
  const elapsed = (Date.now() - state.mfaFetchedAt) / 1000;
  list.replaceChildren(
    ...state.mfa.map((m) => {
      const li = document.createElement('li');
      li.dataset.user = m.user;
      const who = document.createElement('span');
      who.textContent = labelOf(m.user);
      if (m.reset) {
        // The reset took the demo secret away: no code to show; a new enrolment's QR code goes to their DMs.
        li.dataset.reset = 'true';
        const note = document.createElement('span');
        note.className = 'mfa-note';
        note.textContent =
          'MFA reset: no demo code. /ward mfa enroll starts again (its QR code arrives by DM).';
        li.append(who, note);
        return li;
      }
      const code = document.createElement('span');
      code.className = `mfa-code${m.used ? ' used' : ''}`;
      code.textContent = `${m.code.slice(0, 3)} ${m.code.slice(3)}`;
      code.dataset.code = m.code;
      if (m.used) {
        code.dataset.used = 'true';
        code.title = 'Used: ward takes each code once. Wait for the next one.';
      }
      const left = document.createElement('div');
      left.className = 'mfa-left';
      const bar = document.createElement('span');
      bar.style.width = `${Math.max(0, (m.validForSeconds - elapsed) / 30) * 100}%`;
      left.append(bar);
      left.title = `${Math.max(0, Math.round(m.validForSeconds - elapsed))} s left`;
      li.append(who, code, left);
      if (m.used) {
        const note = document.createElement('span');
        note.className = 'mfa-note';
        note.textContent = 'used: wait for the next code';
        li.append(note);
      }
      return li;
    }),
  );
}

/** Refetched every 2 s (and when a code runs out): a code ward took, or an MFA reset, shows within moments. */
async function tickMfa() {
  const codes = (state.mfa ?? []).filter((m) => !m.reset);
  const soonest = Math.min(...codes.map((m) => m.validForSeconds));
  const age = (Date.now() - state.mfaFetchedAt) / 1000;
  if (state.data && (age >= 2 || age >= soonest)) {
    const res = await get('/api/mfa').catch(() => null);
    if (res?.ok) {
      state.mfa = await res.json();
      state.mfaFetchedAt = Date.now();
    }
  }
  renderMfa();
}
setInterval(() => {
  tickMfa().catch(() => {});
}, 1000);

load()
  .then(() => $('#command-input').focus())
  .catch((err) => setStatus(err.message, true));
