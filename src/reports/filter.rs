//! The segment filter of a report: which segments to include and exclude, resolved into one
//! bitmap of client positions, and the `in_members` function that applies it in a plan.

use std::borrow::Borrow;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, UInt32Array};
use arrow::buffer::BooleanBuffer;
use arrow::datatypes::{DataType, UInt32Type};
use datafusion::common::{ScalarValue, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::prelude::{Expr, col};
use roaring::RoaringBitmap;
use serde::{Deserialize, Serialize};

use super::error::{ReportError, Result};

/// The segments a report is restricted to: clients in any of `include`, minus clients in
/// any of `exclude`. Both empty means no filter at all.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentFilter {
    #[serde(default)]
    pub include: Vec<i64>,
    #[serde(default)]
    pub exclude: Vec<i64>,
}

impl SegmentFilter {
    /// No filter: every sale counts, guest sales included.
    pub fn none() -> SegmentFilter {
        SegmentFilter::default()
    }

    pub fn is_none(&self) -> bool {
        self.include.is_empty() && self.exclude.is_empty()
    }
}

/// Resolves `filter` into the client positions it keeps, reading memberships through
/// `members`; `None` means unfiltered (guest sales and deleted clients' sales count).
///
/// The union of the included memberships minus the union of the excluded ones, cut to
/// `universe` (live clients): a filter never holds guests or deleted clients. With only
/// exclusions, the start is the whole universe.
///
/// # Errors
/// [`ReportError::UnknownSegment`] naming the first id `members` does not know.
pub fn resolve<F, M>(
    filter: &SegmentFilter,
    universe: &RoaringBitmap,
    members: F,
) -> Result<Option<RoaringBitmap>>
where
    F: Fn(i64) -> Option<M>,
    M: Borrow<RoaringBitmap>,
{
    if filter.is_none() {
        return Ok(None);
    }
    let mut kept = if filter.include.is_empty() {
        universe.clone()
    } else {
        union(&filter.include, "include", &members)? & universe
    };
    kept -= union(&filter.exclude, "exclude", &members)?;
    Ok(Some(kept))
}

fn union<F, M>(ids: &[i64], list: &'static str, members: &F) -> Result<RoaringBitmap>
where
    F: Fn(i64) -> Option<M>,
    M: Borrow<RoaringBitmap>,
{
    let mut all = RoaringBitmap::new();
    for id in ids {
        let bitmap = members(*id).ok_or(ReportError::UnknownSegment { id: *id, list })?;
        all |= bitmap.borrow();
    }
    Ok(all)
}

/// A membership as a dense bit set over positions: one bit test per order row, where a
/// roaring `contains` would search containers first. At 1M clients it is 128 KiB, small
/// enough to stay in cache while a scan streams past it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberMask {
    words: Vec<u64>,
}

impl MemberMask {
    /// The mask of `members`, whose positions are below `positions`.
    pub fn from_bitmap(members: &RoaringBitmap, positions: usize) -> MemberMask {
        let needed = members.max().map_or(0, |max| max as usize + 1);
        let mut words = vec![0u64; positions.max(needed).div_ceil(64)];
        for pos in members {
            words[(pos / 64) as usize] |= 1 << (pos % 64);
        }
        MemberMask { words }
    }

    pub fn contains(&self, position: u32) -> bool {
        self.bit(position) != 0
    }

    /// 1 when `position` is a member, else 0 (also past the end): a number to mask with.
    #[inline]
    pub fn bit(&self, position: u32) -> u64 {
        let word = self.words.get((position / 64) as usize).copied();
        word.map_or(0, |word| (word >> (position % 64)) & 1)
    }

    /// True where the row's position is a member; a null position (a guest) never is.
    pub fn select(&self, positions: &UInt32Array) -> BooleanArray {
        let values = positions.values();
        let hits = BooleanBuffer::collect_bool(values.len(), |i| self.contains(values[i]));
        let hits = match positions.nulls() {
            Some(valid) => &hits & valid.inner(),
            None => hits,
        };
        BooleanArray::new(hits, None)
    }
}

