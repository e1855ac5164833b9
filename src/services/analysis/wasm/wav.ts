// WAV reader: PCM 8/16/24/32-bit, float 32/64-bit, WAVE_FORMAT_EXTENSIBLE with its channel mask, RF64.
import { DecodeError } from '../decode.js';
import { rolesFrom, WAVE_ORDER, type DecodedBlock, type Role } from './channels.js';
import { ascii } from './recognise.js';

const SPEAKER_ROLES: Role[] = ['L', 'R', 'C', 'LFE', 'Ls', 'Rs', 'L', 'R', 'Cs', 'Ls', 'Rs', 'C', 'L', 'C', 'R', 'Ls', 'Cs', 'Rs'];

/** A streaming reader of RIFF/RF64 WAVE files holding integer PCM or IEEE float samples. */
export class WavDecoder {
  private carry: Uint8Array = new Uint8Array(0);
  private stage: 'riff' | 'chunk' | 'skip' | 'fmt' | 'data' | 'done' = 'riff';
  private skip = 0;
  private fmtSize = 0;
  private rf64DataSize: number | null = null;
  private remaining = 0;
  private format: { float: boolean; channels: number; sampleRate: number; bytes: number; mask: number } | null = null;

  roles(channels: number): Role[] {
    const mask = this.format?.mask ?? 0;
    if (mask) {
      const roles: Role[] = [];
      SPEAKER_ROLES.forEach((role, bit) => {
        if (mask & (1 << bit)) roles.push(role);
      });
      if (roles.length === channels) return roles;
    }
    return rolesFrom(WAVE_ORDER, channels);
  }

  decode(bytes: Uint8Array): DecodedBlock {
    let data = bytes;
    if (this.carry.length > 0) {
      data = new Uint8Array(this.carry.length + bytes.length);
      data.set(this.carry);
      data.set(bytes, this.carry.length);
    }
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    let pos = 0;
    let block: DecodedBlock = { channelData: [], samplesDecoded: 0, sampleRate: this.format?.sampleRate ?? 0, errors: [] };
    loop: while (pos < data.length) {
      const left = data.length - pos;
      switch (this.stage) {
        case 'riff': {
          if (left < 12) break loop;
          const id = ascii(data, pos, 4);
          if ((id !== 'RIFF' && id !== 'RF64') || ascii(data, pos + 8, 4) !== 'WAVE') throw new DecodeError('the file is not a valid WAV file');
          pos += 12;
          this.stage = 'chunk';
          break;
        }
        case 'chunk': {
          if (left < 8) break loop;
          const id = ascii(data, pos, 4);
          const size = view.getUint32(pos + 4, true);
          pos += 8;
          if (id === 'fmt ') {
            this.stage = 'fmt';
            this.fmtSize = size + (size & 1);
          } else if (id === 'ds64' && size >= 16) {
            // RF64: the 64-bit data size follows the 64-bit RIFF size
            if (left - 8 < 16) {
              pos -= 8;
              break loop;
            }
            this.rf64DataSize = view.getUint32(pos + 8, true) + view.getUint32(pos + 12, true) * 2 ** 32;
            this.stage = 'skip';
            this.skip = size + (size & 1);
          } else if (id === 'data') {
            if (!this.format) throw new DecodeError('the WAV file is corrupt: its data chunk comes before its format chunk');
            // a size of 0xFFFFFFFF (or an RF64 placeholder) means "up to the end of the file"
            this.remaining = size === 0xffffffff ? (this.rf64DataSize ?? Infinity) : size;
            this.stage = 'data';
          } else {
            this.stage = 'skip';
            this.skip = size + (size & 1);
          }
          break;
        }
        case 'skip': {
          const n = Math.min(this.skip, left);
          pos += n;
          this.skip -= n;
          if (this.skip === 0) this.stage = 'chunk';
          break;
        }
        case 'fmt': {
          if (left < this.fmtSize) break loop;
          this.format = parseWavFormat(view, pos, this.fmtSize);
          pos += this.fmtSize;
          this.stage = 'chunk';
          break;
        }
        case 'data': {
          const format = this.format!;
          const frameBytes = format.bytes * format.channels;
          const frames = Math.floor(Math.min(this.remaining, left) / frameBytes);
          if (frames === 0) {
            if (this.remaining < frameBytes) this.stage = 'done';
            break loop;
          }
          block = { channelData: readPcm(view, pos, frames, format), samplesDecoded: frames, sampleRate: format.sampleRate, errors: [] };
          pos += frames * frameBytes;
          this.remaining -= frames * frameBytes;
          if (this.remaining < frameBytes) this.stage = 'done';
          break loop;
        }
        case 'done':
          pos = data.length;
          break;
      }
    }
    // keep what could not be used yet: a partial header or a partial sample frame
    this.carry = pos < data.length && this.stage !== 'done' ? data.slice(pos) : new Uint8Array(0);
    return block;
  }
}

