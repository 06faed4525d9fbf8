//! Synthetic clients: their profile columns, and the plan their orders follow later.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanBuilder, Date32Builder, Int64Builder, ListBuilder, StringBuilder,
    TimestampMicrosecondBuilder,
};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::Span;
use super::random::{self, Domain};
use super::vocab;
use crate::facts::schema::{self, CustomField, CustomKind};

const NO_EMAIL_SHARE: f64 = 0.05;
const INVALID_EMAIL_SHARE: f64 = 0.003;
const DUPLICATE_EMAIL_SHARE: f64 = 0.002;
const NO_COUNTRY_SHARE: f64 = 0.02;
const NO_CITY_SHARE: f64 = 0.03;
const DELETED_SHARE: f64 = 0.01;
const NO_ORDERS_SHARE: f64 = 0.08;
/// Log-normal order counts: with the type multipliers and the 8 % of clients without
/// orders, about 20 orders a client on average, a long tail of heavy buyers.
const ORDERS_MU: f64 = 2.46;
const ORDERS_SIGMA: f64 = 1.0;
const ORDERS_MAX: f64 = 5_000.0;
/// Share of clients with 0, 1, 2, 3 and 4 tags.
const TAG_COUNTS: [(usize, f64); 5] = [(0, 35.0), (1, 30.0), (2, 20.0), (3, 10.0), (4, 5.0)];

/// The client types, as indexes into [`vocab::CLIENT_TYPES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientKind {
    Retail,
    Online,
    Wholesale,
    Corporate,
    Distributor,
}

impl ClientKind {
    const ALL: [ClientKind; 5] = [
        ClientKind::Retail,
        ClientKind::Online,
        ClientKind::Wholesale,
        ClientKind::Corporate,
        ClientKind::Distributor,
    ];

    pub fn name(self) -> &'static str {
        vocab::CLIENT_TYPES[self as usize].0
    }

    /// Businesses buy on invoice and are named as companies.
    pub fn is_business(self) -> bool {
        matches!(
            self,
            ClientKind::Wholesale | ClientKind::Corporate | ClientKind::Distributor
        )
    }

    /// How many more orders than the average this type places.
    fn order_multiplier(self) -> f64 {
        match self {
            ClientKind::Retail => 0.8,
            ClientKind::Online => 1.0,
            ClientKind::Wholesale => 1.8,
            ClientKind::Corporate => 1.2,
            ClientKind::Distributor => 2.5,
        }
    }
}

/// The price list a client's orders are priced from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    Retail,
    Wholesale,
    Vip,
    Staff,
}

/// What the order generator needs to know of a client.
#[derive(Debug, Clone, Copy)]
pub struct ClientPlan {
    pub client_id: i64,
    pub kind: ClientKind,
    pub tier: Tier,
    pub created_us: i64,
    /// The client buys until here: deletion or now.
    pub active_until_us: i64,
    pub orders: u32,
}

/// The custom fields of generated clients, one of each common kind.
pub fn custom_fields() -> Vec<CustomField> {
    let field = |name: &str, kind| CustomField {
        name: name.into(),
        kind,
    };
    vec![
        field("industry", CustomKind::Text),
        field("employees", CustomKind::Integer),
        field("credit_limit", CustomKind::Money),
        field("newsletter", CustomKind::Boolean),
        field("contract_end", CustomKind::Date),
    ]
}

/// Generates clients `first_id..first_id + count` from the block's own random stream.
///
/// # Errors
/// Only if the columns do not fit the canonical schema, which is a bug.
pub fn generate_block(
    seed: u64,
    block: u64,
    first_id: i64,
    count: usize,
    span: &Span,
) -> Result<(RecordBatch, Vec<ClientPlan>), ArrowError> {
    let mut rng = random::stream(seed, Domain::Clients, block);
    let mut columns = ClientColumns::with_capacity(count);
    let mut plans = Vec::with_capacity(count);
    for client_id in first_id..first_id + count as i64 {
        plans.push(columns.push_client(&mut rng, client_id, span));
    }
    Ok((columns.finish()?, plans))
}

