/**
 * One JSON log line as a line a person reads at a terminal: `12:00:01.234 INFO  docker: message key=value`, the
 * error's stack below it. A few dozen lines instead of pino-pretty (13 dependencies, its own worker-thread
 * transport) because it is only ever used on a TTY, where the volume is small and the format is ours to choose;
 * the journal and the log file keep the JSON lines.
 */
const LEVEL_COLOURS: Record<string, string> = {
  trace: '90',
  debug: '36',
  info: '32',
  warn: '33',
  error: '31',
  fatal: '35',
};

/** Fields every line has, shown in the prefix or not at all. */
const HIDDEN = new Set(['level', 'time', 'msg', 'app', 'nodeId', 'component', 'pid', 'hostname', 'err']);

function scalar(value: unknown): string {
  if (typeof value === 'string') return /^[\w./:@+-]+$/.test(value) ? value : JSON.stringify(value);
  return JSON.stringify(value) ?? String(value);
}

export function prettyLine(json: string, colour: boolean): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json.endsWith('\n') ? json : `${json}\n`;
  }
  const level = String(entry.level ?? 'info');
  const time = typeof entry.time === 'string' ? entry.time.slice(11, 23) : '';
  const tag = level.toUpperCase().padEnd(5);
  const paint = (code: string | undefined, text: string) => (colour && code ? `\x1b[${code}m${text}\x1b[0m` : text);
  const where = typeof entry.component === 'string' ? `${entry.component}: ` : '';
  const fields = Object.entries(entry)
    .filter(([key, value]) => !HIDDEN.has(key) && value !== undefined)
    .map(([key, value]) => `${paint('90', `${key}=`)}${scalar(value)}`)
    .join(' ');
  let out = `${time} ${paint(LEVEL_COLOURS[level], tag)} ${where}${String(entry.msg ?? '')}${fields ? ` ${fields}` : ''}\n`;
  const err = entry.err as { stack?: unknown; message?: unknown } | undefined;
  if (err && typeof err === 'object') {
    const stack = typeof err.stack === 'string' ? err.stack : String(err.message ?? '');
    out += `${stack
      .split('\n')
      .map((l) => `    ${l}`)
      .join('\n')}\n`;
  }
  return out;
}