function parseWavFormat(view: DataView, at: number, size: number) {
  if (size < 16) throw new DecodeError('the WAV file is corrupt: its format chunk is too short');
  let tag = view.getUint16(at, true);
  const channels = view.getUint16(at + 2, true);
  const sampleRate = view.getUint32(at + 4, true);
  const blockAlign = view.getUint16(at + 12, true);
  const bits = view.getUint16(at + 14, true);
  let mask = 0;
  if (tag === 0xfffe && size >= 40) {
    mask = view.getUint32(at + 20, true);
    tag = view.getUint16(at + 24, true); // the first two bytes of the sub-format GUID
  }
  if (tag !== 1 && tag !== 3) {
    const names: Record<number, string> = { 2: 'MS ADPCM', 6: 'A-law', 7: 'µ-law', 0x11: 'IMA ADPCM', 0x55: 'MP3', 0x161: 'WMA' };
    const name = names[tag] ?? `format 0x${tag.toString(16)}`;
    throw new DecodeError(`WAV holding ${name} audio cannot be decoded without ffmpeg (apt-get install ffmpeg): the WASM decoders read PCM and float WAV`);
  }
  if (channels === 0 || sampleRate === 0) throw new DecodeError('the WAV file is corrupt: no channels or no sample rate');
  const bytes = blockAlign > 0 && blockAlign % channels === 0 ? blockAlign / channels : Math.ceil(bits / 8);
  const float = tag === 3;
  if (float ? bytes !== 4 && bytes !== 8 : bytes < 1 || bytes > 4) {
    throw new DecodeError(`the WAV file holds ${bits}-bit ${float ? 'float' : 'integer'} samples, which the WASM decoder does not read`);
  }
  return { float, channels, sampleRate, bytes, mask };
}

function readPcm(view: DataView, at: number, frames: number, f: { float: boolean; channels: number; bytes: number }): Float32Array[] {
  const out = Array.from({ length: f.channels }, () => new Float32Array(frames));
  const stride = f.bytes * f.channels;
  for (let c = 0; c < f.channels; c++) {
    const dest = out[c]!;
    let p = at + c * f.bytes;
    if (f.float && f.bytes === 4) for (let i = 0; i < frames; i++, p += stride) dest[i] = view.getFloat32(p, true);
    else if (f.float) for (let i = 0; i < frames; i++, p += stride) dest[i] = view.getFloat64(p, true);
    else if (f.bytes === 1) for (let i = 0; i < frames; i++, p += stride) dest[i] = (view.getUint8(p) - 128) / 128;
    else if (f.bytes === 2) for (let i = 0; i < frames; i++, p += stride) dest[i] = view.getInt16(p, true) / 32_768;
    else if (f.bytes === 3) {
      for (let i = 0; i < frames; i++, p += stride) dest[i] = ((view.getInt8(p + 2) << 16) | view.getUint16(p, true)) / 8_388_608;
    } else for (let i = 0; i < frames; i++, p += stride) dest[i] = view.getInt32(p, true) / 2_147_483_648;
  }
  return out;
}

