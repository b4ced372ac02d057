export type { DialogState, Reply, Responder, ResponderInput } from './responder';
export type * from './definition';
export { WEEKDAYS } from './definition';
export { createRuleResponder } from './rule-responder';
export { weeklyHours } from './rule-rendering';
export { RuleDefinitionError, validateDefinition } from './rule-validation';
export type { RuleResponderOptions } from './rule-responder';
export { normalize, tokenize, digitsToWords } from './normalize';
export { FRONT_DESK } from './front-desk';
export { FRONT_DESK_CORPUS, FRONT_DESK_CORPUS_BY_INTENT } from './front-desk-corpus';

import { FRONT_DESK } from './front-desk';
import { createRuleResponder } from './rule-responder';

/** The demo front-desk agent (system clock). */
export const frontDeskResponder = createRuleResponder(FRONT_DESK, { name: 'front-desk' });
