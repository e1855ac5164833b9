// The parts of zod/mini this program uses, re-exported one by one (schema.ts makes them `z`): a
// namespace import of zod/mini keeps all of it in the bundle (330 KB, with its JSON Schema
// generator, every format regex, the codecs…), compiled at every start; these names keep 50 KB.
// A name missing here is a type error where it is used: add it here.
export {
  _default,
  array,
  boolean,
  coerce,
  enum,
  gte,
  int,
  lte,
  maxLength,
  minLength,
  nullable,
  nullish,
  number,
  object,
  optional,
  partialRecord,
  pipe,
  positive,
  prefault,
  record,
  refine,
  regex,
  safeParse,
  strictObject,
  string,
  transform,
  union,
  unknown,
  url,
} from 'zod/mini';
export type { core, infer, ZodMiniType } from 'zod/mini';
