/** Development corpus for the offline speech tests (the responder supplies the real list later, same shape). */
export const DEV_CORPUS = [
  'what are your opening hours',
  'where are you located',
  'i would like to book an appointment',
  'book an appointment for tuesday at three pm',
  'can i move my appointment to friday at ten am',
  'cancel my appointment',
  'i want to talk to a person',
  'yes please',
  'no thanks',
  'goodbye',
  'monday at nine thirty',
  'what time do you open on saturday',
];

/** Not in the corpus, but made of its n-grams: the domain LM must still get them right. */
export const RECOMBINED = ['book an appointment for friday at nine thirty', 'can i move my appointment to monday at three pm'];

/** Outside the domain: must fall back to the full en-us model. */
export const OFF_DOMAIN = ['the weather is nice in paris today', 'do you sell chocolate cake'];