/// The clients' columns while a block is built.
struct ClientColumns {
    client_id: Int64Builder,
    name: StringBuilder,
    email: StringBuilder,
    client_type: StringBuilder,
    country: StringBuilder,
    city: StringBuilder,
    created_at: TimestampMicrosecondBuilder,
    tags: ListBuilder<StringBuilder>,
    deleted_at: TimestampMicrosecondBuilder,
    marketing_consent: BooleanBuilder,
    industry: StringBuilder,
    employees: Int64Builder,
    credit_limit: Int64Builder,
    newsletter: BooleanBuilder,
    contract_end: Date32Builder,
    /// The previous client's e-mail, which a deliberate duplicate copies.
    last_email: Option<String>,
}

impl ClientColumns {
    fn with_capacity(count: usize) -> Self {
        ClientColumns {
            client_id: Int64Builder::with_capacity(count),
            name: StringBuilder::new(),
            email: StringBuilder::new(),
            client_type: StringBuilder::new(),
            country: StringBuilder::new(),
            city: StringBuilder::new(),
            created_at: TimestampMicrosecondBuilder::with_capacity(count),
            tags: ListBuilder::new(StringBuilder::new()),
            deleted_at: TimestampMicrosecondBuilder::with_capacity(count),
            marketing_consent: BooleanBuilder::with_capacity(count),
            industry: StringBuilder::new(),
            employees: Int64Builder::with_capacity(count),
            credit_limit: Int64Builder::with_capacity(count),
            newsletter: BooleanBuilder::with_capacity(count),
            contract_end: Date32Builder::with_capacity(count),
            last_email: None,
        }
    }

    /// Draws one client, appends its columns and returns its plan.
    fn push_client(&mut self, rng: &mut ChaCha8Rng, client_id: i64, span: &Span) -> ClientPlan {
        let kind = ClientKind::ALL[random::weighted(rng, &CLIENT_KIND_WEIGHTS).to_owned()];
        let country = draw_country(rng);
        let created_us = span.start_us + rng.random_range(0..span.len_us() - DAY_US);
        let deleted_us = rng
            .random_bool(DELETED_SHARE)
            .then(|| rng.random_range(created_us..span.now_us));
        let tags = draw_tags(rng);

        self.client_id.append_value(client_id);
        self.client_type.append_value(kind.name());
        self.push_place(rng, country);
        self.push_name_and_email(rng, client_id, kind, country.map(|c| c.0));
        self.created_at.append_value(created_us);
        self.deleted_at.append_option(deleted_us);
        match tags.is_empty() && rng.random_bool(0.5) {
            true => self.tags.append_null(),
            false => self
                .tags
                .append_value(tags.iter().map(|t| Some(t.as_str()))),
        }
        self.marketing_consent.append_option(draw_consent(rng));
        self.push_custom_fields(rng, kind, span);

        let active_until_us = deleted_us.unwrap_or(span.now_us);
        ClientPlan {
            client_id,
            kind,
            tier: tier_of(kind, &tags),
            created_us,
            active_until_us,
            orders: draw_order_count(rng, kind, active_until_us - created_us, span),
        }
    }

    fn push_place(&mut self, rng: &mut ChaCha8Rng, country: Option<(&str, &[&str])>) {
        self.country.append_option(country.map(|c| c.0));
        let city = country
            .filter(|_| !rng.random_bool(NO_CITY_SHARE))
            .map(|(_, cities)| cities[random::skewed_index(rng, cities.len(), 1.6)]);
        self.city.append_option(city);
    }

