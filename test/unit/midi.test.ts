import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { keyTruth } from '../../scripts/accuracy-set.js';
import { dominantTempo, MidiError, parseMidi, patchMidi, secondsAt } from '../../scripts/midi.js';

// The accuracy set's truth comes from MIDI files (scripts/midi.ts): these build small files byte by
// byte, with the features real files use (running status, note-on velocity 0 as note-off, SysEx,
// tempo changes), and check what the set would take as tempo and key.

const DIVISION = 96;

function varLen(value: number): number[] {
  const bytes = [value & 0x7f];
  for (let v = value >> 7; v > 0; v >>= 7) bytes.unshift((v & 0x7f) | 0x80);
  return bytes;
}

function chunk(type: string, body: number[]): number[] {
  const n = body.length;
  return [...Buffer.from(type, 'latin1'), (n >>> 24) & 0xff, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff, ...body];
}

function tempo(bpm: number): number[] {
  const us = Math.round(60e6 / bpm);
  return [0xff, 0x51, 0x03, us >> 16, (us >> 8) & 0xff, us & 0xff];
}

/**
 * A two-track file: a conductor track (tempo `bpm`, 4/4, key signature `sf`/`minor`, an optional
 * tempo change after `changeAfterBeats`), and bars of a chord progression given as bass pitches
 * (each bar: bass, third and fifth above it; the notes after the first use running status and end
 * with velocity-0 note-ons), plus a drum hit on channel 10.
 */
function song(options: { bpm: number; sf: number; minor: boolean; bars: number[]; thirds: number[]; change?: { beats: number; bpm: number }; lastBar?: number[] }): Uint8Array {
  const conductor = [0x00, ...tempo(options.bpm), 0x00, 0xff, 0x58, 0x04, 0x04, 0x02, 0x18, 0x08, 0x00, 0xff, 0x59, 0x02, options.sf & 0xff, options.minor ? 1 : 0];
  // a SysEx (GM reset) before the change: its length must be skipped correctly
  conductor.push(0x00, 0xf0, 0x05, 0x7e, 0x7f, 0x09, 0x01, 0xf7);
  if (options.change) conductor.push(...varLen(options.change.beats * DIVISION), ...tempo(options.change.bpm));
  conductor.push(0x00, 0xff, 0x2f, 0x00);
  const track: number[] = [];
  options.bars.forEach((bass, i) => {
    const third = bass + options.thirds[i]!;
    track.push(0x00, 0x90, bass, 100, 0x00, third, 90, 0x00, bass + 7, 90, 0x00, 0x99, 36, 110);
    track.push(...varLen(4 * DIVISION), 0x90, bass, 0, 0x00, third, 0, 0x00, bass + 7, 0, 0x00, 0x89, 36, 0);
  });
  // an optional final bar of the given pitches (a voicing the bars above cannot give)
  if (options.lastBar) {
    options.lastBar.forEach((pitch) => track.push(0x00, 0x90, pitch, 90));
    options.lastBar.forEach((pitch, i) => track.push(...varLen(i === 0 ? 4 * DIVISION : 0), 0x80, pitch, 0));
  }
  track.push(0x00, 0xff, 0x2f, 0x00);
  return Uint8Array.from([...chunk('MThd', [0, 1, 0, 2, 0, DIVISION]), ...chunk('MTrk', conductor), ...chunk('MTrk', track)]);
}

// C major: I–IV–V–I four times, ending on C; A minor: i–iv–V–i, ending on A
const C_MAJOR = { bars: [48, 53, 55, 48].flatMap((p) => [p, p, p, p]), thirds: new Array<number>(16).fill(4) };
const A_MINOR = { bars: [45, 50, 52, 45].flatMap((p) => [p, p, p, p]), thirds: [3, 3, 4, 3].flatMap((t) => [t, t, t, t]) };

