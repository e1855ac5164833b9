// The streaming WASM decoders behind one interface (StreamDecoder), one per kind of stream.
import { DecodeError } from '../decode.js';
import { rolesFrom, VORBIS_ORDER, WAVE_ORDER, type DecodedBlock, type Role, type StreamDecoder } from './channels.js';
import { findMpegStream, type StreamKind } from './recognise.js';
import { WavDecoder } from './wav.js';

export async function createDecoder(kind: StreamKind, head: Uint8Array): Promise<StreamDecoder> {
  switch (kind) {
    case 'flac': {
      const { FLACDecoder } = await import('@wasm-audio-decoders/flac');
      const decoder = new FLACDecoder();
      await decoder.ready;
      return wrap('FLAC', decoder, (n) => rolesFrom(WAVE_ORDER, n));
    }
    case 'vorbis': {
      const { OggVorbisDecoder } = await import('@wasm-audio-decoders/ogg-vorbis');
      const decoder = new OggVorbisDecoder();
      await decoder.ready;
      return wrap('Vorbis', decoder, (n) => rolesFrom(VORBIS_ORDER, n));
    }
    case 'opus': {
      const { OggOpusDecoder } = await import('ogg-opus-decoder');
      const decoder = new OggOpusDecoder({ forceStereo: false });
      await decoder.ready;
      return wrap('Opus', decoder, (n) => rolesFrom(VORBIS_ORDER, n));
    }
    case 'mpeg': {
      const { MPEGDecoder } = await import('mpg123-decoder');
      const decoder = new MPEGDecoder({ enableGapless: true });
      await decoder.ready;
      const mono = findMpegStream(head)?.mono ?? false;
      return {
        name: 'MPEG audio',
        decode: async (data) => decoder.decode(data),
        flush: async () => null,
        free: () => freeQuietly(decoder),
        channels: (decoded) => Math.min(decoded, mono ? 1 : 2),
        roles: (n) => rolesFrom(WAVE_ORDER, n),
      };
    }
    case 'wav': {
      const decoder = new WavDecoder();
      return {
        name: 'WAV',
        decode: async (data) => decoder.decode(data),
        flush: async () => null,
        free: () => undefined,
        channels: (decoded) => decoded,
        roles: (n) => decoder.roles(n),
      };
    }
  }
}

interface ChunkedDecoder {
  // ogg-opus-decoder's types say its decode is synchronous; it returns a promise
  decode(data: Uint8Array): DecodedBlock | Promise<DecodedBlock>;
  flush(): Promise<DecodedBlock>;
  free(): void;
}

function wrap(name: string, decoder: ChunkedDecoder, roles: (channels: number) => Role[]): StreamDecoder {
  return {
    name,
    decode: async (data) => decoder.decode(data),
    flush: () => decoder.flush(),
    free: () => freeQuietly(decoder),
    channels: (decoded) => decoded,
    roles,
  };
}

function freeQuietly(decoder: { free(): unknown }): void {
  try {
    decoder.free();
  } catch {
    // already freed (the Opus decoder frees itself at the end of a stream)
  }
}

