// tokenroute's root context: one per plugin configuration (root context id). It defines the VM's
// metrics, reads and validates its plugin configuration, and gives each stream an HTTP context
// bound to the configuration in force when the stream began.
import { HttpContext, RootContext } from '../abi/context';
import { getBufferBytes, log } from '../abi/host';
import { BufferType, LogLevel } from '../abi/types';
import { parseConfig } from './config';
import { Tokenizer } from '../tokenizer/index';
import { TokenrouteHttpContext } from './http_context';
import { defineMetricsOnce } from './metrics';
import { PluginState } from './plugin_state';

export class TokenrouteRootContext extends RootContext {
  /** Null until a configuration was accepted; streams before that pass untouched. */
  private plugin: PluginState | null = null;

  onStart(vmConfigurationSize: u32): bool {
    defineMetricsOnce();
    return true;
  }

  /** Accepts a valid configuration; an invalid one is logged and refused, and the last valid one stays. */
  onConfigure(configurationSize: u32): bool {
    const bytes = getBufferBytes(BufferType.PluginConfiguration, 0, configurationSize);
    const result = parseConfig(bytes !== null ? bytes : new Uint8Array(0));
    const cfg = result.config;
    if (cfg === null) {
      // The catalogue's code (epp/src/framework/error-catalogue.ts), so Envoy's log line is greppable.
      log(LogLevel.Error, `tokenroute: TR_ERR_FILTER_CONFIG invalid plugin configuration: ${result.error}`);
      return false;
    }
    defineMetricsOnce();
    this.plugin = new PluginState(cfg);
    Tokenizer.configureSegmentCache(<i64>cfg.tokenCacheBytes);
    log(LogLevel.Info, `tokenroute: configured ${cfg.models.size} model(s), blockSize ${cfg.blockSize}, maxBlocks ${cfg.maxBlocks}, denseBlocks ${cfg.denseBlocks}, maxDigestBytes ${cfg.maxDigestBytes}, tokenCacheBytes ${cfg.tokenCacheBytes}`);
    return true;
  }

  createContext(contextId: u32): HttpContext | null {
    const plugin = this.plugin;
    return plugin !== null ? new TokenrouteHttpContext(contextId, plugin) : null;
  }
}
