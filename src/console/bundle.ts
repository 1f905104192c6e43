/**
 * The console's script and style, built from `web/` with esbuild the first time they are asked
 * for and kept in memory: `npm ci && npm start` is the whole build, nothing is downloaded, and
 * the script is the same TypeScript the CLI runs (the API client and its signing code).
 */
import crypto from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { PACKAGE_DIR } from '../package-dir.ts';

export interface Asset {
  readonly body: string;
  readonly type: string;
  readonly etag: string;
}

const WEB = fileURLToPath(new URL('web/', PACKAGE_DIR));

let assets: Promise<ReadonlyMap<string, Asset>> | undefined;

export async function consoleAsset(name: string): Promise<Asset | undefined> {
  assets ??= buildAssets().catch((error: unknown) => {
    // A failed build is retried on the next request rather than cached.
    assets = undefined;
    throw error;
  });
  return (await assets).get(name);
}

async function buildAssets(): Promise<ReadonlyMap<string, Asset>> {
  const result = await build({
    absWorkingDir: WEB,
    entryPoints: { app: 'main.ts' },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    legalComments: 'none',
    write: false,
    outdir: 'out',
    logLevel: 'silent',
    loader: { '.css': 'css' },
  });
  const map = new Map<string, Asset>();
  for (const file of result.outputFiles) {
    const name = file.path.slice(file.path.lastIndexOf('/') + 1);
    const type = name.endsWith('.css') ? 'text/css; charset=utf-8' : 'text/javascript; charset=utf-8';
    const etag = `"${crypto.createHash('sha256').update(file.contents).digest('base64url').slice(0, 16)}"`;
    map.set(name, { body: file.text, type, etag });
  }
  return map;
}
