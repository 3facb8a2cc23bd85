import type Docker from 'dockerode';

export declare const TEST_IMAGE: string;
export declare function ensureTestImage(docker: Docker): Promise<void>;
export declare function busyboxRoot(root: string): Promise<void>;
