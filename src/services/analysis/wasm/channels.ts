// What the WASM decoders hand out (blocks of channels) and what each channel carries.

/** what a channel carries, which decides how it enters a stereo or mono mix */
export type Role = 'L' | 'R' | 'C' | 'LFE' | 'Ls' | 'Rs' | 'Cs';

export interface DecodedBlock {
  channelData: Float32Array[];
  samplesDecoded: number;
  sampleRate: number;
  errors: ReadonlyArray<{ message: string }>;
}

export interface StreamDecoder {
  readonly name: string;
  decode(data: Uint8Array): Promise<DecodedBlock>;
  flush(): Promise<DecodedBlock | null>;
  free(): void;
  /** how many of the decoded channels are real (mpg123 always hands out two) */
  channels(decoded: number): number;
  roles(channels: number): Role[];
}

// channel orders: FLAC and WAV follow the WAVE order, Vorbis and Opus their own
export const WAVE_ORDER: Role[][] = [
  [],
  ['C'],
  ['L', 'R'],
  ['L', 'R', 'C'],
  ['L', 'R', 'Ls', 'Rs'],
  ['L', 'R', 'C', 'Ls', 'Rs'],
  ['L', 'R', 'C', 'LFE', 'Ls', 'Rs'],
  ['L', 'R', 'C', 'LFE', 'Cs', 'Ls', 'Rs'],
  ['L', 'R', 'C', 'LFE', 'Ls', 'Rs', 'Ls', 'Rs'],
];
export const VORBIS_ORDER: Role[][] = [
  [],
  ['C'],
  ['L', 'R'],
  ['L', 'C', 'R'],
  ['L', 'R', 'Ls', 'Rs'],
  ['L', 'C', 'R', 'Ls', 'Rs'],
  ['L', 'C', 'R', 'Ls', 'Rs', 'LFE'],
  ['L', 'C', 'R', 'Ls', 'Rs', 'Cs', 'LFE'],
  ['L', 'C', 'R', 'Ls', 'Rs', 'Ls', 'Rs', 'LFE'],
];

export function rolesFrom(table: Role[][], channels: number): Role[] {
  const known = table[channels];
  if (known) return known;
  // unknown layouts: the first two as left and right, the rest mixed in the middle
  return Array.from({ length: channels }, (_, i): Role => (i === 0 ? 'L' : i === 1 ? 'R' : 'C'));
}

