//! Run ids: short, unique enough to tell runs apart on one engine, valid in names.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::{SystemTime, UNIX_EPOCH};

pub fn new_run_id() -> String {
    // RandomState is seeded from the OS; mixing in time and pid keeps ids apart even
    // across processes started in the same instant.
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u128(SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or_default());
    hasher.write_u32(std::process::id());
    format!("{:010x}", hasher.finish() & 0xff_ffff_ffff)
}
