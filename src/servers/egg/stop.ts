/**
 * `config.stop` of an egg (PROTOCOL.md §4.6): `^C` or `^^C` (and `^SIGINT`) stop by SIGINT, `^X` or `^SIGKILL`
 * by SIGKILL, `^SIGTERM` by SIGTERM; any other text is a stop command written to the game's stdin. Case does not
 * matter for the signal forms (two published eggs write `^c`). Blank means the egg sets no stop.
 */

export const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGKILL'] as const;
export type StopSignal = (typeof STOP_SIGNALS)[number];

const SIGNAL_FORMS: Record<string, StopSignal> = {
  '^C': 'SIGINT',
  '^^C': 'SIGINT',
  '^SIGINT': 'SIGINT',
  '^X': 'SIGKILL',
  '^SIGKILL': 'SIGKILL',
  '^SIGTERM': 'SIGTERM',
};

export function parseEggStop(
  stop: string | undefined,
): { stopCommand: string } | { stopSignal: StopSignal } | undefined {
  const text = stop?.trim() ?? '';
  if (text === '') return undefined;
  const signal = SIGNAL_FORMS[text.toUpperCase()];
  return signal ? { stopSignal: signal } : { stopCommand: text };
}
