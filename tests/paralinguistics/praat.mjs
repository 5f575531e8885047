// Praat as the independent reference of the black-box tests (not a test file itself): runs
// tools/paralinguistics/praat_reference.praat (To Pitch (ac) 75-600 Hz, To PointProcess (cc),
// Praat's standard jitter and shimmer) on a WAV file and returns the mean F0 of Praat's voiced
// frames and its local jitter and shimmer (fractions).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const kScript = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'tools', 'paralinguistics', 'praat_reference.praat');

export function PraatReference(wav) {
  const dir = mkdtempSync(join(tmpdir(), 'cadence-praat-'));
  try {
    const prefix = join(dir, 'ref');
    execFileSync('praat', ['--run', kScript, wav, prefix], { stdio: 'pipe' });
    const rows = (name) => readFileSync(`${prefix}.${name}.csv`, 'utf8').trim().split('\n').slice(1)
      .map((line) => line.split(',').map(Number));
    const voiced = rows('pitch').map(([, f0]) => f0).filter((f0) => f0 > 0);
    if (voiced.length === 0) throw new Error(`Praat found no voiced frame in ${wav}`);
    const [[, , jitter, shimmer]] = rows('summary');
    return { mean_hz: voiced.reduce((a, b) => a + b, 0) / voiced.length, jitter, shimmer };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
