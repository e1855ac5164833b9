import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { camelot, chromagram, estimateKey, KEY_NAMES, type Scale } from '../../src/services/analysis/key.js';
import { seededRandom } from '../../scripts/random.js';

// Accuracy of the key detector on synthetic chord progressions with known keys, generated here
// (deterministic: a seeded PRNG for phases, levels and noise).

const RATE = 22_050;
const CHORD_SECONDS = 2;


type Timbre = 'saw' | 'piano';

/**
 * Renders one note (`seconds` long) with a few harmonics: 'saw' has 1/h partials and a slow decay
 * (an organ/string pad), 'piano' has 1/h^1.5 partials whose decay quickens with the harmonic number.
 */
function renderNote(freq: number, seconds: number, timbre: Timbre, random: () => number): Float32Array {
  const n = Math.round(seconds * RATE);
  const out = new Float32Array(n);
  const attack = Math.round(0.008 * RATE);
  const release = Math.round(0.04 * RATE);
  for (let h = 1; h <= 6; h++) {
    const f = h * freq;
    if (f > 0.45 * RATE) break;
    let amp = timbre === 'saw' ? 1 / h : 1 / h ** 1.5;
    const decayPerSecond = timbre === 'saw' ? 0.4 : 0.9 + 0.7 * h;
    const decay = Math.exp(-decayPerSecond / RATE);
    const w = (2 * Math.PI * f) / RATE;
    const cr = Math.cos(w);
    const sr = Math.sin(w);
    const phase = 2 * Math.PI * random();
    let c = Math.cos(phase);
    let s = Math.sin(phase);
    for (let i = 0; i < n; i++) {
      out[i]! += amp * s;
      const c2 = c * cr - s * sr;
      s = c * sr + s * cr;
      c = c2;
      amp *= decay;
    }
  }
  for (let i = 0; i < attack && i < n; i++) out[i]! *= i / attack;
  for (let i = 0; i < release && i < n; i++) out[n - 1 - i]! *= i / release;
  return out;
}

interface Chord {
  /** root, in semitones above the tonic */
  root: number;
  minor: boolean;
}

const I: Chord = { root: 0, minor: false };
const IV: Chord = { root: 5, minor: false };
const V: Chord = { root: 7, minor: false };
const vi: Chord = { root: 9, minor: true };
const i_: Chord = { root: 0, minor: true };
const iv: Chord = { root: 5, minor: true };
const III: Chord = { root: 3, minor: false };
const VI: Chord = { root: 8, minor: false };
const VII: Chord = { root: 10, minor: false };

interface Progression {
  name: string;
  scale: Scale;
  chords: Chord[];
  voicing: 'close' | 'open';
  timbre: Timbre;
}

// Each progression is played twice; a loop that does not end on the tonic gets a final tonic
// chord, as songs do (i–VI–III–VII holds the same notes as the relative major's vi–IV–I–V, so only
// where it starts and comes home tells the two apart). 16 or 18 s per example.
const PROGRESSIONS: Progression[] = [
  { name: 'I-IV-V-I', scale: 'major', chords: [I, IV, V, I], voicing: 'close', timbre: 'saw' },
  { name: 'I-vi-IV-V', scale: 'major', chords: [I, vi, IV, V], voicing: 'open', timbre: 'piano' },
  { name: 'i-iv-V-i', scale: 'minor', chords: [i_, iv, V, i_], voicing: 'close', timbre: 'saw' },
  { name: 'i-VI-III-VII', scale: 'minor', chords: [i_, VI, III, VII], voicing: 'open', timbre: 'piano' },
];

function sequence(p: Progression): Chord[] {
  const seq = [...p.chords, ...p.chords];
  const last = seq[seq.length - 1]!;
  if (last.root !== 0) seq.push(p.chords[0]!);
  return seq;
}

/** The pitch in [low, low + 12) with pitch class pc. */
function placeAbove(pc: number, low: number): number {
  return low + ((((pc - low) % 12) + 12) % 12);
}

