/**
 * Escapes user text placed in a message (&, < and >): without it, text such as `<!channel>` or
 * `<https://evil|click>` would become a mention or a disguised link. Core's user messages (errors) use it too, so it
 * lives here, below render/, which re-exports it as `esc`.
 */
export function escapeText(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
