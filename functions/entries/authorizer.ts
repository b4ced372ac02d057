// Lambda entry: the authorizer needs no priming (no AWS calls).
export { handler } from '../handlers/authorizer';
