// Lambda entry: the handler, with the environment primed during init (top-level await).
import { primeEnvironment } from '../shared/prime';
export { handler } from '../handlers/start';
await primeEnvironment('start');
