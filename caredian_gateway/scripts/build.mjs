// Compiles src/ to dist/ and copies the admin page's static files next to the compiled code.
import { execFileSync } from 'node:child_process';
import { cpSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
cpSync(join(root, 'src', 'admin', 'page'), join(root, 'dist', 'admin', 'page'), { recursive: true });
