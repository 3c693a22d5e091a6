//! Client-port framing: every message is a 4-byte big-endian length and that many bytes.

/// ZooKeeper's default `jute.maxbuffer` (0xfffff bytes).
pub const DEFAULT_MAX_BUFFER: usize = 0xfffff;

/// The four-letter words ZooKeeper 3.9 recognises (`FourLetterCommands`).
pub const FOUR_LETTER_WORDS: [&str; 18] = [
    "conf", "cons", "crst", "dirs", "dump", "envi", "gtmk", "hash", "isro", "mntr", "ruok", "srst",
    "srvr", "stat", "stmk", "wchc", "wchp", "wchs",
];

/// What the first four bytes of a frame say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameStart {
    /// A frame body of this many bytes follows.
    Length(usize),
    /// A four-letter word (only meaningful as the first bytes of a new connection).
    FourLetterWord([u8; 4]),
    /// The length is negative or above the limit: ZooKeeper closes the connection.
    TooLarge(i64),
}

/// Interprets a frame prefix. `first_packet` enables the four-letter-word check, which
/// ZooKeeper applies only before the connection has completed its handshake.
pub fn frame_start(prefix: [u8; 4], max_buffer: usize, first_packet: bool) -> FrameStart {
    if first_packet && is_four_letter_word(&prefix) {
        return FrameStart::FourLetterWord(prefix);
    }
    let len = i32::from_be_bytes(prefix);
    if len < 0 || len as usize > max_buffer {
        FrameStart::TooLarge(len.into())
    } else {
        FrameStart::Length(len as usize)
    }
}

/// Whether these bytes spell a known four-letter word.
pub fn is_four_letter_word(prefix: &[u8; 4]) -> bool {
    FOUR_LETTER_WORDS.iter().any(|w| w.as_bytes() == prefix)
}

/// Prepends the 4-byte length to an encoded message.
pub fn put_frame(out: &mut Vec<u8>, body: &[u8]) {
    out.extend_from_slice(&(body.len() as i32).to_be_bytes());
    out.extend_from_slice(body);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_words_only_first() {
        assert_eq!(
            frame_start(*b"ruok", DEFAULT_MAX_BUFFER, true),
            FrameStart::FourLetterWord(*b"ruok")
        );
        assert!(matches!(
            frame_start(*b"ruok", DEFAULT_MAX_BUFFER, false),
            FrameStart::TooLarge(_)
        ));
        assert_eq!(
            frame_start([0, 0, 0, 45], DEFAULT_MAX_BUFFER, true),
            FrameStart::Length(45)
        );
        assert_eq!(
            frame_start([0xff, 0xff, 0xff, 0xff], DEFAULT_MAX_BUFFER, false),
            FrameStart::TooLarge(-1)
        );
        assert_eq!(
            frame_start([0, 0x10, 0, 0], DEFAULT_MAX_BUFFER, false),
            FrameStart::TooLarge(0x100000)
        );
    }
}
