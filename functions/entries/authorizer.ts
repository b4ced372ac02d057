// Lambda entry: the handler, with the app secret read during init (top-level await) so the first caller does not
// wait for it. Not primeEnvironment: the authorizer uses none of the call services it builds.
import { primeAppSecret } from '../wiring/prime-secret';
export { handler } from '../handlers/authorizer';
await primeAppSecret('authorizer');
