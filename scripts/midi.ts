// A small Standard MIDI File reader for the accuracy set (scripts/accuracy-set.ts): it reads what
// the truth needs (tempo map, time and key signatures, notes) and patches a copy in place for the
// set's variants (tempo scaled, transposed). Patching never changes an event's length, so the
// file's structure stays byte-for-byte what its author wrote.

export interface MidiNote {
  tick: number;
  ticks: number;
  pitch: number;
  channel: number;
}

export interface MidiFile {
  format: number;
  /** ticks per quarter note (SMPTE time division is refused) */
  division: number;
  /** (tick, microseconds per quarter) in tick order; the default 500,000 when the file sets none at 0 */
  tempos: { tick: number; usPerQuarter: number; offset: number }[];
  timeSignatures: { tick: number; numerator: number; denominator: number }[];
  /** sf: −7 (7 flats) … 7 (7 sharps); minor: the mode flag */
  keySignatures: { tick: number; sf: number; minor: boolean; offset: number }[];
  notes: MidiNote[];
  /** byte offsets of every note-on/off/aftertouch key number outside channel 10 (drums) */
  pitchOffsets: number[];
  endTick: number;
}

export class MidiError extends Error {}

export function parseMidi(bytes: Uint8Array): MidiFile {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const text = (at: number): string => String.fromCharCode(...bytes.subarray(at, at + 4));
  if (bytes.length < 14 || text(0) !== 'MThd') throw new MidiError('not a Standard MIDI File (no MThd header)');
  const headerLength = view.getUint32(4);
  const format = view.getUint16(8);
  const trackCount = view.getUint16(10);
  const division = view.getUint16(12);
  if (division & 0x8000) throw new MidiError('SMPTE time division is not supported');
  if (division === 0) throw new MidiError('time division 0');
  const file: MidiFile = { format, division, tempos: [], timeSignatures: [], keySignatures: [], notes: [], pitchOffsets: [], endTick: 0 };
  let at = 8 + headerLength;
  for (let t = 0; t < trackCount && at + 8 <= bytes.length; t++) {
    if (text(at) !== 'MTrk') throw new MidiError(`chunk ${t} at byte ${at} is not a track`);
    const length = view.getUint32(at + 4);
    const end = Math.min(bytes.length, at + 8 + length);
    readTrack(bytes, at + 8, end, file);
    at = end;
  }
  file.tempos.sort((a, b) => a.tick - b.tick);
  file.timeSignatures.sort((a, b) => a.tick - b.tick);
  file.keySignatures.sort((a, b) => a.tick - b.tick);
  file.notes.sort((a, b) => a.tick - b.tick);
  return file;
}

function readTrack(bytes: Uint8Array, start: number, end: number, file: MidiFile): void {
  let at = start;
  let tick = 0;
  let status = 0;
  const open = new Map<number, number[]>(); // channel·128 + pitch → start ticks
  const varLen = (): number => {
    let value = 0;
    for (let i = 0; i < 4; i++) {
      if (at >= end) throw new MidiError('truncated variable-length number');
      const b = bytes[at++]!;
      value = (value << 7) | (b & 0x7f);
      if (!(b & 0x80)) return value;
    }
    throw new MidiError('variable-length number longer than 4 bytes');
  };
  while (at < end) {
    tick += varLen();
    if (at >= end) break;
    let first = bytes[at]!;
    if (first & 0x80) {
      at++;
    } else {
      if (!status) throw new MidiError('running status without a status byte');
      first = status;
    }
    if (first === 0xff) {
      const type = bytes[at++]!;
      const length = varLen();
      const data = at;
      at += length;
      if (type === 0x51 && length === 3) {
        const us = (bytes[data]! << 16) | (bytes[data + 1]! << 8) | bytes[data + 2]!;
        if (us > 0) file.tempos.push({ tick, usPerQuarter: us, offset: data });
      } else if (type === 0x58 && length >= 2) {
        file.timeSignatures.push({ tick, numerator: bytes[data]!, denominator: 2 ** bytes[data + 1]! });
      } else if (type === 0x59 && length === 2) {
        file.keySignatures.push({ tick, sf: (bytes[data]! << 24) >> 24, minor: bytes[data + 1] === 1, offset: data });
      } else if (type === 0x2f) {
        break;
      }
      continue;
    }
    if (first === 0xf0 || first === 0xf7) {
      const length = varLen(); // (not `at += varLen()`: that would add to the `at` read before the call)
      at += length;
      continue;
    }
    status = first;
    const kind = first & 0xf0;
    const channel = first & 0x0f;
    const dataBytes = kind === 0xc0 || kind === 0xd0 ? 1 : 2;
    const a = bytes[at]!;
    const b = dataBytes === 2 ? bytes[at + 1]! : 0;
    if ((kind === 0x80 || kind === 0x90 || kind === 0xa0) && channel !== 9) file.pitchOffsets.push(at);
    at += dataBytes;
    if (kind === 0x90 && b > 0) {
      const id = channel * 128 + a;
      const list = open.get(id) ?? [];
      list.push(tick);
      open.set(id, list);
    } else if (kind === 0x80 || (kind === 0x90 && b === 0)) {
      const startTick = open.get(channel * 128 + a)?.shift();
      if (startTick !== undefined) file.notes.push({ tick: startTick, ticks: tick - startTick, pitch: a, channel });
    }
  }
  if (tick > file.endTick) file.endTick = tick;
}

