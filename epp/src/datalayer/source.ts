// Where and how an endpoint's metrics are fetched: the resolved `metrics-data-source`
// parameters and the URL rule. Kept free of plugin/zod code so the scrape workers can import it.
import type { Endpoint } from '../framework/endpoint.js';

export interface MetricsSourceConfig {
  readonly scheme: 'http' | 'https';
  /** Absolute path of the metrics page, e.g. /metrics. */
  readonly path: string;
  /** Skip TLS certificate checks (GIE default true: model servers usually serve self-signed certs). */
  readonly insecureSkipVerify: boolean;
  /** Scrape this port instead of the endpoint's serving port (servers that expose metrics separately). */
  readonly port?: number;
  /** Whole-scrape deadline (connect + response), ms. GIE's collection timeout is 1 s. */
  readonly timeoutMs: number;
  /** Larger pages are rejected rather than buffered; a runaway exporter must not eat the worker's heap. */
  readonly maxResponseBytes: number;
}

export const DEFAULT_SOURCE_CONFIG: MetricsSourceConfig = Object.freeze({
  scheme: 'http',
  path: '/metrics',
  insecureSkipVerify: true,
  timeoutMs: 1000,
  maxResponseBytes: 16 * 1024 * 1024,
});

/** `scheme://address:port/path`, IPv6 literals bracketed; `port` overrides the endpoint's port. */
export function metricsUrl(endpoint: Pick<Endpoint, 'address' | 'port'>, src: Pick<MetricsSourceConfig, 'scheme' | 'path' | 'port'>): string {
  const host = endpoint.address.includes(':') ? `[${endpoint.address}]` : endpoint.address;
  const path = src.path.startsWith('/') ? src.path : `/${src.path}`;
  return `${src.scheme}://${host}:${src.port ?? endpoint.port}${path}`;
}
