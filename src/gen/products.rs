//! The synthetic product catalogue: names, categories, a retail price and tier prices,
//! some of which are missing (falling back to retail).

use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, StringArray};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use rand::Rng;

use super::clients::Tier;
use super::random::{self, Domain};
use super::vocab;
use crate::facts::schema;

/// The prices of one product, in cents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prices {
    pub retail: i64,
    pub wholesale: Option<i64>,
    pub vip: Option<i64>,
    pub staff: Option<i64>,
}

impl Prices {
    /// The price a client of `tier` pays: the tier's price, else retail.
    pub fn for_tier(&self, tier: Tier) -> i64 {
        let price = match tier {
            Tier::Retail => None,
            Tier::Wholesale => self.wholesale,
            Tier::Vip => self.vip,
            Tier::Staff => self.staff,
        };
        price.unwrap_or(self.retail)
    }
}

/// Products `1..=count`; product `i` has `prices[i - 1]`.
#[derive(Debug, Clone)]
pub struct Catalogue {
    pub prices: Vec<Prices>,
    pub batch: RecordBatch,
}

/// Draws `count` products.
///
/// # Errors
/// Only if the columns do not fit the canonical schema, which is a bug.
pub fn generate(seed: u64, count: usize) -> Result<Catalogue, ArrowError> {
    let mut rng = random::stream(seed, Domain::Products, 0);
    let mut names = Vec::with_capacity(count);
    let mut categories = Vec::with_capacity(count);
    let mut prices = Vec::with_capacity(count);
    for _ in 0..count {
        let (category, kinds) = vocab::PRODUCT_RANGE[random::skewed_index(&mut rng, 12, 1.4)];
        names.push(product_name(&mut rng, kinds));
        categories.push(category);
        prices.push(draw_prices(&mut rng));
    }

    let ids = Int64Array::from_iter_values(1..=count as i64);
    let skus = StringArray::from_iter_values((1..=count).map(|i| format!("SKU-{i:06}")));
    let tier = |f: fn(&Prices) -> Option<i64>| Int64Array::from_iter(prices.iter().map(f));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(ids),
        Arc::new(skus),
        Arc::new(StringArray::from_iter_values(&names)),
        Arc::new(StringArray::from_iter_values(&categories)),
        Arc::new(Int64Array::from_iter_values(
            prices.iter().map(|p| p.retail),
        )),
        Arc::new(tier(|p| p.wholesale)),
        Arc::new(tier(|p| p.vip)),
        Arc::new(tier(|p| p.staff)),
    ];
    let batch = RecordBatch::try_new(schema::products_schema(), columns)?;
    Ok(Catalogue { prices, batch })
}

fn product_name(rng: &mut impl Rng, kinds: &[&str]) -> String {
    let adjective = vocab::PRODUCT_ADJECTIVES[rng.random_range(0..vocab::PRODUCT_ADJECTIVES.len())];
    let colour = vocab::PRODUCT_COLOURS[rng.random_range(0..vocab::PRODUCT_COLOURS.len())];
    format!(
        "{adjective} {colour} {}",
        kinds[rng.random_range(0..kinds.len())]
    )
}

/// A retail price around 15.00 with a long tail, ending in .99 or .50 or .00 like shop
/// prices do; tier prices are a discount on it and sometimes missing.
fn draw_prices(rng: &mut impl Rng) -> Prices {
    let euros = random::lognormal(rng, 2.5, 0.9).clamp(0.5, 5_000.0) as i64;
    let cents = [99, 50, 0, 95][rng.random_range(0..4)];
    let retail = euros * 100 + cents;
    let discounted = |percent: i64| retail * (100 - percent) / 100;
    Prices {
        retail,
        wholesale: rng
            .random_bool(0.8)
            .then(|| discounted(rng.random_range(15..=35))),
        vip: rng.random_bool(0.5).then(|| discounted(10)),
        staff: rng.random_bool(0.3).then(|| discounted(40)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_tier_prices_fall_back_to_retail() {
        let prices = Prices {
            retail: 1999,
            wholesale: Some(1500),
            vip: None,
            staff: None,
        };
        assert_eq!(prices.for_tier(Tier::Wholesale), 1500);
        assert_eq!(prices.for_tier(Tier::Vip), 1999);
        assert_eq!(prices.for_tier(Tier::Retail), 1999);
    }

    #[test]
    fn catalogue_has_every_id_and_positive_prices() {
        let catalogue = generate(7, 100).unwrap();
        assert_eq!(catalogue.batch.num_rows(), 100);
        assert!(catalogue.prices.iter().all(|p| p.retail > 0));
        assert!(
            catalogue
                .prices
                .iter()
                .all(|p| p.wholesale.is_none_or(|w| w < p.retail))
        );
    }
}
