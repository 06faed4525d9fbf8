//! Sets of client ids stored as compact bitmaps.
//!
//! Encoding: one tag byte, then a portable roaring serialization. Tag 1 is a
//! `RoaringBitmap` (every id fits `u32`, the common case and the smallest); tag 2 is a
//! `RoaringTreemap` of the ids' 64-bit two's complement, for any `i64`.

use roaring::{RoaringBitmap, RoaringTreemap};

const TAG_BITMAP: u8 = 1;
const TAG_TREEMAP: u8 = 2;

/// Encodes a set of client ids (any order, repeats ignored).
pub fn encode(ids: &[i64]) -> Vec<u8> {
    let fits_u32 = ids.iter().all(|id| u32::try_from(*id).is_ok());
    let mut out = Vec::new();
    if fits_u32 {
        out.push(TAG_BITMAP);
        let bitmap: RoaringBitmap = ids.iter().map(|id| *id as u32).collect();
        bitmap.serialize_into(&mut out).expect("writing to a Vec");
    } else {
        out.push(TAG_TREEMAP);
        let treemap: RoaringTreemap = ids.iter().map(|id| *id as u64).collect();
        treemap.serialize_into(&mut out).expect("writing to a Vec");
    }
    out
}

/// Decodes ids written by [`encode`], ascending.
///
/// # Errors
/// An unknown tag or a truncated bitmap, described for the caller's message.
pub fn decode(bytes: &[u8]) -> Result<Vec<i64>, String> {
    let Some((tag, body)) = bytes.split_first() else {
        return Err("empty id set".into());
    };
    match *tag {
        TAG_BITMAP => RoaringBitmap::deserialize_from(body)
            .map(|b| b.iter().map(i64::from).collect())
            .map_err(|e| format!("bad bitmap: {e}")),
        TAG_TREEMAP => {
            let treemap =
                RoaringTreemap::deserialize_from(body).map_err(|e| format!("bad treemap: {e}"))?;
            let mut ids: Vec<i64> = treemap.iter().map(|id| id as i64).collect();
            ids.sort_unstable();
            Ok(ids)
        }
        other => Err(format!("unknown id set tag {other}")),
    }
}
