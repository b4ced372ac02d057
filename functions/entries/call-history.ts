// Lambda entry: the handler, with the app secret (the token the history is read with) read during init.
import { primeAppSecret } from '../wiring/prime-secret';
export { handler } from '../handlers/call-history';
await primeAppSecret('call-history');
