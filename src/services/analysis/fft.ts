// fft.js (MIT), loaded when the first transform is made: the commands that never analyse audio
// do not pay for it at start (see utils/lazy.ts).
import type FFT from 'fft.js';
import { lazyRequire } from '../../utils/lazy.js';

export type { FFT };

const fftLibrary = lazyRequire<typeof FFT>('fft.js');

/** an FFT of `size` points (a power of two) */
export function createFft(size: number): FFT {
  return new (fftLibrary())(size);
}
