//! ZooKeeper's session password function.
//!
//! ZooKeeper does not store session passwords: any server recomputes them from the session id
//! (`ZooKeeperServer.generatePasswd`: 16 bytes of `java.util.Random(sessionId ^ 0xB3415C00)`),
//! which is what lets a client resume its session on any server of an ensemble, Java or ours.

/// Length of a session password.
pub const PASSWORD_LEN: usize = 16;

const SUPER_SECRET: i64 = 0xB341_5C00;
const MULTIPLIER: u64 = 0x5_DEEC_E66D;
const MASK: u64 = (1 << 48) - 1;

/// The password ZooKeeper hands out with session `session_id`.
pub fn session_password(session_id: i64) -> [u8; PASSWORD_LEN] {
    // java.util.Random: seed scrambled with the multiplier, 48-bit LCG, nextBytes takes
    // 4 bytes per nextInt(), least significant byte first.
    let mut seed = ((session_id ^ SUPER_SECRET) as u64 ^ MULTIPLIER) & MASK;
    let mut out = [0u8; PASSWORD_LEN];
    for chunk in out.chunks_mut(4) {
        seed = (seed.wrapping_mul(MULTIPLIER).wrapping_add(0xB)) & MASK;
        let r = (seed >> 16) as u32;
        for (i, b) in chunk.iter_mut().enumerate() {
            *b = (r >> (8 * i)) as u8;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_zookeeper_3_8() {
        // Observed from a live Debian ZooKeeper 3.8.0 server (spec 01 §1.3).
        let pw = session_password(0x0100_0007_6374_0001);
        let hex: String = pw.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "c173b5fe4305e7ef318bbe12f87a16ed");
    }
}
