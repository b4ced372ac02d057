// Lambda entry: the handler, with the app secret (the Twilio auth token) read during init.
import { primeAppSecret } from '../wiring/prime-secret';
export { handler } from '../handlers/twilio-voice';
await primeAppSecret('twilio-voice');
