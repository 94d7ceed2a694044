// A request's cancellation, from the ext_proc stream (the proxy reset it) to request control:
// whatever holds the request — flow control's queue — lets go at once instead of at its timeout.
// And the other way, eviction: request control ends a routed request that is still running (flow
// control reclaiming a sheddable request's capacity for a higher priority), through its stream.
/** A request's cancellation as the ext_proc stream reports it (the proxy gave up on it). */
export interface Cancellation {
  readonly cancelled: boolean;
  /**
   * Calls `listener` once when the request is cancelled (never if it completes); returns a
   * function that unregisters it. One listener at a time.
   */
  onCancel(listener: () => void): () => void;
}

/** Ends a routed, still running request from the EPP's side (its stream answers for it). */
export interface Evictor {
  /**
   * Sends the proxy an immediate response for the request — before the model server's response
   * headers that is the client's answer; after them the proxy resets the stream — and ends it.
   * False when the request can no longer be evicted (already answered or ended).
   */
  evict(status: 429 | 503, message: string, code: string, headers: ReadonlyMap<string, string>): boolean;
}
