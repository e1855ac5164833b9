import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { spectralFeatures, type SpectralSummary } from '../../src/services/analysis/features.js';

const SR = 22_050;

function signal(seconds: number, fn: (t: number) => number): Float32Array {
  return Float32Array.from({ length: Math.round(seconds * SR) }, (_, i) => fn(i / SR));
}

const sine = (freq: number, amplitude = 0.5) => (t: number): number => amplitude * Math.sin(2 * Math.PI * freq * t);

/** deterministic uniform white noise in [−amplitude, amplitude] */
function noise(seconds: number, amplitude: number, seed = 12345): Float32Array {
  let state = seed >>> 0;
  return Float32Array.from({ length: Math.round(seconds * SR) }, () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return amplitude * ((state / 2 ** 32) * 2 - 1);
  });
}

function allNumbers(s: SpectralSummary): number[] {
  const out: number[] = [s.frames, s.energy, s.danceability];
  for (const stat of [s.rms, s.zcr, s.centroid, s.rolloff, s.flatness]) out.push(stat.mean, stat.variance);
  for (const vec of [s.contrast, s.mfcc]) out.push(...vec.mean, ...vec.variance);
  return out;
}

describe('spectralFeatures', () => {
  it('puts the centroid of a 1 kHz sine at 1 kHz, with flatness near 0', () => {
    const s = spectralFeatures(signal(5, sine(1000)), SR);
    assert.ok(Math.abs(s.centroid.mean - 1000) <= 50, `centroid ${s.centroid.mean}`);
    assert.ok(Math.abs(s.rolloff.mean - 1000) <= 50, `rolloff ${s.rolloff.mean}`);
    assert.ok(s.flatness.mean < 0.01, `flatness ${s.flatness.mean}`);
    // frames of 2048 samples side by side, the last one zero-padded
    assert.equal(s.frames, Math.ceil(5 * SR / 2048));
  });

  it('finds white noise flat (> 0.5) with its centroid near Nyquist / 2', () => {
    const s = spectralFeatures(noise(5, 0.5), SR);
    // power-spectrum flatness of white noise tends to e^−γ ≈ 0.56 (bins are exponentially distributed)
    assert.ok(s.flatness.mean > 0.5, `flatness ${s.flatness.mean}`);
    assert.ok(Math.abs(s.centroid.mean - SR / 4) <= 0.05 * (SR / 4), `centroid ${s.centroid.mean}`);
    assert.ok(Math.abs(s.zcr.mean - 0.5) < 0.02, `zcr ${s.zcr.mean}`);
    // contrast of flat noise is modest and similar in every band; a sine's band is far more contrasted
    const tone = spectralFeatures(signal(5, sine(1000)), SR);
    assert.ok(Math.max(...tone.contrast.mean) > Math.max(...s.contrast.mean) + 20);
  });

  it('gives a 440 Hz square wave a higher centroid than a 440 Hz sine', () => {
    const square = spectralFeatures(signal(5, (t) => 0.5 * Math.sign(Math.sin(2 * Math.PI * 440 * t + 0.1))), SR);
    const pure = spectralFeatures(signal(5, sine(440)), SR);
    assert.ok(Math.abs(pure.centroid.mean - 440) < 22, `sine centroid ${pure.centroid.mean}`);
    assert.ok(square.centroid.mean > 2 * pure.centroid.mean, `${square.centroid.mean} vs ${pure.centroid.mean}`);
  });

  it('measures a zero-crossing rate of 2f/sr for a sine of f Hz', () => {
    for (const f of [100, 440, 1000, 3000]) {
      const s = spectralFeatures(signal(3, (t) => 0.5 * Math.sin(2 * Math.PI * f * t + 0.3)), SR);
      const expected = (2 * f) / SR;
      assert.ok(Math.abs(s.zcr.mean - expected) <= 0.05 * expected, `${f} Hz: zcr ${s.zcr.mean} vs ${expected}`);
    }
  });

  it('gives a louder signal more energy, within 0–1', () => {
    const levels = [0.001, 0.01, 0.1, 0.9].map((a) => spectralFeatures(signal(3, sine(440, a)), SR).energy);
    for (let i = 1; i < levels.length; i++) assert.ok((levels[i] as number) > (levels[i - 1] as number), levels.join(' '));
    for (const e of levels) assert.ok(e >= 0 && e <= 1);
    // documented mapping: mean RMS in dBFS, −60 → 0 … 0 → 1 (a 0.1 sine has RMS −23 dBFS)
    assert.ok(Math.abs((levels[2] as number) - (60 - 23.01) / 60) < 0.01, String(levels[2]));
    // a full-scale square wave is at the top (just under: its last frame is partly zero padding)
    assert.ok(spectralFeatures(signal(3, (t) => (Math.sin(2 * Math.PI * 440 * t) >= 0 ? 1 : -1)), SR).energy > 0.99);
  });

  it('returns 13 finite MFCCs that tell a tone from noise', () => {
    const tone = spectralFeatures(signal(3, sine(440)), SR);
    const hiss = spectralFeatures(noise(3, 0.3), SR);
    for (const s of [tone, hiss]) {
      assert.equal(s.mfcc.mean.length, 13);
      assert.equal(s.mfcc.variance.length, 13);
      assert.equal(s.contrast.mean.length, 7);
      for (const v of allNumbers(s)) assert.ok(Number.isFinite(v), String(v));
    }
    // white noise rises on the mel scale (wider bands hold more power): c1 is negative; a low tone's c1 is positive
    assert.ok((hiss.mfcc.mean[1] as number) < 0 && (tone.mfcc.mean[1] as number) > 0);
  });

  it('rates a steady 120 BPM kick pattern more danceable than a drone or noise', () => {
    const kick = spectralFeatures(
      signal(20, (t) => {
        const p = t % 0.5;
        return 0.8 * Math.exp(-p * 20) * Math.sin(2 * Math.PI * 60 * p);
      }),
      SR,
    );
    const drone = spectralFeatures(signal(20, (t) => 0.3 * Math.sin(2 * Math.PI * 110 * t) + 0.2 * Math.sin(2 * Math.PI * 165 * t + Math.sin(t))), SR);
    const hiss = spectralFeatures(noise(20, 0.3), SR);
    assert.ok(kick.danceability > 0.6, `kick ${kick.danceability}`);
    assert.ok(drone.danceability < 0.1, `drone ${drone.danceability}`);
    assert.ok(hiss.danceability < 0.1, `noise ${hiss.danceability}`);
  });

  it('returns all zeros for silence (and for no samples), never NaN', () => {
    for (const x of [new Float32Array(SR * 4), new Float32Array(0), new Float32Array(100)]) {
      const s = spectralFeatures(x, SR);
      for (const v of allNumbers(s)) assert.equal(v, 0);
      assert.equal(s.mfcc.mean.length, 13);
    }
  });

  it('handles a signal shorter than one frame', () => {
    const s = spectralFeatures(signal(0.05, sine(1000)), SR);
    assert.equal(s.frames, 1);
    for (const v of allNumbers(s)) assert.ok(Number.isFinite(v));
    // zero padding truncates the window, which smears the tone: a looser bound
    assert.ok(Math.abs(s.centroid.mean - 1000) < 150, String(s.centroid.mean));
  });
});
