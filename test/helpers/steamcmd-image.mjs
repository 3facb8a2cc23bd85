// A stand-in for the steamcmd/steamcmd image (there is no route to Valve, nor a registry, here): the busybox root
// of test-image.mjs with a `steamcmd` shell script where the real image has it (/usr/games/steamcmd, linked from
// /usr/bin/steamcmd; ENTRYPOINT ["steamcmd"], CMD ["+help", "+quit"], root with HOME=/root). It honours the
// command line the agent sends, with SteamCMD's quirks:
//   +workshop_download_item <app> <id>  creates <force_install_dir>/steamapps/workshop/content/<app>/<id>/mod.txt
//                                       and prints SteamCMD's "Success. Downloaded item …" line, except for:
//     id 666  prints "ERROR! Download item 666 failed (Failure)." and still exits 0 (the real tool's quirk);
//     id 667  exits 5;
//     id 668  exits 0 without a word or a file (a quiet failure);
//     id 777  waits (up to 60 s) for /mnt/server/release-777 first, so a test can inspect the running helper.
//   +app_update <app> [validate]        writes <force_install_dir>/steam-app-<app>.txt, except app 13, which prints
//                                       "Error! App '13' state is 0x202 after update job." and exits 0.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { busyboxRoot } from './test-image.mjs';

const run = promisify(execFile);

export const STEAMCMD_IMAGE = 'ctrl-alt-play-test/steamcmd:latest';

const SCRIPT = `#!/bin/sh
dir=/root/Steam
code=0
item() {
  app="$1"; id="$2"
  echo "Downloading item $id ..."
  case "$id" in
    666) echo "ERROR! Download item $id failed (Failure)."; return ;;
    667) echo "steamcmd: crashed"; exit 5 ;;
    668) return ;;
    777) n=0; while [ ! -e /mnt/server/release-777 ] && [ $n -lt 600 ]; do sleep 0.1; n=$((n+1)); done ;;
  esac
  out="$dir/steamapps/workshop/content/$app/$id"
  mkdir -p "$out" && echo "workshop item $id for app $app" > "$out/mod.txt"
  echo "Success. Downloaded item $id to \\"$out\\" (29 bytes)"
}
app() {
  if [ "$1" = 13 ]; then echo "Error! App '$1' state is 0x202 after update job."; return; fi
  mkdir -p "$dir" && echo "app $1" > "$dir/steam-app-$1.txt"
  echo "Success! App '$1' fully installed."
}
echo "Redirecting stderr to '/root/Steam/logs/stderr.txt'"
while [ $# -gt 0 ]; do
  case "$1" in
    +force_install_dir) dir="$2"; shift 2 ;;
    +login) echo "Logging in user '$2' to Steam Public...OK"; shift 2 ;;
    +workshop_download_item) item "$2" "$3"; shift 3 ;;
    +app_update) app "$2"; shift 2; [ "$1" = validate ] && shift ;;
    +quit) exit $code ;;
    *) echo "unknown command $1"; shift ;;
  esac
done
exit $code
`;

/** Changes to the script rebuild the image: its hash is a label of the image. */
const SCRIPT_HASH = createHash('sha256').update(SCRIPT).digest('hex').slice(0, 16);
const HASH_LABEL = 'ctrl-alt-play-test.steamcmd-script';

/** Builds STEAMCMD_IMAGE unless the Engine already has it with this script. */
export async function ensureSteamcmdImage(docker) {
  const images = await docker.listImages({ filters: { reference: [STEAMCMD_IMAGE] } });
  if (images.some((i) => i.Labels?.[HASH_LABEL] === SCRIPT_HASH)) return;
  const root = await mkdtemp(path.join(tmpdir(), 'cap-steamcmd-'));
  try {
    await busyboxRoot(root);
    await mkdir(path.join(root, 'usr/games'), { recursive: true });
    await mkdir(path.join(root, 'usr/bin'), { recursive: true });
    await mkdir(path.join(root, 'root'), { recursive: true });
    await writeFile(path.join(root, 'usr/games/steamcmd'), SCRIPT);
    await chmod(path.join(root, 'usr/games/steamcmd'), 0o755);
    await symlink('/usr/games/steamcmd', path.join(root, 'usr/bin/steamcmd'));
    const changes = [
      'ENTRYPOINT ["steamcmd"]',
      'CMD ["+help", "+quit"]',
      'ENV PATH=/usr/local/bin:/usr/bin:/bin:/usr/games',
      'ENV HOME=/root',
      'WORKDIR /root',
      `LABEL ${HASH_LABEL}=${SCRIPT_HASH}`,
    ];
    await run('sh', [
      '-c',
      `tar -C '${root}' -c . | docker import ${changes.map((c) => `-c '${c}'`).join(' ')} - ${STEAMCMD_IMAGE}`,
    ]);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}