    fn push_name_and_email(
        &mut self,
        rng: &mut ChaCha8Rng,
        client_id: i64,
        kind: ClientKind,
        country: Option<&str>,
    ) {
        let (name, mailbox) = match kind.is_business() {
            true => company_name(rng, client_id, country),
            false => person_name(rng, client_id),
        };
        let email = if rng.random_bool(NO_EMAIL_SHARE) {
            None
        } else if rng.random_bool(INVALID_EMAIL_SHARE) {
            Some(["n/a", "none", "-", "unknown@"][rng.random_range(0..4)].to_string())
        } else if rng.random_bool(DUPLICATE_EMAIL_SHARE) && self.last_email.is_some() {
            // A second account of the same person, typed with capitals.
            self.last_email.as_deref().map(capitalize)
        } else {
            Some(mailbox)
        };
        self.name.append_value(name);
        self.email.append_option(email.as_deref());
        if email
            .as_deref()
            .is_some_and(|e| e.contains('@') && !e.ends_with('@'))
        {
            self.last_email = email;
        }
    }

    fn push_custom_fields(&mut self, rng: &mut ChaCha8Rng, kind: ClientKind, span: &Span) {
        let industry = match rng.random_range(0..100) {
            0..10 => None,
            10..12 => Some(""),
            _ => Some(vocab::INDUSTRIES[random::skewed_index(rng, 15, 1.5)]),
        };
        self.industry.append_option(industry);
        let business = kind.is_business();
        let employees = business.then(|| random::lognormal(rng, 3.5, 1.2).round() as i64 + 1);
        self.employees.append_option(employees);
        let credit_limit = business.then(|| rng.random_range(1..=100) * 500 * 100);
        self.credit_limit.append_option(credit_limit);
        let newsletter = (!rng.random_bool(0.05)).then(|| rng.random_bool(0.6));
        self.newsletter.append_option(newsletter);
        let contract_end = (business && rng.random_bool(0.4))
            .then(|| span.now_date32() + rng.random_range(-365..3 * 365));
        self.contract_end.append_option(contract_end);
    }

    fn finish(mut self) -> Result<RecordBatch, ArrowError> {
        let utc = |mut b: TimestampMicrosecondBuilder| Arc::new(b.finish().with_timezone("UTC"));
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.client_id.finish()),
            Arc::new(self.name.finish()),
            Arc::new(self.email.finish()),
            Arc::new(self.client_type.finish()),
            Arc::new(self.country.finish()),
            Arc::new(self.city.finish()),
            utc(self.created_at),
            Arc::new(self.tags.finish()),
            utc(self.deleted_at),
            Arc::new(self.marketing_consent.finish()),
            Arc::new(self.industry.finish()),
            Arc::new(self.employees.finish()),
            Arc::new(self.credit_limit.finish()),
            Arc::new(self.newsletter.finish()),
            Arc::new(self.contract_end.finish()),
        ];
        RecordBatch::try_new(schema::clients_schema(&custom_fields()), columns)
    }
}

const DAY_US: i64 = 86_400_000_000;

const CLIENT_KIND_WEIGHTS: [(usize, f64); 5] = [
    (0, vocab::CLIENT_TYPES[0].1),
    (1, vocab::CLIENT_TYPES[1].1),
    (2, vocab::CLIENT_TYPES[2].1),
    (3, vocab::CLIENT_TYPES[3].1),
    (4, vocab::CLIENT_TYPES[4].1),
];

