//! Random bytes from the operating system, for keys, IVs and nonces.

/// `N` bytes from the OS's cryptographic random number generator.
///
/// Panics if the OS cannot provide randomness (as `rand::rng()` does): a key or nonce
/// made any other way would be unsafe, and this never happens on a working system.
pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).expect(
        "the operating system's random number generator failed; \
         slipway cannot make keys, IVs or nonces without it",
    );
    bytes
}
