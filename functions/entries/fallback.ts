// Lambda entry: $default makes no AWS calls, so it needs no priming.
export { handler } from '../handlers/fallback';
