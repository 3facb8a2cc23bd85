import type Docker from 'dockerode';

export declare const OPENTTD_IMAGE: string;
export declare const OPENTTD_BINARY: string;
export declare function openttdMissing(): string | undefined;
export declare function ensureOpenttdImage(docker: Docker): Promise<void>;
