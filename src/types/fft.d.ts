// Types for fft.js (MIT, no bundled typings): a radix-4 real/complex FFT.
declare module 'fft.js' {
  export default class FFT {
    constructor(size: number);
    readonly size: number;
    createComplexArray(): number[];
    toComplexArray(input: ArrayLike<number>, storage?: number[]): number[];
    fromComplexArray(complex: ArrayLike<number>, storage?: number[]): number[];
    /** fills `output` (interleaved re/im, length 2·size) with the FFT of the real `input`; only the first half is meaningful */
    realTransform(output: number[] | Float64Array, input: ArrayLike<number>): void;
    completeSpectrum(spectrum: number[] | Float64Array): void;
    transform(output: number[] | Float64Array, input: ArrayLike<number>): void;
    inverseTransform(output: number[] | Float64Array, input: ArrayLike<number>): void;
  }
}