fn draw_country(rng: &mut ChaCha8Rng) -> Option<(&'static str, &'static [&'static str])> {
    if rng.random_bool(NO_COUNTRY_SHARE) {
        return None;
    }
    let total: f64 = vocab::COUNTRIES.iter().map(|c| c.1).sum();
    let mut left = rng.random::<f64>() * total;
    for (code, weight, cities) in vocab::COUNTRIES {
        if left < weight {
            return Some((code, cities));
        }
        left -= weight;
    }
    Some((vocab::COUNTRIES[0].0, vocab::COUNTRIES[0].2))
}

/// A person's name and mailbox; the client id in the mailbox keeps e-mails unique.
fn person_name(rng: &mut ChaCha8Rng, client_id: i64) -> (String, String) {
    let first = vocab::FIRST_NAMES[rng.random_range(0..vocab::FIRST_NAMES.len())];
    let last = vocab::LAST_NAMES[rng.random_range(0..vocab::LAST_NAMES.len())];
    let domain = vocab::MAIL_DOMAINS[random::skewed_index(rng, vocab::MAIL_DOMAINS.len(), 1.5)];
    let mailbox = format!(
        "{}.{}{client_id}@{domain}",
        vocab::ascii_slug(first),
        vocab::ascii_slug(last)
    );
    (format!("{first} {last}"), mailbox)
}

/// A company's name and mailbox.
fn company_name(rng: &mut ChaCha8Rng, client_id: i64, country: Option<&str>) -> (String, String) {
    let last = vocab::LAST_NAMES[rng.random_range(0..vocab::LAST_NAMES.len())];
    let word = vocab::COMPANY_WORDS[rng.random_range(0..vocab::COMPANY_WORDS.len())];
    let name = format!("{last} {word} {}", vocab::company_suffix(country));
    let inbox = ["info", "orders", "office", "purchasing"][rng.random_range(0..4)];
    let domain = format!(
        "{}-{}{client_id}",
        vocab::ascii_slug(last),
        vocab::ascii_slug(word)
    );
    (name, format!("{inbox}@{domain}.example"))
}

fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// 0 to 4 distinct tags, some of them written carelessly.
fn draw_tags(rng: &mut ChaCha8Rng) -> Vec<String> {
    let count = *random::weighted(rng, &TAG_COUNTS);
    let mut picked: Vec<&str> = Vec::with_capacity(count);
    while picked.len() < count {
        let tag = *random::weighted(rng, &vocab::TAGS);
        if !picked.contains(&tag) {
            picked.push(tag);
        }
    }
    picked.into_iter().map(|tag| spell_tag(rng, tag)).collect()
}

fn spell_tag(rng: &mut ChaCha8Rng, tag: &str) -> String {
    match tag {
        "vip" => random::weighted(rng, &vocab::VIP_SPELLINGS).to_string(),
        _ if rng.random_bool(0.03) => capitalize(tag),
        _ => tag.to_string(),
    }
}

fn tier_of(kind: ClientKind, tags: &[String]) -> Tier {
    let has = |name: &str| tags.iter().any(|t| t.trim().eq_ignore_ascii_case(name));
    if has("staff") {
        Tier::Staff
    } else if has("vip") {
        Tier::Vip
    } else if matches!(kind, ClientKind::Wholesale | ClientKind::Distributor) {
        Tier::Wholesale
    } else {
        Tier::Retail
    }
}

fn draw_consent(rng: &mut ChaCha8Rng) -> Option<bool> {
    match rng.random_range(0..10) {
        0 => None,
        1 | 2 => Some(false),
        _ => Some(true),
    }
}

/// How many orders a client places: none for some, log-normal for the rest, scaled by the
/// client's type and by how long it has been a client.
fn draw_order_count(rng: &mut ChaCha8Rng, kind: ClientKind, tenure_us: i64, span: &Span) -> u32 {
    let drawn = random::lognormal(rng, ORDERS_MU, ORDERS_SIGMA);
    if rng.random_bool(NO_ORDERS_SHARE) {
        return 0;
    }
    // Uniform creation dates make `2 × tenure share` average 1.
    let tenure = 2.0 * tenure_us as f64 / span.len_us() as f64;
    (drawn * kind.order_multiplier() * tenure)
        .round()
        .min(ORDERS_MAX) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers_follow_tags_whatever_their_spelling() {
        let tags = |t: &[&str]| t.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(tier_of(ClientKind::Retail, &tags(&["VIP "])), Tier::Vip);
        assert_eq!(
            tier_of(ClientKind::Wholesale, &tags(&["Staff", "vip"])),
            Tier::Staff
        );
        assert_eq!(
            tier_of(ClientKind::Distributor, &tags(&[])),
            Tier::Wholesale
        );
        assert_eq!(
            tier_of(ClientKind::Corporate, &tags(&["vipx"])),
            Tier::Retail
        );
    }

    #[test]
    fn capitalize_changes_only_the_first_letter() {
        assert_eq!(capitalize("anna.smith1@gmail.com"), "Anna.smith1@gmail.com");
        assert_eq!(capitalize(""), "");
    }
}
