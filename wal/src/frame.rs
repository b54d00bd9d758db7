//! Length-prefixed, CRC-checked frames. A crash can leave the last frame of a file half written: a torn
//! tail, cut without fuss. A disk can also damage a frame in the middle of a file: reading then looks for
//! the next frame that checks and goes on from there, so one bad record costs that record, not the file.

/// Length (u32 LE) then CRC-32 of the payload (u32 LE).
const HEADER: usize = 8;

/// Larger frames are taken for corruption: no record the log writes comes near it.
const MAX_FRAME: usize = 1 << 30;

/// Appends one frame whose payload `encode` writes, in place (no copy of the payload).
pub(crate) fn append(out: &mut Vec<u8>, encode: impl FnOnce(&mut Vec<u8>)) {
    let start = out.len();
    out.extend_from_slice(&[0; HEADER]);
    encode(out);
    let Some((header, payload)) = out
        .get_mut(start..)
        .and_then(|frame| frame.split_first_chunk_mut::<HEADER>())
    else {
        return;
    };
    let [l0, l1, l2, l3] = u32::try_from(payload.len())
        .unwrap_or(u32::MAX)
        .to_le_bytes();
    let [c0, c1, c2, c3] = crc32fast::hash(payload).to_le_bytes();
    *header = [l0, l1, l2, l3, c0, c1, c2, c3];
}

/// A stretch of a file that held no frame that checks, with good frames after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Damage {
    /// Where the stretch starts in the file.
    pub offset: usize,
    pub len: usize,
}

/// The frames of a file that check.
#[derive(Debug)]
pub(crate) struct Frames<'a> {
    pub payloads: Vec<&'a [u8]>,
    /// Damaged stretches skipped in the middle of the file, in file order.
    pub damaged: Vec<Damage>,
    /// Bytes after the last good frame: a torn tail (0 for a clean file).
    pub discarded: usize,
}

/// The payload of the frame at `at`, when a whole frame that checks starts there. The log writes no empty
/// frame, so eight zero bytes (a zeroed block) are not taken for one.
fn frame_at(bytes: &[u8], at: usize) -> Option<&[u8]> {
    let (header, rest) = bytes.get(at..)?.split_first_chunk::<HEADER>()?;
    let [l0, l1, l2, l3, c0, c1, c2, c3] = *header;
    let len = u32::from_le_bytes([l0, l1, l2, l3]) as usize;
    let crc = u32::from_le_bytes([c0, c1, c2, c3]);
    if len == 0 || len > MAX_FRAME {
        return None;
    }
    let payload = rest.get(..len)?;
    (crc32fast::hash(payload) == crc).then_some(payload)
}

pub(crate) fn read(bytes: &[u8]) -> Frames<'_> {
    let mut payloads = Vec::new();
    let mut damaged = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        if let Some(payload) = frame_at(bytes, at) {
            payloads.push(payload);
            at += HEADER + payload.len();
            continue;
        }
        // A frame that does not check is a torn tail unless a good frame follows it somewhere.
        let Some(next) = (at + 1..bytes.len()).find(|next| frame_at(bytes, *next).is_some()) else {
            break;
        };
        damaged.push(Damage {
            offset: at,
            len: next - at,
        });
        at = next;
    }
    Frames {
        payloads,
        damaged,
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
    fn a_flipped_bit_in_the_last_frame_cuts_it() {
        let mut bytes = two_frames();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        let frames = read(&bytes);
        assert_eq!(frames.payloads, vec![&b"first"[..]]);
        assert!(frames.damaged.is_empty());
        assert_eq!(frames.discarded, 14);
    }

    #[test]
    fn damage_in_the_middle_skips_that_frame_only() {
        let mut bytes = Vec::new();
        for payload in [&b"first"[..], b"second", b"third"] {
            append(&mut bytes, |o| o.extend_from_slice(payload));
        }
        // Any byte of the second frame (13..27), header or payload, flipped.
        for at in 13..27 {
            let mut damaged = bytes.clone();
            damaged[at] ^= 0x40;
            let frames = read(&damaged);
            assert_eq!(
                frames.payloads,
                vec![&b"first"[..], b"third"],
                "flipped at {at}"
            );
            assert_eq!(
                frames.damaged,
                vec![Damage {
                    offset: 13,
                    len: 14
                }]
            );
            assert_eq!(frames.discarded, 0);
        }
    }

    #[test]
    fn a_zeroed_tail_is_torn_not_frames() {
        let mut bytes = two_frames();
        bytes.extend_from_slice(&[0; 64]);
        let frames = read(&bytes);
        assert_eq!(frames.payloads.len(), 2);
        assert!(frames.damaged.is_empty());
        assert_eq!(frames.discarded, 64);
    }
}
