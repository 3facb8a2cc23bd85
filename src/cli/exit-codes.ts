/** Documented exit codes of the `ctrl-alt-play-agent` command (README "CLI"). */
export const EXIT = {
  OK: 0,
  /** The agent failed at run time (for example the port is taken). */
  FAILURE: 1,
  /** The configuration is invalid; the message names the key. */
  CONFIG_INVALID: 2,
  /** `doctor` found at least one problem. */
  DOCTOR_PROBLEMS: 3,
  /** This Node is older than 22.12 (the launcher, bin.ts); a restart will not fix it. */
  NODE_TOO_OLD: 4,
  /** The data directory was written by a newer agent (its format file); a restart will not fix it. */
  DATA_DIR_TOO_NEW: 5,
} as const;
