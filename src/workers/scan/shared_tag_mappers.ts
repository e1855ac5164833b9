// music-metadata builds its tag mappers anew for every file it parses: each parse creates a
// MetadataCollector, whose constructor creates a CombinedTagMapper, whose constructor creates
// eleven mappers (ID3v1, ID3v2.2, ID3v2.4, MP4 twice, Vorbis, APEv2, ASF, RIFF INFO, Matroska,
// AIFF), most of which copy their whole tag table with upper-cased keys. That is ~85 µs of CPU and a
// few hundred small objects of garbage per file, the same every time: on 10,000 small files it was
// half of the tag-parsing time of a scan's main thread.
//
// The mappers hold nothing but their tag types and table (music-metadata 11.16: every mapper
// constructor is a bare `super(tagTypes, table)`, `mapGenericTag` copies the tag it maps), so one
// instance per mapper class can serve every parse. A derived class's `super(...)` calls whatever its
// constructor's prototype is at call time, so each mapper class gets, between itself and its parent,
// a constructor that builds the first instance and returns that same instance afterwards. Nothing of
// music-metadata is copied or edited; if its layout changes, the sharing is skipped (`sharing()`
// says so, and a test fails) and parsing works as before. Upstream fix: docs/scan.md.
type MapperClass = abstract new (...args: never[]) => object;

interface CombinedTagMapperLike {
  tagMappers: Record<string, object>;
}

const SHARED = Symbol.for('soniquebay.sharedTagMapper');

/** Makes `new Mapper()` return one instance for every parse. Idempotent. */
function share(mapper: MapperClass): boolean {
  const parent = Object.getPrototypeOf(mapper) as MapperClass & { [SHARED]?: true };
  if (parent[SHARED]) return true;
  if (typeof parent !== 'function' || parent === Function.prototype) return false;
  let instance: object | undefined;
  // a plain function: `super(...)` in the mapper's constructor lands here; the object returned
  // becomes the mapper's `this`, so every `new Mapper()` after the first is that first instance
  const sharedParent = function (this: unknown, ...args: unknown[]) {
    instance ??= Reflect.construct(parent, args, new.target) as object;
    return instance;
  } as unknown as MapperClass & { [SHARED]?: true };
  sharedParent.prototype = parent.prototype;
  Object.setPrototypeOf(sharedParent, parent); // static helpers (toIntOrNull, toRating …) stay inherited
  sharedParent[SHARED] = true;
  Object.setPrototypeOf(mapper, sharedParent);
  return true;
}

async function loadCombinedTagMapper(): Promise<(new () => CombinedTagMapperLike) | undefined> {
  try {
    // the very module music-metadata's own parser imports (same URL, so the same classes); the
    // built command bundles music-metadata, and scripts/build.mjs points this import at the
    // bundled module instead (BUNDLED_MAPPER_IMPORT there)
    const mod = await import(new URL('./common/CombinedTagMapper.js', import.meta.resolve('music-metadata')).href);
    return (mod as { CombinedTagMapper?: new () => CombinedTagMapperLike }).CombinedTagMapper;
  } catch {
    return undefined;
  }
}

const Combined = await loadCombinedTagMapper();
let shared = false;
if (Combined) {
  const mappers = new Set(Object.values(new Combined().tagMappers).map((m) => m.constructor as MapperClass));
  shared = mappers.size > 0 && [...mappers].map(share).every(Boolean);
}

/** Whether music-metadata's tag mappers are shared across parses in this thread. */
export function sharing(): { shared: boolean; mapperOf(tagType: string): object | undefined } {
  return { shared, mapperOf: (tagType) => (Combined ? new Combined().tagMappers[tagType] : undefined) };
}
