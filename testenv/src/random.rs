//! Random identifiers (namespace suffixes, tokens) without an extra dependency.
//!
//! The standard library's `RandomState` is seeded from the operating system's random
//! source for each instance; hashing a counter and the clock with it gives values that
//! differ between calls, threads and processes.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn random_u64() -> u64 {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.write_u32(std::process::id());
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_nanos())
        .unwrap_or_default();
    hasher.write_u128(nanos);
    hasher.finish()
}

/// `len` random characters from `[a-z0-9]`, valid in a Kubernetes name.
pub fn random_name_suffix(len: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut out = String::with_capacity(len);
    let mut bits = random_u64();
    let mut left = 12; // 36^12 < 2^64: twelve characters per random word.
    for _ in 0..len {
        if left == 0 {
            bits = random_u64();
            left = 12;
        }
        out.push(char::from(ALPHABET[(bits % 36) as usize]));
        bits /= 36;
        left -= 1;
    }
    out
}

/// `bytes` random bytes as lowercase hex, e.g. for a bearer token.
pub fn random_hex(bytes: usize) -> String {
    let mut out = String::with_capacity(bytes * 2);
    while out.len() < bytes * 2 {
        out.push_str(&format!("{:016x}", random_u64()));
    }
    out.truncate(bytes * 2);
    out
}
