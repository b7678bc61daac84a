//! Cache prefetch hints for data another core has just written. A hint only: it never
//! faults, changes nothing the program can observe, and is a no-op off x86_64.

/// Cache lines are 64 bytes on every x86_64 part we run on.
const LINE: usize = 64;

/// Asks for every cache line of `v`.
#[inline(always)]
pub fn value<T>(v: &T) {
    let p = (v as *const T).cast::<u8>();
    for off in (0..std::mem::size_of::<T>()).step_by(LINE) {
        line(p.wrapping_add(off));
    }
}

/// Asks for the first two cache lines of `b` (an attribute set rarely spans more).
#[inline(always)]
pub fn bytes(b: &[u8]) {
    for off in (0..b.len().min(2 * LINE)).step_by(LINE) {
        line(b.as_ptr().wrapping_add(off));
    }
}

#[inline(always)]
fn line(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    #[allow(unsafe_code)]
    // SAFETY: PREFETCHT0 is a hint: it cannot fault, whatever the address, and reads
    // nothing into the program's state; SSE is part of the x86_64 baseline.
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>(p.cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}
