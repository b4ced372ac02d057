/** Development corpus for the offline speech tests: the sentences the bench measures. */
export { DEV_CORPUS } from '../../../tools/bench/offline-speech';

/** Not in the corpus, but made of its n-grams: the domain LM must still get them right. */
export const RECOMBINED = ['book an appointment for friday at nine thirty', 'can i move my appointment to monday at three pm'];

/** Outside the domain: must fall back to the full en-us model. */
export const OFF_DOMAIN = ['the weather is nice in paris today', 'do you sell chocolate cake'];
