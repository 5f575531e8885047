// Builds the page into web/dist: copies the sources, renames every asset to name.<hash>.ext
// (content fingerprint, so the server may cache them forever) and rewrites the references
// between files. index.html keeps its name (served with no-cache) and is the only entry point.
// Usage: node web/build.mjs [--out DIR]     (scripts/setup runs it)
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, extname, join, posix, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const kWebDir = dirname(fileURLToPath(import.meta.url));
const kTextTypes = new Set(['.html', '.js', '.css', '.svg']);
const kAssetTypes = new Set(['.html', '.js', '.css', '.svg', '.png', '.ico', '.woff2']);
const kSkip = new Set(['dist', 'build.mjs', 'node_modules']);
// Relative references inside sources: import/export specifiers, new URL(...), src/href, url(...).
const kRefPattern = /(["'(])(\.\.?\/[A-Za-z0-9_./-]+\.[a-z0-9]+)(["')])/g;

function Fail(message) {
  console.error(`web/build.mjs: ${message}`);
  process.exit(1);
}

function ListSources(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    if (kSkip.has(name) || name.startsWith('.')) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...ListSources(path));
    else if (kAssetTypes.has(extname(name))) out.push(relative(kWebDir, path).split('\\').join('/'));
  }
  return out;
}

function Build(out_dir) {
  const sources = ListSources(kWebDir);
  if (!sources.includes('index.html')) Fail(`no index.html in ${kWebDir}`);
  const source_set = new Set(sources);
  const built = new Map();  // source path -> {name, content}
  const visiting = new Set();

  function Emit(path) {
    if (built.has(path)) return built.get(path);
    if (visiting.has(path)) Fail(`reference cycle through ${path}; fingerprinting needs an acyclic graph`);
    visiting.add(path);
    let content = readFileSync(join(kWebDir, path));
    if (kTextTypes.has(extname(path))) {
      const text = content.toString('utf8').replace(kRefPattern, (match, open, ref, close) => {
        const target = posix.normalize(posix.join(posix.dirname(path), ref));
        if (!source_set.has(target)) Fail(`${path} refers to ${ref}, but web/${target} does not exist`);
        const dep = Emit(target);
        let rel = posix.relative(posix.dirname(path), dep.name);
        if (!rel.startsWith('.')) rel = `./${rel}`;
        return `${open}${rel}${close}`;
      });
      content = Buffer.from(text, 'utf8');
    }
    let name = path;
    if (path !== 'index.html') {
      const hash = createHash('sha256').update(content).digest('hex').slice(0, 10);
      const ext = extname(path);
      name = `${path.slice(0, -ext.length)}.${hash}${ext}`;
    }
    const result = { name, content };
    built.set(path, result);
    visiting.delete(path);
    return result;
  }

  Emit('index.html');
  rmSync(out_dir, { recursive: true, force: true });
  const manifest = {};
  let bytes = 0;
  for (const [path, { name, content }] of built) {
    mkdirSync(dirname(join(out_dir, name)), { recursive: true });
    writeFileSync(join(out_dir, name), content);
    manifest[path] = name;
    bytes += content.length;
  }
  writeFileSync(join(out_dir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  const unused = sources.filter((s) => !built.has(s));
  console.log(`web: built ${built.size} files (${(bytes / 1024).toFixed(1)} KiB) into ${relative(process.cwd(), out_dir) || '.'}` +
    (unused.length ? `; not referenced, left out: ${unused.join(', ')}` : ''));
  return manifest;
}

const out_flag = process.argv.indexOf('--out');
Build(out_flag > 0 ? resolve(process.argv[out_flag + 1]) : join(kWebDir, 'dist'));
