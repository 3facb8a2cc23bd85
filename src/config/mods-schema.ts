import { z } from 'zod';
import { bool, positiveInt } from './schema-values.js';

/** Mods (src/mods): downloads by URL, and SteamCMD for workshop items and app_update installs. */

export const modsSchema = z
  .strictObject({
    /** Image reference → Steam app id, for servers whose environment names none. */
    appIds: z.record(z.string(), z.string()).default({}),
    /** Downloads may reach private and loopback addresses (only for closed test setups). */
    allowPrivateAddresses: bool.default(false),
    /**
     * Downloads may use plain http (only for closed test setups). A separate switch from allowPrivateAddresses:
     * a LAN mirror needs private addresses, not a channel on which the mod can be swapped before it is extracted.
     */
    allowHttp: bool.default(false),
    maxDownloadBytes: positiveInt.default(2 * 1024 * 1024 * 1024),
  })
  .prefault({});

/** SteamCMD (PROTOCOL.md §4.6): workshop items for install_mod and `app_update` for install steps that name it. */
export const steamSchema = z
  .strictObject({
    /**
     * The SteamCMD image, run as a short-lived helper under the install container's restrictions. Pulled like
     * any image (docker.registries apply); a leading "~" means local only, for hosts without a registry.
     */
    image: z.string().min(1).max(512).default('steamcmd/steamcmd:latest'),
    /**
     * One SteamCMD run gets this long before it is killed. Generous: an `app_update` of a large dedicated server
     * is tens of GB, and SteamCMD updates itself first; a hung login is still ended within the hour.
     */
    timeoutMs: positiveInt.default(60 * 60_000),
    /**
     * Output of one run shown in the console and install log; the rest is still scanned for failure lines but
     * not kept. SteamCMD redraws its progress with CRs, so a big download is thousands of lines.
     */
    maxOutputBytes: positiveInt.default(256 * 1024),
    /**
     * install_mod downloads through SteamCMD running at once per server; more are refused with SERVER_BUSY. Each
     * is a container with its own memory floor (servers.installMemoryMb), so a panel installing a collection must
     * not start one per item at once.
     */
    maxRunsPerServer: z.coerce.number().int().min(1).max(16).default(2),
  })
  .prefault({});
