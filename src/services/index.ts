// The services handlers share, built once per process from the configuration and handed to every
// task through its context.
import path from 'node:path';
import type { Config } from '../config.js';
import { ParsePool } from '../workers/scan/parse_pool.js';
import { AnalysisPool } from './analysis/pool.js';
import { OutsideHttp } from './http/client.js';
import { ImageStore } from './images/store.js';

export interface CoverSettings {
  fileNames: readonly string[];
  artistFileNames: readonly string[];
  providerUrls: Config['providerUrls'];
  lastfmApiKey?: string;
  fanartApiKey?: string;
}

export interface Services {
  /** false: tracks are not decoded; their tag values (BPM, key, ReplayGain, ab:*) stand in */
  analysisEnabled: boolean;
  /** the threads that decode and analyse tracks (started on first use) */
  analysis: AnalysisPool;
  /** the scan's tag-parsing threads (started on first use) */
  parse: ParsePool;
  images: ImageStore;
  http: OutsideHttp;
  covers: CoverSettings;
}

export const USER_AGENT_PRODUCT = 'SoniqueBay-Worker/0.1.0';

export function createServices(config: Config, overrides: { fetchImpl?: typeof fetch } = {}): Services {
  return {
    analysisEnabled: config.analysis,
    analysis: new AnalysisPool(config.analysisThreads),
    parse: new ParsePool(config.scanThreads),
    images: new ImageStore(path.join(config.dataDir, 'images'), config.covers.sizes),
    http: new OutsideHttp({
      enabled: config.outsideLookups,
      userAgent: `${USER_AGENT_PRODUCT} ( ${config.contact ?? 'self-hosted music library'} )`,
      ...(overrides.fetchImpl ? { fetchImpl: overrides.fetchImpl } : {}),
    }),
    covers: {
      fileNames: config.covers.fileNames,
      artistFileNames: config.covers.artistFileNames,
      providerUrls: config.providerUrls,
      ...(config.lastfmApiKey ? { lastfmApiKey: config.lastfmApiKey } : {}),
      ...(config.fanartApiKey ? { fanartApiKey: config.fanartApiKey } : {}),
    },
  };
}

/** stops what the services started (the analysis and parse threads) */
export async function closeServices(services: Services): Promise<void> {
  await Promise.all([services.analysis.close(), services.parse.close()]);
}
