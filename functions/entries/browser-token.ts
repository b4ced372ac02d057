// Lambda entry: the handler, with the app secret (the key of the caller tokens) read during init.
import { primeAppSecret } from '../wiring/prime-secret';
export { handler } from '../handlers/browser-token';
await primeAppSecret('browser-token');