describe('MIDI truth for the accuracy set', () => {
  it('reads the tempo map, signatures and notes (running status, velocity-0 note-offs, SysEx)', () => {
    const file = parseMidi(song({ bpm: 90, sf: 0, minor: false, ...C_MAJOR }));
    assert.equal(file.division, DIVISION);
    assert.deepEqual(file.tempos.map((t) => Math.round(60e6 / t.usPerQuarter)), [90]);
    assert.deepEqual(file.timeSignatures.map((t) => `${t.numerator}/${t.denominator}`), ['4/4']);
    assert.equal(file.notes.filter((n) => n.channel !== 9).length, 48);
    assert.ok(file.notes.every((n) => n.ticks === 4 * DIVISION));
    // 16 bars of 4 beats at 90 BPM
    assert.ok(Math.abs(secondsAt(file, file.endTick) - (64 * 60) / 90) < 1e-3);
    assert.equal(Math.round(dominantTempo(file)!), 90);
  });

  it('has no tempo truth when no tempo covers 90 % of the piece', () => {
    const steady = parseMidi(song({ bpm: 120, sf: 0, minor: false, ...C_MAJOR, change: { beats: 62, bpm: 60 } }));
    assert.equal(dominantTempo(steady), 120); // 62 of 64 beats at 120: 31 s of 33 s
    const wandering = parseMidi(song({ bpm: 120, sf: 0, minor: false, ...C_MAJOR, change: { beats: 32, bpm: 60 } }));
    assert.equal(dominantTempo(wandering), null);
  });

  it('takes the key signature when the notes confirm it, with the mode the music ends on', () => {
    assert.deepEqual(keyTruth(parseMidi(song({ bpm: 100, sf: 0, minor: false, ...C_MAJOR }))), { tonic: 0, minor: false });
    // the same signature, music in A minor (relative): the notes and the final bass say minor
    assert.deepEqual(keyTruth(parseMidi(song({ bpm: 100, sf: 0, minor: false, ...A_MINOR }))), { tonic: 9, minor: true });
    // a signature the notes contradict (3 sharps over C major music) gives no key truth
    assert.equal(keyTruth(parseMidi(song({ bpm: 100, sf: 3, minor: false, ...C_MAJOR }))), null);
  });

  it('reads the mode from the final chord, not its lowest note, and prefers the key a piece was written in', () => {
    // A minor music ending on its tonic chord with the third in the bass (C–E–A): still A minor
    const inverted = parseMidi(song({ bpm: 100, sf: 0, minor: false, ...A_MINOR, lastBar: [48, 52, 57] }));
    assert.deepEqual(keyTruth(inverted), { tonic: 9, minor: true });
    // the key the set's script wrote a piece in wins, when the notes confirm its signature
    const cMajor = parseMidi(song({ bpm: 100, sf: 0, minor: false, ...C_MAJOR }));
    assert.deepEqual(keyTruth(cMajor, { tonic: 9, minor: true }), { tonic: 9, minor: true });
    assert.equal(keyTruth(cMajor, { tonic: 2, minor: false }), null);
  });

  it('scales the tempo and transposes pitched notes and the key signature, drums untouched', () => {
    const bytes = song({ bpm: 100, sf: 0, minor: true, ...A_MINOR });
    const file = parseMidi(bytes);
    const patched = parseMidi(patchMidi(bytes, file, 1.5, 2));
    assert.equal(Math.round(dominantTempo(patched)!), 150);
    assert.deepEqual(keyTruth(patched), { tonic: 11, minor: true }); // B minor
    assert.equal(patched.keySignatures[0]!.sf, 2);
    const drums = patched.notes.filter((n) => n.channel === 9);
    assert.ok(drums.length > 0 && drums.every((n) => n.pitch === 36));
    assert.deepEqual(
      patched.notes.filter((n) => n.channel !== 9).map((n) => n.pitch),
      file.notes.filter((n) => n.channel !== 9).map((n) => n.pitch + 2),
    );
  });

  it('refuses what is not a Standard MIDI File', () => {
    assert.throws(() => parseMidi(Buffer.from('RIFF....WAVEfmt ')), MidiError);
    const truncated = song({ bpm: 100, sf: 0, minor: false, ...C_MAJOR });
    assert.throws(() => parseMidi(truncated.subarray(0, 12)), MidiError);
  });
});
