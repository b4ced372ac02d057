// Lambda entry: the handler, with the environment primed during init (top-level await).
import { primeEnvironment } from '../wiring/prime';
export { handler } from '../handlers/dtmf';
await primeEnvironment('dtmf');
