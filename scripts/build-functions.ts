/**
 * Bundles every function of the route table with esbuild, exactly as the CDK stack's NodejsFunction does
 * (minified, source maps, AWS SDK v3 bundled in). The local runtime loads these same bundles.
 */
import { build } from 'esbuild';
import { statSync } from 'node:fs';
import path from 'node:path';
import { ALL_FUNCTIONS } from '../functions/contracts/routes';

export const DIST_DIR = path.resolve(__dirname, '..', 'dist', 'functions');
export const bundlePath = (name: string) => path.join(DIST_DIR, name, 'index.mjs');

/**
 * ES module output, so each entry's top-level await (init-time priming) runs during Lambda's init. Bundled
 * CommonJS dependencies still call `require` for Node built-ins: the banner gives them one.
 */
export const ESM_REQUIRE_BANNER = "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);";

export async function buildFunctions(options: { quiet?: boolean } = {}): Promise<void> {
  const started = Date.now();
  await Promise.all(
    ALL_FUNCTIONS.map((fn) =>
      build({
        entryPoints: [path.resolve(__dirname, '..', 'functions', 'entries', `${fn.name}.ts`)],
        outfile: bundlePath(fn.name),
        bundle: true,
        platform: 'node',
        target: 'node20',
        format: 'esm',
        banner: { js: ESM_REQUIRE_BANNER },
        minify: true,
        sourcemap: true,
        logLevel: 'error',
      }),
    ),
  );
  if (!options.quiet) {
    const sizes = ALL_FUNCTIONS.map((fn) => `${fn.name} ${(statSync(bundlePath(fn.name)).size / 1024).toFixed(0)} KiB`);
    console.log(`built ${ALL_FUNCTIONS.length} functions in ${Date.now() - started} ms: ${sizes.join(', ')}`);
  }
}

if (require.main === module) {
  buildFunctions().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
