/** Route selection: `$request.body.a.b` evaluated against a JSON text frame. */

export type RouteSelector = (text: string) => string | undefined;

/**
 * Compile a route selection expression. Only `$request.body.<path>` is supported (what WebSocket APIs with
 * Lambda routes use); the selected value must be a string, number or boolean. Non-JSON text, a missing path or
 * any other value type select nothing (→ `$default`).
 */
export function compileRouteSelection(expression: string): RouteSelector {
  const m = /^\$request\.body\.(.+)$/.exec(expression.trim());
  if (!m) throw new Error(`unsupported route selection expression: ${expression}`);
  const path = m[1]!.split('.');
  if (path.some((p) => p === '')) throw new Error(`invalid route selection expression: ${expression}`);
  return (text: string): string | undefined => {
    // Only a JSON object can have the property; skip the parse for anything else.
    let i = 0;
    while (i < text.length && (text.charCodeAt(i) === 32 || text.charCodeAt(i) === 10 || text.charCodeAt(i) === 13 || text.charCodeAt(i) === 9)) i++;
    if (text.charCodeAt(i) !== 123 /* { */) return undefined;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return undefined;
    }
    for (const key of path) {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
      value = (value as Record<string, unknown>)[key];
    }
    if (typeof value === 'string') return value;
    if (typeof value === 'number' || typeof value === 'boolean') return String(value);
    return undefined;
  };
}
