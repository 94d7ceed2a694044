// Step 4 without the EPP (none configured, or it failed open before the response body): the
// upstream's response goes straight to the client, chunk by chunk.
import type { ServerResponse } from 'node:http';
import { toNodeHeaders } from './headers.js';
import { withDebugHeaders } from './local-reply.js';
import type { GatewayStats, RequestRecord } from './record.js';
import { pauseUntilDrain, whenCutShort, type ResponseSource } from './response-source.js';

export async function streamDirect(res: ServerResponse, rec: RequestRecord, src: ResponseSource, signal: AbortSignal, stats: GatewayStats, debugHeaders: boolean): Promise<void> {
  res.writeHead(src.status, toNodeHeaders(withDebugHeaders([...src.headers], rec, debugHeaders)));
  res.flushHeaders();
  await new Promise<void>((resolve) => {
    let over = false;
    let ended = false;
    const end = (error?: string) => {
      if (over) return;
      over = true;
      if (error) {
        rec.error ??= error;
        src.body.destroy();
        res.destroy();
      }
      resolve();
    };
    signal.addEventListener('abort', () => end('client went away'), { once: true });
    src.body.on('data', (c: Buffer) => {
      if (!res.write(c)) pauseUntilDrain(src.body, res);
    });
    src.body.once('end', () => {
      ended = true;
      res.end(() => end());
    });
    whenCutShort(src.body, () => ended, () => {
      stats.upstreamResets++;
      end(`upstream ${src.served ?? ''} reset mid-response`);
    });
  });
}