/** seconds at a tick through the tempo map */
export function secondsAt(file: MidiFile, tick: number): number {
  let seconds = 0;
  let lastTick = 0;
  let us = 500_000;
  for (const tempo of file.tempos) {
    if (tempo.tick >= tick) break;
    seconds += ((tempo.tick - lastTick) * us) / file.division / 1e6;
    lastTick = tempo.tick;
    us = tempo.usPerQuarter;
  }
  return seconds + ((tick - lastTick) * us) / file.division / 1e6;
}

/**
 * The tempo (quarter notes per minute) that covers at least `share` of the piece's duration
 * (tempi within 1 % count as one), or null when the tempo wanders.
 */
export function dominantTempo(file: MidiFile, share = 0.9): number | null {
  const spans = new Map<number, number>();
  const marks = [...file.tempos];
  if (marks.length === 0 || marks[0]!.tick > 0) marks.unshift({ tick: 0, usPerQuarter: 500_000, offset: -1 });
  const total = secondsAt(file, file.endTick);
  if (!(total > 0)) return null;
  for (let i = 0; i < marks.length; i++) {
    const from = marks[i]!.tick;
    const to = Math.min(file.endTick, marks[i + 1]?.tick ?? file.endTick);
    if (to <= from) continue;
    const bpm = 60e6 / marks[i]!.usPerQuarter;
    const key = [...spans.keys()].find((k) => Math.abs(k / bpm - 1) < 0.01) ?? bpm;
    spans.set(key, (spans.get(key) ?? 0) + secondsAt(file, to) - secondsAt(file, from));
  }
  for (const [bpm, seconds] of spans) if (seconds >= share * total) return bpm;
  return null;
}

/** Duration-weighted pitch-class histogram of the pitched notes (channel 10 is drums). */
export function pitchClassWeights(file: MidiFile): number[] {
  const weights = new Array<number>(12).fill(0);
  for (const note of file.notes) if (note.channel !== 9) weights[note.pitch % 12]! += note.ticks;
  return weights;
}

/** The pitched notes sounding in the last beat of the piece. */
function finalBeat(file: MidiFile): MidiNote[] {
  let last = 0;
  for (const note of file.notes) if (note.channel !== 9) last = Math.max(last, note.tick + note.ticks);
  const from = last - file.division;
  return file.notes.filter((note) => note.channel !== 9 && note.tick + note.ticks > from);
}

/** Pitch class of the lowest pitched note sounding in the last beat of the piece (null if none). */
export function finalBass(file: MidiFile): number | null {
  let low: number | null = null;
  for (const note of finalBeat(file)) if (low === null || note.pitch < low) low = note.pitch;
  return low === null ? null : low % 12;
}

/** The pitch classes sounding in the last beat of the piece (the final chord). */
export function finalPitchClasses(file: MidiFile): Set<number> {
  return new Set(finalBeat(file).map((note) => note.pitch % 12));
}

/** tonic pitch class of a key signature's major key (sf sharps, negative for flats) */
export function majorTonic(sf: number): number {
  return (((sf * 7) % 12) + 12) % 12;
}

/** the key signature (sf) whose major key (or relative major of a minor key) has this tonic */
export function signatureOf(tonic: number, minor: boolean): number {
  const major = minor ? (tonic + 3) % 12 : tonic;
  const sf = (major * 7) % 12; // fifths above C
  return sf > 6 ? sf - 12 : sf;
}

/**
 * A copy with every tempo multiplied by `factor` and every pitched note (and the key signatures)
 * moved by `semitones`; a note pushed outside 0–127 moves by an octave the other way.
 */
export function patchMidi(bytes: Uint8Array, file: MidiFile, factor: number, semitones: number): Uint8Array {
  const out = Uint8Array.from(bytes);
  const tempos = file.tempos.length > 0 ? file.tempos : [];
  for (const tempo of tempos) {
    const us = Math.max(1, Math.min(0xffffff, Math.round(tempo.usPerQuarter / factor)));
    out[tempo.offset] = us >> 16;
    out[tempo.offset + 1] = (us >> 8) & 0xff;
    out[tempo.offset + 2] = us & 0xff;
  }
  if (semitones !== 0) {
    for (const at of file.pitchOffsets) {
      let p = bytes[at]! + semitones;
      if (p > 127) p -= 12;
      if (p < 0) p += 12;
      out[at] = p;
    }
    for (const sig of file.keySignatures) {
      const tonic = sig.minor ? (majorTonic(sig.sf) + 9) % 12 : majorTonic(sig.sf);
      out[sig.offset] = signatureOf((tonic + semitones + 120) % 12, sig.minor) & 0xff;
    }
  }
  return out;
}