/// The expression `in_members(client_pos)` over `mask`, for a plan's filter.
pub fn in_members(mask: Arc<MemberMask>) -> Expr {
    ScalarUDF::new_from_impl(InMembers::new(mask)).call(vec![col("client_pos")])
}

/// `in_members(position) -> Boolean`: the scalar function closed over one query's mask.
#[derive(Debug)]
struct InMembers {
    mask: Arc<MemberMask>,
    signature: Signature,
}

impl InMembers {
    fn new(mask: Arc<MemberMask>) -> InMembers {
        let signature = Signature::exact(vec![DataType::UInt32], Volatility::Immutable);
        InMembers { mask, signature }
    }
}

// Two instances are the same function only when they share the mask: the optimizer must
// never merge the filters of two different queries.
impl PartialEq for InMembers {
    fn eq(&self, other: &InMembers) -> bool {
        Arc::ptr_eq(&self.mask, &other.mask)
    }
}

impl Eq for InMembers {}

impl Hash for InMembers {
    fn hash<H: Hasher>(&self, state: &mut H) {
        Arc::as_ptr(&self.mask).hash(state);
    }
}

impl ScalarUDFImpl for InMembers {
    fn name(&self) -> &str {
        "in_members"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> datafusion::error::Result<DataType> {
        Ok(DataType::Boolean)
    }

    fn invoke_with_args(
        &self,
        args: ScalarFunctionArgs,
    ) -> datafusion::error::Result<ColumnarValue> {
        match &args.args[..] {
            [ColumnarValue::Array(positions)] => {
                let selected = self.mask.select(positions.as_primitive::<UInt32Type>());
                Ok(ColumnarValue::Array(Arc::new(selected) as ArrayRef))
            }
            [ColumnarValue::Scalar(ScalarValue::UInt32(position))] => {
                let member = position.is_some_and(|p| self.mask.contains(p));
                Ok(ColumnarValue::Scalar(ScalarValue::Boolean(Some(member))))
            }
            other => exec_err!("in_members takes one UInt32 position, got {other:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn resolve_unites_subtracts_and_names_unknown_segments() {
        let universe: RoaringBitmap = (0..6).collect();
        let lookup: HashMap<i64, RoaringBitmap> = HashMap::from([
            (1, [0, 1].into_iter().collect()),
            (2, [1, 2].into_iter().collect()),
            (3, [2, 9].into_iter().collect()),
        ]);
        let run = |include: &[i64], exclude: &[i64]| {
            let filter = SegmentFilter {
                include: include.to_vec(),
                exclude: exclude.to_vec(),
            };
            resolve(&filter, &universe, |id| lookup.get(&id))
                .map(|m| m.map(|b| b.iter().collect::<Vec<u32>>()))
        };
        assert_eq!(run(&[], &[]).unwrap(), None);
        assert_eq!(run(&[1, 2], &[]).unwrap(), Some(vec![0, 1, 2]));
        assert_eq!(run(&[1, 2], &[3]).unwrap(), Some(vec![0, 1]));
        assert_eq!(
            run(&[3], &[]).unwrap(),
            Some(vec![2]),
            "9 is not a live client"
        );
        assert_eq!(run(&[], &[1]).unwrap(), Some(vec![2, 3, 4, 5]));
        let error = run(&[1], &[7]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "segment 7 in the report's exclude list does not exist"
        );
        let error = run(&[8], &[]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "segment 8 in the report's include list does not exist"
        );
    }

    #[test]
    fn member_mask_selects_members_and_never_guests() {
        use arrow::array::{Array, UInt32Array};
        let members: RoaringBitmap = [1, 63, 64, 200].into_iter().collect();
        let mask = MemberMask::from_bitmap(&members, 100);
        let positions = UInt32Array::from(vec![
            Some(0),
            Some(1),
            None,
            Some(63),
            Some(64),
            Some(200),
            Some(5000),
        ]);
        let selected = mask.select(&positions);
        let got: Vec<bool> = (0..selected.len()).map(|i| selected.value(i)).collect();
        assert_eq!(got, [false, true, false, true, true, true, false]);
        assert_eq!(selected.null_count(), 0);
    }
}
