// The allocator export the host uses to hand us data (cpp-host WasmBase::allocMemory calls the
// module's `malloc`, or `proxy_on_memory_allocate` when there is no `malloc`), and the helpers that
// take ownership of such a block.
//
// Each block is a pinned ArrayBuffer: pinned so the incremental GC cannot free it between the
// host writing into it and our code picking it up; `takeBuffer` unpins it, after which the
// ArrayBuffer is an ordinary managed object (no copy).

/** Largest block we let the host allocate in one call (the host copies bodies through this). */
const MAX_HOST_ALLOCATION: i32 = 256 << 20;

export function proxy_on_memory_allocate(size: usize): usize {
  // A request the runtime cannot satisfy would abort (trap the VM); answering 0 makes the host
  // return INVALID_MEMORY_ACCESS for that one call instead (cpp-host allocMemory: `if (!a) return
  // nullptr`).
  if (size > <usize>MAX_HOST_ALLOCATION) return 0;
  const buf = new ArrayBuffer(<i32>size);
  return __pin(changetype<usize>(buf));
}

/** Turns a host-allocated block into a managed ArrayBuffer (null for the empty block 0). */
export function takeBuffer(ptr: usize): ArrayBuffer | null {
  if (ptr == 0) return null;
  const buf = changetype<ArrayBuffer>(ptr);
  __unpin(ptr);
  return buf;
}

/** Scratch words the host writes results into (pointer + size, or one u64). */
export const RESULT_PTR: usize = memory.data(8);
export const RESULT_SIZE: usize = memory.data(8);
export const RESULT_U64: usize = memory.data(8);

/**
 * Reads the (pointer, size) pair a host call wrote into RESULT_PTR / RESULT_SIZE as bytes.
 * A pointer that is not a block we allocated would be a host bug; the size we trust is the
 * ArrayBuffer's own, never more than it holds.
 */
export function takeResultBytes(): Uint8Array {
  const ptr = load<usize>(RESULT_PTR);
  const size = load<usize>(RESULT_SIZE);
  const buf = takeBuffer(ptr);
  if (buf === null) return new Uint8Array(0);
  const n = <i32>size < buf.byteLength ? <i32>size : buf.byteLength;
  return Uint8Array.wrap(buf, 0, n);
}
