//! An access-log segment file, as `portcullis logs` reads it: any bytes give an error or
//! chunks, never a panic; reading never runs past the input; and a valid segment with any
//! one byte changed after its header never yields different plaintext than it holds.
#![no_main]

use std::io::Cursor;

use telemetry::segment::{self, Chunk, ChunkReader, ChunkSealer, SegmentHeader};

const MASTER: &str = "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80=";

libfuzzer_sys::fuzz_target!(|input: (&[u8], Vec<Vec<u8>>, u16, u8)| {
    let (raw, lines, flip_at, flip) = input;
    let keyring = kms::Keyring::from_env_value(MASTER).expect("keyring");

    // Arbitrary bytes as a segment, read with a fixed key.
    let mut cur = Cursor::new(raw.to_vec());
    if let Ok((_, head)) = segment::read_header(&mut cur) {
        let key = kms::DataKey::from_derived([7; 32]);
        drain(ChunkReader::new(cur, key, &head), raw.len());
    }

    // A real segment with one byte changed: whatever reads back is a prefix of what was written.
    let header = SegmentHeader { node: "n".into(), segment: "access-n-1".into(), created_ms: 0, key: String::new() };
    let Ok((key, wrapped)) = keyring.generate_data_key(&header.context()) else { return };
    let header = SegmentHeader { key: kms::to_text(&wrapped), ..header };
    let mut file = segment::encode_header(&header);
    let head_len = file.len();
    let mut sealer = ChunkSealer::new(key, &file);
    let mut written = Vec::new();
    for l in lines.iter().take(8) {
        let l = &l[..l.len().min(segment::MAX_CHUNK)];
        file.extend(sealer.seal(l).expect("seal"));
        written.extend_from_slice(l);
    }
    file.extend(sealer.close().expect("close"));
    let at = head_len + usize::from(flip_at) % (file.len() - head_len);
    file[at] ^= flip.max(1);
    let mut cur = Cursor::new(file.clone());
    let (header, head) = segment::read_header(&mut cur).expect("header untouched");
    let key = keyring.unwrap_data_key(&header.context(), &kms::from_text(&header.key).expect("key")).expect("unwrap");
    let read = drain(ChunkReader::new(cur, key, &head), file.len());
    assert!(written.starts_with(&read), "an altered segment yielded text it does not hold");
});

/// Reads chunks until the end or an error; the plaintext read.
fn drain(mut r: ChunkReader<Cursor<Vec<u8>>>, len: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for _ in 0..=len {
        match r.next_chunk() {
            Ok(Chunk::Data(d)) => out.extend_from_slice(&d),
            _ => break,
        }
    }
    out
}