/** MIDI notes of a chord on the tonic pitch class `tonic`: a bass root and a voiced triad. */
function voice(tonic: number, chord: Chord, voicing: 'close' | 'open'): number[] {
  const root = (tonic + chord.root) % 12;
  const third = (root + (chord.minor ? 3 : 4)) % 12;
  const fifth = (root + 7) % 12;
  if (voicing === 'close') {
    // bass C2..B2, triad in close position within G3..F#4
    return [placeAbove(root, 36), placeAbove(root, 55), placeAbove(third, 55), placeAbove(fifth, 55)];
  }
  // bass E2..Eb3; open position: root F3..E4, the fifth above it and the third an octave higher
  const r = placeAbove(root, 53);
  return [placeAbove(root, 40), r, placeAbove(fifth, r + 1), placeAbove(third, r + 12)];
}

function synthesize(tonic: number, p: Progression, cents: number, seed: number): Float32Array {
  const random = seededRandom(seed);
  const chords = sequence(p);
  const chordSamples = CHORD_SECONDS * RATE;
  const out = new Float32Array(chords.length * chordSamples);
  const detune = 2 ** (cents / 1200);
  const cache = new Map<number, Float32Array>();
  chords.forEach((chord, index) => {
    const notes = voice(tonic, chord, p.voicing);
    notes.forEach((midi, n) => {
      let wave = cache.get(midi);
      if (!wave) {
        wave = renderNote(440 * 2 ** ((midi - 69) / 12) * detune, CHORD_SECONDS, p.timbre, random);
        cache.set(midi, wave);
      }
      // the bass a little louder, the other voices at slightly varied levels
      const level = (n === 0 ? 0.16 : 0.1) * (0.8 + 0.4 * random());
      const offset = index * chordSamples;
      for (let i = 0; i < wave.length; i++) out[offset + i]! += level * wave[i]!;
    });
  });
  // light noise: uniform white noise, ~ −40 dBFS RMS
  for (let i = 0; i < out.length; i++) out[i]! += 0.03 * (random() - 0.5);
  return out;
}

const name = (pc: number, scale: Scale): string => `${KEY_NAMES[pc]} ${scale}`;

function kind(trueTonic: number, trueScale: Scale, tonic: number, scale: Scale): string {
  const d = (tonic - trueTonic + 12) % 12;
  if (scale !== trueScale) {
    if (d === 0) return 'parallel';
    if ((trueScale === 'major' && d === 9) || (trueScale === 'minor' && d === 3)) return 'relative';
  } else {
    if (d === 7) return 'fifth up';
    if (d === 5) return 'fifth down';
  }
  return 'other';
}

