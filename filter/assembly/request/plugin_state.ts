// What one plugin configuration gives its streams: the validated configuration and the scratch
// buffers its requests reuse. A reconfiguration makes a new one; streams already running keep the
// one they started with.
import { FilterConfig } from './config';
import { TokenBuffer } from '../tokenizer/index';

export class PluginState {
  config: FilterConfig;
  tokens: TokenBuffer = new TokenBuffer(4096);
  /** Every block key of the prompt (up to maxBlocks), then the digest sent of them. */
  keys: StaticArray<u64>;
  digest: StaticArray<u64>;

  constructor(config: FilterConfig) {
    this.config = config;
    this.keys = new StaticArray<u64>(config.maxBlocks);
    this.digest = new StaticArray<u64>(config.maxDigestKeys);
  }
}
