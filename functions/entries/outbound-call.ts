// Lambda entry: the handler, with the app secret (the caller token and the Twilio account) read during init.
import { primeAppSecret } from '../wiring/prime-secret';
export { handler } from '../handlers/outbound-call';
await primeAppSecret('outbound-call');
