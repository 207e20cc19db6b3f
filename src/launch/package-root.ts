import { fileURLToPath } from 'node:url';

/** The package's root folder: defaults such as config/local.json resolve against it, not the cwd. */
export const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));
