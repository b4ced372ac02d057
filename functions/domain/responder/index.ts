export type { DialogState, Reply, Responder, ResponderInput } from './responder';
export type * from './definition';
export { WEEKDAYS } from './definition';
export { createRuleResponder, validateDefinition, weeklyHours, RuleDefinitionError } from './rule-responder';
export type { RuleResponderOptions } from './rule-responder';
export { normalize, tokenize, digitsToWords } from './normalize';
export { FRONT_DESK, FRONT_DESK_CORPUS, FRONT_DESK_CORPUS_BY_INTENT } from './front-desk';

import { FRONT_DESK } from './front-desk';
import { createRuleResponder } from './rule-responder';

/** The demo front-desk agent (system clock). */
export const frontDeskResponder = createRuleResponder(FRONT_DESK, { name: 'front-desk' });
