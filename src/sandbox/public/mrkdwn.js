// Slack mrkdwn → DOM nodes. Every piece of text becomes a text node: nothing ward (or an alert, or a user) wrote
// is ever parsed as HTML. Slack escapes only &, < and > in message text; they are decoded here for display.

const ENTITIES = { '&lt;': '<', '&gt;': '>', '&amp;': '&' };

export function decodeEntities(text) {
  return text.replace(/&(?:lt|gt|amp);/g, (m) => ENTITIES[m]);
}

// The shortcodes ward and common alert texts use; an unknown one stays as typed, as in Slack without that emoji.
const EMOJI = {
  warning: '⚠️',
  rotating_light: '🚨',
  white_check_mark: '✅',
  heavy_check_mark: '✔️',
  lock: '🔒',
  unlock: '🔓',
  x: '❌',
  mag: '🔍',
  information_source: 'ℹ️',
  hourglass: '⌛',
  hourglass_flowing_sand: '⏳',
  gear: '⚙️',
  closed_lock_with_key: '🔐',
  red_circle: '🔴',
  large_green_circle: '🟢',
  large_yellow_circle: '🟡',
  no_entry_sign: '🚫',
  no_entry: '⛔',
  leftwards_arrow_with_hook: '↩️',
  double_vertical_bar: '⏸️',
  cyclone: '🌀',
  black_square_button: '🔲',
  fire: '🔥',
  key: '🔑',
  bell: '🔔',
  eyes: '👀',
  shield: '🛡️',
  stop_sign: '🛑',
  arrows_counterclockwise: '🔄',
  hammer_and_wrench: '🛠️',
  page_facing_up: '📄',
  inbox_tray: '📥',
  white_circle: '⚪',
  grey_question: '❔',
  grey_exclamation: '❕',
  mag_right: '🔎',
  package: '📦',
  stopwatch: '⏱️',
  broom: '🧹',
  memo: '📝',
  loudspeaker: '📢',
};

function replaceEmoji(text) {
  return text.replace(/:([a-z0-9_+-]+):/g, (m, name) => EMOJI[name] ?? m);
}

const SAFE_URL = /^(?:https?:|mailto:)/i;

export function isSafeUrl(url) {
  return SAFE_URL.test(url);
}

/**
 * @param {string} text Slack mrkdwn
 * @param {{ nameOf?: (id: string) => string | undefined, channelName?: (id: string) => string | undefined }} ctx
 * @returns {DocumentFragment}
 */
export function renderMrkdwn(text, ctx = {}) {
  const frag = document.createDocumentFragment();
  const parts = String(text ?? '').split(/```/);
  parts.forEach((part, i) => {
    if (i % 2 === 1 && i < parts.length - 1) {
      const pre = document.createElement('pre');
      const code = document.createElement('code');
      code.textContent = decodeEntities(part.replace(/^\n/, ''));
      pre.append(code);
      frag.append(pre);
    } else {
      renderSpans(i % 2 === 1 ? `\`\`\`${part}` : part, ctx, frag);
    }
  });
  return frag;
}

/**
 * Inline code: backticks pair up in order, as in Slack, and a pair may span lines (ward quotes multi-line
 * commands that way). Taken out before lines and other markup are looked at, so nothing inside code is styled.
 */
function renderSpans(text, ctx, parent) {
  const pieces = text.split('`');
  pieces.forEach((piece, i) => {
    const isCode = i % 2 === 1 && i < pieces.length - 1 && piece !== '';
    if (isCode) {
      const code = document.createElement('code');
      if (piece.includes('\n')) code.className = 'multiline';
      code.textContent = decodeEntities(piece);
      parent.append(code);
    } else {
      // An empty pair (``) or a lone backtick at the end is text, as typed.
      const textPiece = i % 2 === 1 ? `\`${piece}${i < pieces.length - 1 ? '`' : ''}` : piece;
      renderLines(textPiece, ctx, parent);
    }
  });
}

function renderLines(text, ctx, parent) {
  const lines = text.split('\n');
  let quote = null;
  lines.forEach((line, i) => {
    const isQuote = line.startsWith('&gt; ') || line === '&gt;';
    if (isQuote) {
      if (!quote) {
        quote = document.createElement('blockquote');
        parent.append(quote);
      } else {
        quote.append(document.createElement('br'));
      }
      renderInline(line.replace(/^&gt; ?/, ''), ctx, quote);
      return;
    }
    quote = null;
    if (i > 0 && !(lines[i - 1].startsWith('&gt; ') || lines[i - 1] === '&gt;')) {
      parent.append(document.createElement('br'));
    }
    renderInline(line, ctx, parent);
  });
}

// One alternative per construct; the first that matches at a position wins.
const INLINE =
  /`([^`\n]+)`|<([^<>\n]+)>|(?<![\w*])\*(?!\s)([^*\n]+?)\*(?![\w*])|(?<![\w_])_(?!\s)([^_\n]+?)_(?![\w_])|(?<![\w~])~(?!\s)([^~\n]+?)~(?![\w~])/g;

function renderInline(text, ctx, parent) {
  let last = 0;
  for (const m of text.matchAll(INLINE)) {
    if (m.index > last) parent.append(replaceEmoji(decodeEntities(text.slice(last, m.index))));
    if (m[1] !== undefined) {
      const code = document.createElement('code');
      code.textContent = decodeEntities(m[1]);
      parent.append(code);
    } else if (m[2] !== undefined) {
      parent.append(renderAngle(m[2], ctx));
    } else {
      const tag = m[3] !== undefined ? 'strong' : m[4] !== undefined ? 'em' : 's';
      const el = document.createElement(tag);
      renderInline(m[3] ?? m[4] ?? m[5], ctx, el);
      parent.append(el);
    }
    last = m.index + m[0].length;
  }
  if (last < text.length) parent.append(replaceEmoji(decodeEntities(text.slice(last))));
}

/** `<@U123>`, `<#C123|name>`, `<!here>`, `<!subteam^S1|@oncall>`, `<https://x|label>`. */
function renderAngle(inner, ctx) {
  const [target, ...rest] = inner.split('|');
  const label = rest.length > 0 ? decodeEntities(rest.join('|')) : undefined;
  const mention = (text) => {
    const span = document.createElement('span');
    span.className = 'mention';
    span.textContent = text;
    return span;
  };
  if (target.startsWith('@')) {
    const id = target.slice(1);
    return mention(`@${ctx.nameOf?.(id) ?? label ?? id}`);
  }
  if (target.startsWith('#')) {
    const id = target.slice(1);
    return mention(`#${label ?? ctx.channelName?.(id) ?? id}`);
  }
  if (target.startsWith('!')) {
    const special = target.slice(1);
    if (special.startsWith('subteam^')) return mention(label ?? `@${special.slice(8)}`);
    if (special.startsWith('date^')) return document.createTextNode(label ?? special);
    return mention(`@${special}`);
  }
  const url = decodeEntities(target);
  if (!isSafeUrl(url)) return document.createTextNode(label ?? url);
  const a = document.createElement('a');
  a.href = url;
  a.target = '_blank';
  a.rel = 'noopener noreferrer';
  a.textContent = label ?? url;
  return a;
}
