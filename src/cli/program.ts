import { Command, Option } from 'commander';
import { stringify } from 'yaml';
import { DataDirFormatError } from '../config/data-format.js';
import { ConfigError, formatSources, type LoadedConfig, loadConfig, redactConfig } from '../config/load.js';
import type { AgentConfig } from '../config/schema.js';
import { createLogger, type LogOutput, openLogOutput } from '../logging.js';
import { type RunningAgent, startAgent } from '../main.js';
import { AGENT_VERSION } from '../version.js';
import { registerAliasCommands } from './alias.js';
import { EXIT } from './exit-codes.js';
import { registerTokenCommands } from './token.js';

interface GlobalFlags {
  config?: string;
  [key: string]: unknown;
}

function configFrom(flags: GlobalFlags): AgentConfig {
  return loadedFrom(flags).config;
}

function loadedFrom(flags: GlobalFlags): LoadedConfig {
  try {
    return loadConfig({ configPath: flags.config, flags });
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

/**
 * SIGHUP (`systemctl reload`, a closed terminal): reopen the log file (logrotate moved it), re-read the token file
 * (`token rotate`) and the configuration, and apply what can change live.
 */
function reloadOnHangup(
  flags: GlobalFlags,
  log: ReturnType<typeof createLogger>,
  output: LogOutput,
  agent: () => RunningAgent | undefined,
): void {
  output.reopen();
  void agent()
    ?.reload()
    .catch((err) => log.error({ err }, 'SIGHUP: the token file could not be re-read; the current token stays'));
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
  const output = openLogOutput({ ...config.log, isTTY: process.stdout.isTTY === true });
  const log = createLogger(config.logLevel, output.stream, { nodeId: config.nodeId });
  let agent: RunningAgent | undefined;
  // Before the start, which can take a while: SIGHUP's default action would end the agent without a shutdown.
  process.on('SIGHUP', () => reloadOnHangup(flags, log, output, () => agent));
  try {
    agent = await startAgent(config, log);
  } catch (err) {
    log.fatal({ err }, 'the agent could not start');
    output.flushSync();
    process.exit(err instanceof DataDirFormatError ? EXIT.DATA_DIR_TOO_NEW : EXIT.FAILURE);
  }
  const running = agent;
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    // A second signal while shutting down means "now".
    if (++signals > 1) process.exit(EXIT.FAILURE);
    void running.stop(signal).then(
      () => {
        output.flushSync();
        process.exit(EXIT.OK);
      },
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
  withConfigFlags(
    config
      .command('print')
      .description('print the effective configuration, secrets redacted')
      .option('--sources', 'one line per key with where its value came from (default, file, env, flag)'),
  ).action((flags: GlobalFlags & { sources?: boolean }) => {
    const loaded = loadedFrom(flags);
    if (flags.sources) {
      process.stdout.write(
        `# config file: ${loaded.file ?? '(none)'}\n${formatSources(loaded.config, loaded.sources)}`,
      );
    } else process.stdout.write(stringify(redactConfig(loaded.config)));
  });

  registerAliasCommands(program, withConfigFlags, configFrom);
  registerTokenCommands(program, withConfigFlags, loadedFrom);

  withConfigFlags(
    program
      .command('doctor')
      .description('check this host and print what to fix (changes nothing)')
      .option('--json', 'print the checks as JSON'),
  ).action(async (flags: GlobalFlags & { json?: boolean }) => {
    // Loaded for this command only: doctor's port check imports node:http as an ES module, which loads Node's
    // bundled undici (about 14 MB resident) into every agent that merely started (test/unit/architecture).
    const [{ runDoctor }, { printDoctor }] = await Promise.all([import('./doctor.js'), import('./doctor-report.js')]);
    const report = await runDoctor(configFrom(flags));
    if (flags.json) process.stdout.write(`${JSON.stringify(report)}\n`);
    else printDoctor(report, (line) => process.stdout.write(`${line}\n`));
    process.exit(report.ok ? EXIT.OK : EXIT.DOCTOR_PROBLEMS);
  });

  withConfigFlags(
    program
      .command('diagnostics')
      .description(
        'print one report for a support request: versions, host, Docker, config with sources, doctor, logs; secrets removed',
      )
      .option('--json', 'JSON instead of YAML'),
  ).action(async (flags: GlobalFlags & { json?: boolean }) => {
    const { diagnosticsReport } = await import('./diagnostics.js');
    process.stdout.write(await diagnosticsReport(loadedFrom(flags), flags.json ? 'json' : 'text'));
  });
  return program;
}
