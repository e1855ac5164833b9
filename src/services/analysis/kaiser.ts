// The Bessel function behind the Kaiser windows of the true-peak interpolator (loudness.ts) and
// of the WASM decoders' resampler (wasm/resampler.ts).

/** the modified Bessel function of the first kind, order 0 (its power series, to double precision) */
export function besselI0(x: number): number {
  let sum = 1;
  let term = 1;
  const q = (x * x) / 4;
  for (let k = 1; k < 64; k++) {
    term *= q / (k * k);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return sum;
}
