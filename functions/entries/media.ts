// Lambda entry: the handler, with the environment primed during init (top-level await).
import { primeEnvironment } from '../shared/prime';
export { handler } from '../handlers/media';
await primeEnvironment('media');
