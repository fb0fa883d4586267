// Block Kit → DOM, for the blocks ward posts (header, section with text/fields/accessory, context, divider,
// actions with buttons, image, input in modals). Built with DOM calls only; text goes through renderMrkdwn or
// textContent, never innerHTML.
import { isSafeUrl, renderMrkdwn } from './mrkdwn.js';

/**
 * @param {unknown[]} blocks
 * @param {{ nameOf, channelName, onButton?: (button: object, block: object) => void, inputs?: boolean }} ctx
 */
export function renderBlocks(blocks, ctx) {
  const root = document.createElement('div');
  root.className = 'blocks';
  for (const block of blocks ?? []) root.append(renderBlock(block, ctx));
  return root;
}

function el(tag, className, ...children) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  e.append(...children);
  return e;
}

export function textObject(obj, ctx) {
  if (!obj) return document.createTextNode('');
  if (obj.type === 'mrkdwn') return renderMrkdwn(obj.text ?? '', ctx);
  return document.createTextNode(obj.text ?? '');
}

function renderBlock(block, ctx) {
  switch (block?.type) {
    case 'header':
      return el('h3', 'block-header', textObject(block.text, ctx));
    case 'section': {
      const section = el('div', 'block-section');
      const main = el('div', 'section-main');
      if (block.text) main.append(el('div', 'section-text', textObject(block.text, ctx)));
      if (Array.isArray(block.fields) && block.fields.length > 0) {
        main.append(
          el('div', 'section-fields', ...block.fields.map((f) => el('div', 'field', textObject(f, ctx)))),
        );
      }
      section.append(main);
      if (block.accessory) section.append(renderElement(block.accessory, block, ctx));
      return section;
    }
    case 'context':
      return el(
        'div',
        'block-context',
        ...(block.elements ?? []).map((e) =>
          e.type === 'image'
            ? image(e.image_url, e.alt_text, 'context-image')
            : el('span', '', textObject(e, ctx)),
        ),
      );
    case 'divider':
      return el('hr', 'block-divider');
    case 'actions':
      return el('div', 'block-actions', ...(block.elements ?? []).map((e) => renderElement(e, block, ctx)));
    case 'image': {
      const fig = el('figure', 'block-image');
      if (block.title) fig.append(el('figcaption', '', textObject(block.title, ctx)));
      fig.append(image(block.image_url, block.alt_text, ''));
      return fig;
    }
    case 'input':
      return renderInput(block, ctx);
    case 'rich_text':
      return el('div', 'section-text', document.createTextNode(flattenRichText(block)));
    default:
      return el(
        'div',
        'block-unsupported',
        `[${String(block?.type ?? 'unknown')} block: not rendered by the sandbox]`,
      );
  }
}

function image(url, alt, className) {
  if (typeof url !== 'string' || !(isSafeUrl(url) || url.startsWith('data:image/'))) {
    return el('span', 'image-missing', `[image: ${alt ?? ''}]`);
  }
  const img = document.createElement('img');
  img.src = url;
  img.alt = alt ?? '';
  if (className) img.className = className;
  return img;
}

function renderElement(element, block, ctx) {
  if (element.type === 'button') {
    const style = element.style === 'primary' || element.style === 'danger' ? element.style : 'default';
    if (typeof element.url === 'string') {
      if (!isSafeUrl(element.url)) return el('span', 'btn btn-default', textObject(element.text, ctx));
      const a = el('a', `btn btn-${style}`, textObject(element.text, ctx));
      a.href = element.url;
      a.target = '_blank';
      a.rel = 'noopener noreferrer';
      return a;
    }
    const button = el('button', `btn btn-${style}`, textObject(element.text, ctx));
    button.type = 'button';
    button.dataset.actionId = element.action_id ?? '';
    if (ctx.onButton) button.addEventListener('click', () => ctx.onButton(element, block, button));
    else button.disabled = true;
    return button;
  }
  if (element.type === 'image') return image(element.image_url, element.alt_text, 'accessory-image');
  return el('span', 'block-unsupported', `[${String(element.type)}]`);
}

function renderInput(block, ctx) {
  const wrap = el('div', 'block-input');
  const element = block.element ?? {};
  const id = `input-${block.block_id}-${element.action_id}`;
  const label = el('label', 'input-label', textObject(block.label, ctx));
  label.htmlFor = id;
  wrap.append(label);
  let input;
  if (element.multiline) {
    input = document.createElement('textarea');
    input.rows = 3;
  } else {
    input = document.createElement('input');
    input.type = 'text';
  }
  input.id = id;
  input.name = id;
  input.autocomplete = 'off';
  input.dataset.blockId = block.block_id;
  input.dataset.actionId = element.action_id;
  if (element.placeholder) input.placeholder = element.placeholder.text ?? '';
  if (element.max_length) input.maxLength = element.max_length;
  if (element.initial_value) input.value = element.initial_value;
  if (!block.optional) input.required = true;
  if (/code|otp|mfa/i.test(`${element.action_id} ${block.block_id}`)) {
    input.inputMode = 'numeric';
    input.autocomplete = 'one-time-code';
  }
  wrap.append(input);
  if (block.hint) wrap.append(el('div', 'input-hint', textObject(block.hint, ctx)));
  const error = el('div', 'input-error');
  error.id = `${id}-error`;
  error.setAttribute('role', 'alert');
  input.setAttribute('aria-describedby', error.id);
  wrap.append(error);
  return wrap;
}

function flattenRichText(block) {
  const out = [];
  const walk = (node) => {
    if (typeof node?.text === 'string') out.push(node.text);
    for (const child of node?.elements ?? []) walk(child);
  };
  walk(block);
  return out.join('');
}
