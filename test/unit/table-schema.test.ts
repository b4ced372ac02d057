/**
 * The call table's sort keys against the queries that range over them (functions/adapters/dynamo-call-store.ts): a
 * tick reads the call and its newest frames in one descending range from a frame's key up to `META`, and the turns
 * are read by the prefix `TURN#`. An item of another kind inside either range would be read as a frame or a turn.
 */
import { keys } from '../../functions/contracts/table-schema';

const callId = 'c1';
const others = { call: keys.call(callId).sk, history: keys.history(callId).sk, turn: keys.turn(callId, 3).sk };

it('nothing but frames sorts between the first frame and the call item (the tick range)', () => {
  const first = keys.audioSk(0);
  expect(first < others.call).toBe(true);
  for (const [name, sk] of Object.entries(others)) {
    if (name === 'call') continue;
    expect({ name, inTickRange: sk >= first && sk <= others.call }).toEqual({ name, inTickRange: false });
  }
  expect(keys.audioSk(9_999_999_999) < others.call).toBe(true);
});

it('only turns begin with TURN#', () => {
  expect(others.history.startsWith('TURN#')).toBe(false);
  expect(others.call.startsWith('TURN#')).toBe(false);
  expect(keys.audioSk(5).startsWith('TURN#')).toBe(false);
});
