import { UserInputError } from '../errors.js';
import type { AnyCommand } from './command.js';
import { escapeText as esc } from './escape-text.js';
import { truncate } from './tokenize.js';

/** The commands ward knows, by name (listed explicitly in commands/index.ts, never discovered by scanning). */
export class CommandRegistry {
  private readonly byName = new Map<string, AnyCommand>();

  constructor(commands: readonly AnyCommand[]) {
    for (const c of commands) {
      if (this.byName.has(c.name)) throw new Error(`duplicate command ${c.name}`);
      this.byName.set(c.name, c);
    }
  }

  all(): AnyCommand[] {
    return [...this.byName.values()];
  }

  find(name: string): AnyCommand | undefined {
    return this.byName.get(name);
  }

  /** The command, or a UserInputError with "did you mean …" when the name is close to a known one. */
  get(name: string): AnyCommand {
    const c = this.byName.get(name.toLowerCase());
    if (c) return c;
    const near = this.suggest(name);
    throw new UserInputError(
      // Escaped: the name is user text, and `<!channel>` echoed raw would be a mention in ward's reply.
      `Unknown command \`${esc(truncate(name, 40))}\`.${near.length > 0 ? ` Did you mean ${near.map((n) => `\`${n}\``).join(' or ')}?` : ''} Type \`/ward help\` for the list.`,
      'ward_unknown_command',
    );
  }

  suggest(name: string): string[] {
    const lower = name.toLowerCase();
    return this.all()
      .map((c) => ({ name: c.name, d: editDistance(lower, c.name) }))
      .filter(
        (x) => x.d <= Math.max(2, Math.floor(x.name.length / 3)) || x.name.startsWith(lower.slice(0, 4)),
      )
      .sort((a, b) => a.d - b.d)
      .slice(0, 2)
      .map((x) => x.name);
  }
}

/** Levenshtein distance, bounded to short strings (command names). */
export function editDistance(a: string, b: string): number {
  if (a.length > 64) return 64;
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j]!;
      prev[j] = Math.min(prev[j]! + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length]!;
}
