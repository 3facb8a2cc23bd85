import { describe, expect, it } from 'vitest';
import { consoleActions } from '../../../src/commands/actions/console.js';
import { fileActions } from '../../../src/commands/actions/files.js';
import { lifecycleActions } from '../../../src/commands/actions/lifecycle.js';
import { metricsActions } from '../../../src/commands/actions/metrics.js';
import type { ActionDefinition } from '../../../src/commands/dispatcher.js';

/**
 * The permissions a browser ticket needs (PROTOCOL.md §6.6) are declared on each action. The factories only
 * close over their dependencies, so the tables can be read without building the agent.
 */
const none = {} as never;
const tables: ActionDefinition[] = [
  ...consoleActions(none),
  ...fileActions(none, none),
  ...lifecycleActions(none),
  ...metricsActions(none, none),
];

describe('ticket permissions', () => {
  it('lets tickets read the console and status, send commands and use power, and nothing else', () => {
    const granted = Object.fromEntries(tables.filter((a) => a.ticket).map((a) => [a.name, a.ticket]));
    expect(granted).toEqual({
      'console:status': 'console.read',
      'console:history': 'console.read',
      get_server_logs: 'console.read',
      get_server_status: 'console.read',
      get_server_metrics: 'console.read',
      'console:command': 'console.command',
      'console:input': 'console.command',
      start_server: 'power',
      stop_server: 'power',
      restart_server: 'power',
      kill_server: 'power',
    });
  });

  it('never grants a file, create or delete action to a ticket', () => {
    for (const name of ['write_file', 'read_file', 'delete_server', 'create_server', 'update_server']) {
      expect(tables.find((a) => a.name === name)?.ticket).toBeUndefined();
    }
  });
});
