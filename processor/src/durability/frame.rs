//! Length-prefixed, CRC-checked frames. A crash can leave the last frame of a file half written; reading
//! stops at the first frame whose length or checksum does not hold, so a torn tail is cut, never fatal.

/// Length (u32 LE) then CRC-32 of the payload (u32 LE).
const HEADER: usize = 8;

/// Larger frames are taken for corruption: no record the log writes comes near it.
const MAX_FRAME: usize = 1 << 30;

/// Appends one frame whose payload `encode` writes, in place (no copy of the payload).
pub fn append(out: &mut Vec<u8>, encode: impl FnOnce(&mut Vec<u8>)) {
    let start = out.len();
    out.extend_from_slice(&[0; HEADER]);
    encode(out);
    let payload = &out[start + HEADER..];
    let len = u32::try_from(payload.len())
        .unwrap_or(u32::MAX)
        .to_le_bytes();
    let crc = crc32fast::hash(payload).to_le_bytes();
    out[start..start + 4].copy_from_slice(&len);
    out[start + 4..start + HEADER].copy_from_slice(&crc);
}

/// The frames of a file, up to the first that does not check.
#[derive(Debug)]
pub struct Frames<'a> {
    pub payloads: Vec<&'a [u8]>,
    /// Bytes after the last good frame: a torn or corrupt tail (0 for a clean file).
    pub discarded: usize,
}

pub fn read(bytes: &[u8]) -> Frames<'_> {
    let mut payloads = Vec::new();
    let mut at = 0;
    while let Some(header) = bytes.get(at..at + HEADER) {
        let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        let Some(payload) = bytes.get(at + HEADER..at + HEADER + len) else {
            break;
        };
        if len > MAX_FRAME || crc32fast::hash(payload) != crc {
            break;
        }
        payloads.push(payload);
        at += HEADER + len;
    }
    Frames {
        payloads,
        discarded: bytes.len() - at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two_frames() -> Vec<u8> {
        let mut out = Vec::new();
        append(&mut out, |o| o.extend_from_slice(b"first"));
        append(&mut out, |o| o.extend_from_slice(b"second"));
        out
    }

    #[test]
    fn frames_read_back() {
        let bytes = two_frames();
        let frames = read(&bytes);
        assert_eq!(frames.payloads, vec![&b"first"[..], &b"second"[..]]);
        assert_eq!(frames.discarded, 0);
    }

    #[test]
    fn a_torn_tail_is_cut() {
        let bytes = two_frames();
        for cut in 0..bytes.len() {
            let frames = read(&bytes[..cut]);
            // The first frame (13 bytes) survives any cut past its end; the rest is discarded.
            let kept = usize::from(cut >= 13);
            assert_eq!(frames.payloads.len(), kept, "cut at {cut}");
            assert_eq!(frames.discarded, cut - 13 * kept, "cut at {cut}");
        }
    }

    #[test]
    fn a_flipped_bit_stops_reading_there() {
        let mut bytes = two_frames();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        let frames = read(&bytes);
        assert_eq!(frames.payloads, vec![&b"first"[..]]);
        assert_eq!(frames.discarded, 14);
    }
}
