import { Command, Option } from 'commander';
import { stringify } from 'yaml';
import { ConfigError, loadConfig, redactConfig } from '../config/load.js';
import type { AgentConfig } from '../config/schema.js';
import { createLogger } from '../logging.js';
import { startAgent } from '../main.js';
import { AGENT_VERSION } from '../version.js';
import { registerAliasCommands } from './alias.js';
import { runDoctor } from './doctor.js';
import { EXIT } from './exit-codes.js';

interface GlobalFlags {
  config?: string;
  [key: string]: unknown;
}

function configFrom(flags: GlobalFlags): AgentConfig {
  try {
    return loadConfig({ configPath: flags.config, flags }).config;
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(EXIT.CONFIG_INVALID);
    }
    throw err;
  }
}

function withConfigFlags(command: Command): Command {
  return command
    .option('-c, --config <path>', 'YAML config file (default /etc/ctrl-alt-play-agent/config.yml when present)')
    .option('-p, --port <port>', 'listen port (env AGENT_PORT, default 8081)')
    .option('--host <address>', 'listen address (env AGENT_HOST, default 0.0.0.0)')
    .option('--node-id <id>', "the panel's node id (env AGENT_NODE_ID, default: host name)")
    .option('-d, --data-dir <dir>', 'data directory (env AGENT_DATA_DIR)')
    .option('--panel-url <url>', 'panel base URL (env PANEL_URL)')
    .addOption(
      new Option('--log-level <level>', 'log level (env LOG_LEVEL)').choices([
        'fatal',
        'error',
        'warn',
        'info',
        'debug',
        'trace',
        'silent',
      ]),
    )
    .option('--docker-host <host>', 'Docker Engine socket or tcp:// URL (env DOCKER_HOST)');
}

/** SIGHUP (a closed terminal, `systemctl kill -s HUP`): re-read the configuration and apply what can change live. */
function reloadOnHangup(flags: GlobalFlags, log: ReturnType<typeof createLogger>): void {
  try {
    const { config } = loadConfig({ configPath: flags.config, flags });
    log.level = config.logLevel;
    log.warn(
      { logLevel: config.logLevel },
      'SIGHUP: configuration re-read; the log level applies now, other keys after a restart',
    );
  } catch (err) {
    log.error({ err }, 'SIGHUP: the configuration could not be re-read; nothing changed');
  }
}

async function run(flags: GlobalFlags): Promise<void> {
  const config = configFrom(flags);
  const log = createLogger(config.logLevel);
  // Before the start, which can take a while: SIGHUP's default action would end the agent without a shutdown.
  process.on('SIGHUP', () => reloadOnHangup(flags, log));
  let agent: Awaited<ReturnType<typeof startAgent>>;
  try {
    agent = await startAgent(config, log);
  } catch (err) {
    log.fatal({ err }, 'the agent could not start');
    process.exit(EXIT.FAILURE);
  }
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    // A second signal while shutting down means "now".
    if (++signals > 1) process.exit(EXIT.FAILURE);
    void agent.stop(signal).then(
      () => process.exit(EXIT.OK),
      (err) => {
        log.error({ err }, 'shutdown failed');
        process.exit(EXIT.FAILURE);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  process.on('unhandledRejection', (err) => log.error({ err }, 'unhandled promise rejection'));
}

export function buildProgram(): Command {
  const program = new Command('ctrl-alt-play-agent')
    .description('Ctrl-Alt-Play node agent: manages Docker game servers for the Ctrl-Alt-Play Panel')
    .version(AGENT_VERSION, '-v, --version');

  withConfigFlags(program.command('run', { isDefault: true }).description('run the agent (default)')).action(
    (flags: GlobalFlags) => run(flags),
  );

  program
    .command('version')
    .description('print the version')
    .action(() => {
      process.stdout.write(`${AGENT_VERSION}\n`);
    });

  const config = program.command('config').description('inspect the configuration');
  withConfigFlags(config.command('print').description('print the effective configuration, secrets redacted')).action(
    (flags: GlobalFlags) => {
      process.stdout.write(stringify(redactConfig(configFrom(flags))));
    },
  );

  registerAliasCommands(program, withConfigFlags, configFrom);

  withConfigFlags(program.command('doctor').description('check this host and print what to fix')).action(
    async (flags: GlobalFlags) => {
      const ok = await runDoctor(configFrom(flags), (line) => process.stdout.write(`${line}\n`));
      process.exit(ok ? EXIT.OK : EXIT.DOCTOR_PROBLEMS);
    },
  );
  return program;
}
