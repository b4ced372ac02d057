/**
 * The business's rule for an appointment, in one place for both responders: the day must be open, and the
 * appointment must start at or after opening and end by closing.
 */
import type { BusinessProfile, OpeningHours } from './definition';
import { clockMinutes } from './normalize';

/** Whether an appointment at `time` (`HH:MM`) fits in `hours` (a closed day fits nothing). */
export function fitsHours(business: Pick<BusinessProfile, 'appointmentMinutes'>, hours: OpeningHours | null | undefined, time: string): boolean {
  const minutes = clockMinutes(time);
  if (!hours || minutes === undefined) return false;
  const open = clockMinutes(hours.open) ?? 0;
  const close = clockMinutes(hours.close) ?? 0;
  return minutes >= open && minutes + business.appointmentMinutes <= close;
}
