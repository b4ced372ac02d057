import { DEFAULT_MEDIA_CONFIG } from '../../functions/domain/call/media-processor';
import { loadConfig as load } from '../../functions/settings/config';

const loadConfig = (env: Record<string, string>) => load({ CALLS_TABLE: 'calls', ...env });

describe('preemptive generation by configuration', () => {
  it('is on by default with the vendor providers and off with the offline engines', () => {
    expect(DEFAULT_MEDIA_CONFIG.preemptSilenceMs).toBeGreaterThan(0);
    expect(loadConfig({ SPEECH_PROVIDERS: 'vendors' }).media.preemptSilenceMs).toBe(DEFAULT_MEDIA_CONFIG.preemptSilenceMs);
    expect(loadConfig({ SPEECH_PROVIDERS: 'offline' }).media.preemptSilenceMs).toBe(0);
    expect(loadConfig({}).media.preemptSilenceMs).toBe(0);
  });

  it('follows PREEMPT_SILENCE_MS when it is set, including 0', () => {
    expect(loadConfig({ SPEECH_PROVIDERS: 'vendors', PREEMPT_SILENCE_MS: '0' }).media.preemptSilenceMs).toBe(0);
    expect(loadConfig({ SPEECH_PROVIDERS: 'offline', PREEMPT_SILENCE_MS: '150' }).media.preemptSilenceMs).toBe(150);
    expect(() => loadConfig({ PREEMPT_SILENCE_MS: '-5' })).toThrow(/PREEMPT_SILENCE_MS/);
  });
});