describe('key detection', () => {
  it('finds key and scale in at least 90% of chord progressions in all 24 keys (in tune and +30 cents)', () => {
    const columns = PROGRESSIONS.flatMap((p) => [0, 30].map((cents) => ({ p, cents })));
    let right = 0;
    let total = 0;
    const confusions = new Map<string, number>();
    const perColumn = columns.map(() => 0);
    const rows: string[] = [];
    let seed = 1;
    for (const scale of ['major', 'minor'] as const) {
      for (let tonic = 0; tonic < 12; tonic++) {
        const cells: string[] = [];
        columns.forEach(({ p, cents }, c) => {
          if (p.scale !== scale) return;
          const signal = synthesize(tonic, p, cents, seed++);
          const got = estimateKey(signal, RATE);
          const gotTonic = KEY_NAMES.indexOf(got.key as (typeof KEY_NAMES)[number]);
          const ok = gotTonic === tonic && got.scale === scale;
          total++;
          if (ok) {
            right++;
            perColumn[c]!++;
            cells.push(`ok ${got.confidence.toFixed(2)}`.padEnd(22));
          } else {
            const k = kind(tonic, scale, gotTonic, got.scale);
            confusions.set(k, (confusions.get(k) ?? 0) + 1);
            cells.push(`${name(gotTonic, got.scale)} (${k})`.padEnd(22));
          }
        });
        rows.push(`${name(tonic, scale).padEnd(9)} | ${cells.join(' | ')}`);
      }
    }
    const header = (scale: Scale) =>
      `${'key'.padEnd(9)} | ${columns
        .filter(({ p }) => p.scale === scale)
        .map(({ p, cents }) => `${p.name}${cents ? ` +${cents}c` : ''}`.padEnd(22))
        .join(' | ')}`;
    const accuracy = (100 * right) / total;
    console.log(
      [
        header('major'),
        ...rows.slice(0, 12),
        header('minor'),
        ...rows.slice(12),
        '',
        ...columns.map(({ p, cents }, c) => `${`${p.name}${cents ? ` +${cents}c` : ''}`.padEnd(20)} ${perColumn[c]}/12`),
        `confusions: ${[...confusions].map(([k, v]) => `${k} ${v}`).join(', ') || 'none'}`,
        `key+scale right: ${right}/${total} = ${accuracy.toFixed(1)}%`,
      ].join('\n'),
    );
    assert.ok(accuracy >= 90, `accuracy ${accuracy.toFixed(1)}% < 90%`);
  });

  it('is confident on a clear progression and gives the chroma of its chords', () => {
    const signal = synthesize(0, PROGRESSIONS[0]!, 0, 99);
    const { mean, variance } = chromagram(signal, RATE);
    assert.equal(mean.length, 12);
    assert.equal(variance.length, 12);
    assert.ok(Math.abs(mean.reduce((s, v) => s + v, 0) - 1) < 1e-9);
    // C major I–IV–V–I: the seven diatonic notes outweigh the five others
    const diatonic = [0, 2, 4, 5, 7, 9, 11];
    const minDiatonic = Math.min(...diatonic.map((pc) => mean[pc]!));
    const maxChromatic = Math.max(...[1, 3, 6, 8, 10].map((pc) => mean[pc]!));
    assert.ok(minDiatonic > maxChromatic, `${[...mean].map((v) => v.toFixed(3)).join(' ')}`);
    assert.ok(variance.every((v) => v >= 0));
    const key = estimateKey(signal, RATE);
    assert.deepEqual([key.key, key.scale, key.camelot], ['C', 'major', '8B']);
    assert.ok(key.confidence > 0 && key.confidence <= 1);
  });

  it('corrects a tuning offset of +45 cents (the chord tones do not smear onto their neighbours)', () => {
    const random = seededRandom(7);
    const signal = new Float32Array(8 * RATE);
    for (const midi of [48, 60, 64, 67]) {
      const wave = renderNote(440 * 2 ** ((midi - 69 + 0.45) / 12), 8, 'saw', random);
      for (let i = 0; i < signal.length; i++) signal[i]! += 0.1 * wave[i]!;
    }
    const { mean } = chromagram(signal, RATE);
    // C#, Eb, F, F# and Ab: the semitone neighbours of C, E and G that no harmonic of them reaches
    // (B and D do: the third harmonics of E and G)
    const weakest = Math.min(mean[0]!, mean[4]!, mean[7]!);
    for (const pc of [1, 3, 5, 6, 8]) {
      assert.ok(weakest > 3 * mean[pc]!, `pc ${pc}: ${[...mean].map((v) => v.toFixed(3)).join(' ')}`);
    }
  });

  it('returns confidence 0 for silence, empty and very short input without throwing', () => {
    for (const signal of [new Float32Array(RATE * 5), new Float32Array(0), new Float32Array(100), new Float32Array(RATE).fill(1e-7)]) {
      const key = estimateKey(signal, RATE);
      assert.equal(key.confidence, 0);
      assert.ok(KEY_NAMES.includes(key.key as (typeof KEY_NAMES)[number]));
      const { mean, variance } = chromagram(signal, RATE);
      assert.ok(mean.every((v) => v === 0) && variance.every((v) => v === 0));
    }
  });

  it('gives the Camelot code of all 24 keys', () => {
    const table: Record<string, [string, string]> = {
      // key: [major, minor]
      C: ['8B', '5A'],
      'C#': ['3B', '12A'],
      D: ['10B', '7A'],
      Eb: ['5B', '2A'],
      E: ['12B', '9A'],
      F: ['7B', '4A'],
      'F#': ['2B', '11A'],
      G: ['9B', '6A'],
      Ab: ['4B', '1A'],
      A: ['11B', '8A'],
      Bb: ['6B', '3A'],
      B: ['1B', '10A'],
    };
    assert.equal(Object.keys(table).length, 12);
    for (const key of KEY_NAMES) {
      const [major, minor] = table[key]!;
      assert.equal(camelot(key, 'major'), major, `${key} major`);
      assert.equal(camelot(key, 'minor'), minor, `${key} minor`);
    }
    // enharmonic spellings land on the same code
    assert.equal(camelot('Db', 'major'), '3B');
    assert.equal(camelot('G#', 'minor'), '1A');
    assert.equal(camelot('Gb', 'major'), '2B');
    assert.throws(() => camelot('H', 'major'), RangeError);
  });
});
