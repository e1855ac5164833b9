/** Edit distance (insertions, deletions, substitutions) between two short strings. */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}

/** Known names a user probably meant: a small typo, or the same name without its `type.` prefix. */
export function closestNames(name: string, known: readonly string[]): string[] {
  const wanted = name.toLowerCase();
  return known.filter((k) => {
    const candidate = k.toLowerCase();
    const short = candidate.slice(candidate.indexOf('.') + 1);
    return editDistance(wanted, candidate) <= 2 || editDistance(wanted, short) <= 1;
  });
}
