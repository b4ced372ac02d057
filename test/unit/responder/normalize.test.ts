import { FRONT_DESK } from '../../../functions/domain/responder';
import type { DaySlotType, TimeSlotType } from '../../../functions/domain/responder';
import {
  compileDayType,
  compileTimeType,
  digitsToWords,
  extractDay,
  extractTime,
  normalize,
  speakClock,
  stem,
  tokenize,
} from '../../../functions/domain/responder/normalize';

const time = compileTimeType(FRONT_DESK.slotTypes.time as TimeSlotType);
const day = compileDayType(FRONT_DESK.slotTypes.day as DaySlotType);
const timeOf = (text: string, lenient = false) => extractTime(tokenize(text).map(stem), time, lenient);
const dayOf = (text: string) => extractDay(tokenize(text).map(stem), day, 'tuesday');

describe('normalize', () => {
  it('lower-cases, strips punctuation and apostrophes', () => {
    expect(normalize("Hello, I'd like to BOOK!  Please.")).toBe('hello id like to book please');
  });

  it('turns number words into digits', () => {
    expect(normalize('three pm')).toBe('3 pm');
    expect(normalize('ten thirty')).toBe('10 30');
    expect(normalize('twenty five past nine')).toBe('25 past 9');
    expect(normalize('forty five')).toBe('45');
  });

  it('splits digits from letters and joins spelled am/pm and o clock', () => {
    expect(normalize('3pm')).toBe('3 pm');
    expect(normalize('3:30 p.m.')).toBe('3 30 pm');
    expect(normalize('nine a m')).toBe('9 am');
    expect(normalize("two o'clock")).toBe('2 oclock');
    expect(normalize('two o clock')).toBe('2 oclock');
  });

  it('digitsToWords goes the other way', () => {
    expect(digitsToWords('3 pm')).toBe('three pm');
    expect(digitsToWords('10 30')).toBe('ten thirty');
    expect(digitsToWords('9 45')).toBe('nine forty five');
    expect(normalize(digitsToWords('at 11 15 on friday'))).toBe('at 11 15 on friday');
  });

  it('handles empty and junk input', () => {
    expect(normalize('')).toBe('');
    expect(normalize('?!…  ')).toBe('');
  });
});

describe('time slot', () => {
  it.each([
    ['three pm', '15:00'],
    ['3 pm', '15:00'],
    ['3pm', '15:00'],
    ['nine am', '09:00'],
    ['ten thirty', '10:30'],
    ['ten thirty pm', '22:30'],
    ['noon', '12:00'],
    ['twelve noon', '12:00'],
    ['midday', '12:00'],
    ['half past two', '14:30'],
    ['quarter past ten', '10:15'],
    ['quarter to five', '16:45'],
    ['at four', '16:00'],
    ['around eleven', '11:00'],
    ['two oclock', '14:00'],
    ['eleven in the morning', '11:00'],
    ['four in the afternoon', '16:00'],
    ['ten oh five', '10:05'],
    ['3:45 pm', '15:45'],
    ['twelve pm', '12:00'],
    ['twelve am', '00:00'],
    ['fifteen hundred', undefined],
    ['tuesday at three pm', '15:00'],
    // recognizer slips, only next to am/pm or o'clock
    ['at for pm', '16:00'],
    ['tree oclock', '15:00'],
    ['to pm', '14:00'],
    ['i want to come in', undefined],
  ])('%s → %s', (text, expected) => {
    expect(timeOf(text)).toBe(expected);
  });

  it('takes the last time mentioned', () => {
    expect(timeOf('not at two pm but at four pm')).toBe('16:00');
  });

  it('a lone number is a time only when one was asked for', () => {
    expect(timeOf('three')).toBeUndefined();
    expect(timeOf('three', true)).toBe('15:00');
    expect(timeOf('nine', true)).toBe('09:00');
    expect(timeOf('no time', true)).toBeUndefined();
  });

  it('speaks times the way people say them', () => {
    expect(speakClock('15:00')).toBe('3 PM');
    expect(speakClock('10:30')).toBe('10:30 AM');
    expect(speakClock('12:00')).toBe('12 PM');
    expect(speakClock('00:15')).toBe('12:15 AM');
  });
});

describe('day slot', () => {
  it.each([
    ['monday', 'monday'],
    ['on tuesdays', 'tuesday'],
    ['weds', 'wednesday'],
    ['thurs', 'thursday'],
    ['friday please', 'friday'],
    ['saturday morning', 'saturday'],
    ['sunday', 'sunday'],
    ['today', 'tuesday'],
    ['tomorrow', 'wednesday'],
    ['the day after tomorrow', 'thursday'],
    ['from thursday to friday', 'friday'],
    ['no day here', undefined],
  ])('%s → %s', (text, expected) => {
    expect(dayOf(text)).toBe(expected);
  });

  it('relative days wrap around the week', () => {
    expect(extractDay(['tomorrow'], day, 'sunday')).toBe('monday');
  });
});
