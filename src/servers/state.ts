/**
 * Server states and the one table of allowed transitions (PROTOCOL.md §7). The names are the panel's
 * TypeScript enum values; upper-cased they are its database enum. There is deliberately no `restarting`.
 */
export const SERVER_STATES = [
  'installing',
  'install_failed',
  'offline',
  'starting',
  'running',
  'stopping',
  'crashed',
  'suspended',
] as const;
export type ServerState = (typeof SERVER_STATES)[number];

export const STATE_REASONS = [
  'requested',
  'killed',
  'crash',
  'exited',
  'crash_restart',
  'boot_restore',
  'install_ok',
  'install_failed',
  'port_conflict',
] as const;
export type StateReason = (typeof STATE_REASONS)[number];

const TRANSITIONS: Record<ServerState, readonly ServerState[]> = {
  installing: ['offline', 'starting', 'install_failed'],
  install_failed: ['installing'],
  offline: ['starting', 'installing', 'suspended', 'running'],
  starting: ['running', 'stopping', 'offline', 'crashed'],
  running: ['stopping', 'offline', 'crashed'],
  stopping: ['offline', 'crashed'],
  crashed: ['starting', 'installing', 'offline', 'suspended'],
  suspended: ['offline', 'stopping'],
};

export function canTransition(from: ServerState, to: ServerState): boolean {
  return from === to || TRANSITIONS[from].includes(to);
}

/** States in which the container process is (or should be) up. */
export function isActive(state: ServerState): boolean {
  return state === 'starting' || state === 'running' || state === 'stopping';
}
