import type Docker from 'dockerode';

export declare const STEAMCMD_IMAGE: string;
export declare function ensureSteamcmdImage(docker: Docker): Promise<void>;
