import { format } from 'node:util';

/**
 * `debug`-style logging without the dependency: `DEBUG=keyv-clever` (or `keyv-clever:*`, `*`,
 * comma-separated lists, `-name` to exclude) prints what the store does to stderr.
 */
function enabled(name: string): boolean {
  const spec = process.env.DEBUG ?? '';
  let on = false;
  for (const raw of spec.split(/[\s,]+/)) {
    if (!raw) continue;
    const negate = raw.startsWith('-');
    const pattern = new RegExp(`^${(negate ? raw.slice(1) : raw).replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);
    if (pattern.test(name)) on = !negate;
  }
  return on;
}

export type Logger = ((message: string, ...args: unknown[]) => void) & { enabled: boolean };

export function logger(topic: string): Logger {
  const name = `keyv-clever:${topic}`;
  const on = enabled(name) || enabled('keyv-clever');
  const log = ((message: string, ...args: unknown[]) => {
    if (on) process.stderr.write(`${new Date().toISOString()} ${name} ${format(message, ...args)}\n`);
  }) as Logger;
  log.enabled = on;
  return log;
}
