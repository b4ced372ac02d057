/**
 * Imported by the handlers of the functions that speak (start, media, dtmf): gives them the speech services. The
 * other functions do not import it, so their bundles leave the speech adapters and vendor SDKs out.
 */
import { useSpeech } from './container';
import { speechServices } from './speech-services';

useSpeech((config, responder, telemetry) => speechServices(config.speech, config.turn, responder, telemetry));
