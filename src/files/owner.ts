/** The game's user: every file and directory the agent makes in a server's directory is given to it. */
export interface Owner {
  uid: number;
  gid: number;
}

/** Only root can give a file away: without root (tests, a rootless agent) files stay the agent's. */
export function canChown(owner: Owner | undefined): owner is Owner {
  return owner !== undefined && process.getuid?.() === 0;
}
