// A request's cancellation, from the ext_proc stream (the proxy reset it) to request control:
// whatever holds the request — flow control's queue — lets go at once instead of at its timeout.
/** A request's cancellation as the ext_proc stream reports it (the proxy gave up on it). */
export interface Cancellation {
  readonly cancelled: boolean;
  /**
   * Calls `listener` once when the request is cancelled (never if it completes); returns a
   * function that unregisters it. One listener at a time.
   */
  onCancel(listener: () => void): () => void;
}
