//! The words the generator builds names from: countries and their cities, people,
//! companies, tags, industries and products. Weights give the skew of real customer bases.
//!
//! The tables are data, kept compact by hand rather than one word a line.

/// Countries (ISO 3166-1 alpha-2) with their share of clients and their cities, the
/// first ones the most common.
#[rustfmt::skip]
pub const COUNTRIES: [(&str, f64, &[&str]); 30] = [
    ("DE", 22.0, &[
        "Berlin", "Hamburg", "München", "Köln", "Frankfurt am Main", "Stuttgart",
        "Düsseldorf", "Leipzig", "Dortmund", "Essen", "Bremen", "Dresden", "Hannover",
        "Nürnberg", "Duisburg", "Bochum", "Wuppertal", "Bielefeld", "Bonn", "Münster",
    ]),
    ("US", 18.0, &[
        "New York", "Los Angeles", "Chicago", "Houston", "Phoenix", "Philadelphia",
        "San Antonio", "San Diego", "Dallas", "Austin", "Jacksonville", "San Jose",
        "Columbus", "Charlotte", "Indianapolis", "San Francisco", "Seattle", "Denver",
        "Boston", "Nashville", "Portland", "Atlanta", "Miami", "Minneapolis", "Detroit",
    ]),
    ("GB", 12.0, &[
        "London", "Birmingham", "Manchester", "Leeds", "Glasgow", "Liverpool", "Bristol",
        "Sheffield", "Edinburgh", "Cardiff", "Leicester", "Nottingham", "Belfast",
        "Brighton", "Oxford",
    ]),
    ("FR", 9.0, &[
        "Paris", "Marseille", "Lyon", "Toulouse", "Nice", "Nantes", "Strasbourg",
        "Montpellier", "Bordeaux", "Lille", "Rennes", "Reims",
    ]),
    ("NL", 4.0, &[
        "Amsterdam", "Rotterdam", "Den Haag", "Utrecht", "Eindhoven", "Groningen",
        "Tilburg", "Almere",
    ]),
    ("AT", 3.5, &["Wien", "Graz", "Linz", "Salzburg", "Innsbruck", "Klagenfurt"]),
    ("CH", 3.5, &["Zürich", "Genève", "Basel", "Bern", "Lausanne", "Luzern"]),
    ("IT", 3.5, &["Roma", "Milano", "Napoli", "Torino", "Palermo", "Genova", "Bologna", "Firenze"]),
    ("ES", 3.0, &["Madrid", "Barcelona", "Valencia", "Sevilla", "Zaragoza", "Málaga", "Murcia", "Bilbao"]),
    ("BE", 2.5, &["Bruxelles", "Antwerpen", "Gent", "Charleroi", "Liège"]),
    ("PL", 2.0, &["Warszawa", "Kraków", "Łódź", "Wrocław", "Poznań", "Gdańsk"]),
    ("SE", 2.0, &["Stockholm", "Göteborg", "Malmö", "Uppsala", "Västerås"]),
    ("DK", 1.5, &["København", "Aarhus", "Odense", "Aalborg"]),
    ("NO", 1.2, &["Oslo", "Bergen", "Trondheim", "Stavanger"]),
    ("FI", 1.0, &["Helsinki", "Espoo", "Tampere", "Turku"]),
    ("IE", 1.2, &["Dublin", "Cork", "Limerick", "Galway"]),
    ("PT", 1.0, &["Lisboa", "Porto", "Braga", "Coimbra"]),
    ("CZ", 1.0, &["Praha", "Brno", "Ostrava", "Plzeň"]),
    ("CA", 1.5, &["Toronto", "Montréal", "Vancouver", "Calgary", "Ottawa", "Edmonton"]),
    ("AU", 1.2, &["Sydney", "Melbourne", "Brisbane", "Perth", "Adelaide"]),
    ("JP", 0.8, &["Tokyo", "Osaka", "Yokohama", "Nagoya", "Sapporo"]),
    ("BR", 0.6, &["São Paulo", "Rio de Janeiro", "Brasília", "Salvador"]),
    ("MX", 0.5, &["Ciudad de México", "Guadalajara", "Monterrey", "Puebla"]),
    ("IN", 0.6, &["Mumbai", "Delhi", "Bengaluru", "Hyderabad", "Chennai"]),
    ("CN", 0.5, &["Shanghai", "Beijing", "Shenzhen", "Guangzhou", "Chengdu"]),
    ("SG", 0.4, &["Singapore"]),
    ("ZA", 0.4, &["Johannesburg", "Cape Town", "Durban", "Pretoria"]),
    ("NZ", 0.3, &["Auckland", "Wellington", "Christchurch"]),
    ("HU", 0.5, &["Budapest", "Debrecen", "Szeged"]),
    ("GR", 0.4, &["Athína", "Thessaloníki", "Pátra"]),
];

/// Client types with their share of clients.
pub const CLIENT_TYPES: [(&str, f64); 5] = [
    ("retail", 45.0),
    ("online", 25.0),
    ("wholesale", 15.0),
    ("corporate", 10.0),
    ("distributor", 5.0),
];

#[rustfmt::skip]
pub const FIRST_NAMES: [&str; 40] = [
    "Anna", "Lukas", "Emma", "Jonas", "Mia", "Leon", "Sophie", "Felix", "Lena", "Paul",
    "Olivia", "James", "Charlotte", "William", "Amelia", "Oliver", "Chloé", "Louis", "Camille",
    "Hugo", "Giulia", "Marco", "Lucía", "Javier", "Sofía", "Mateo", "Zoë", "Noah", "Emily",
    "Liam", "Ava", "Ethan", "Maja", "Jakub", "Sara", "Erik", "Aino", "Mikko", "Yuki", "Ana",
];

#[rustfmt::skip]
pub const LAST_NAMES: [&str; 40] = [
    "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker",
    "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Miller", "Martin",
    "Bernard", "Dubois", "Durand", "Rossi", "Russo", "García", "Fernández", "López",
    "de Vries", "Jansen", "Nowak", "Kowalski", "Andersson", "Nielsen", "Hansen", "Virtanen",
    "O'Brien", "Murphy", "Silva", "Santos", "Novák", "Tanaka", "Nagy",
];

#[rustfmt::skip]
pub const COMPANY_WORDS: [&str; 20] = [
    "Trading", "Handel", "Supply", "Goods", "Retail", "Home", "Living", "Design", "Garden",
    "Kitchen", "Office", "Gifts", "Crafts", "Interiors", "Logistics", "Wholesale", "Market",
    "Store", "Partners", "Group",
];

/// Legal-form suffix of a company name in a country.
pub fn company_suffix(country: Option<&str>) -> &'static str {
    match country {
        Some("DE" | "AT" | "CH") => "GmbH",
        Some("GB" | "IE" | "NZ" | "ZA" | "AU") => "Ltd",
        Some("US" | "CA") => "Inc.",
        Some("FR" | "BE") => "SARL",
        Some("NL") => "B.V.",
        Some("ES" | "MX") => "S.L.",
        Some("IT") => "S.r.l.",
        Some("SE" | "NO" | "DK" | "FI") => "AB",
        Some("PL" | "CZ" | "HU") => "Sp. z o.o.",
        _ => "Ltd",
    }
}

#[rustfmt::skip]
pub const MAIL_DOMAINS: [&str; 8] = [
    "gmail.com", "outlook.com", "web.de", "gmx.de", "yahoo.com", "icloud.com", "orange.fr",
    "example.com",
];

/// Tags with their weight; `vip`, `blocked` and `staff` drive pricing and blocking rules.
#[rustfmt::skip]
pub const TAGS: [(&str, f64); 50] = [
    ("vip", 8.0), ("blocked", 1.5), ("staff", 1.0), ("newsletter", 10.0), ("b2b", 6.0),
    ("b2c", 6.0), ("wholesale-partner", 2.0), ("trade-fair-2023", 2.0),
    ("trade-fair-2024", 2.5), ("black-friday", 5.0), ("christmas-2024", 4.0),
    ("loyalty", 5.0), ("loyalty-gold", 1.5), ("loyalty-silver", 2.5), ("referral", 2.0),
    ("influencer", 0.5), ("eco", 3.0), ("premium", 2.0), ("bulk-buyer", 1.5),
    ("late-payer", 1.0), ("prepayment-only", 0.8), ("net-30", 2.0), ("net-60", 1.0),
    ("dropship", 0.8), ("marketplace", 2.0), ("amazon", 2.0), ("ebay", 1.5), ("etsy", 1.0),
    ("instagram", 2.5), ("facebook", 2.0), ("google-ads", 2.0), ("catalog-request", 1.0),
    ("sample-sent", 1.0), ("returns-high", 0.8), ("fragile", 0.5), ("express", 1.5),
    ("pickup", 1.0), ("key-account", 0.8), ("prospect", 2.0), ("reactivated", 1.0),
    ("churn-risk", 1.5), ("survey-2024", 1.5), ("beta-tester", 0.3), ("partner", 1.0),
    ("reseller", 1.2), ("franchise", 0.4), ("nonprofit", 0.5), ("education", 0.6),
    ("government", 0.3), ("export", 1.0),
];

/// How a `vip` tag is written by hand: mostly clean, sometimes not.
pub const VIP_SPELLINGS: [(&str, f64); 4] =
    [("vip", 70.0), ("VIP ", 10.0), ("Vip", 10.0), (" VIP", 10.0)];

#[rustfmt::skip]
pub const INDUSTRIES: [&str; 15] = [
    "Retail", "Hospitality", "Manufacturing", "Healthcare", "Education", "Construction",
    "Logistics", "Software", "Agriculture", "Finance", "Media", "Automotive", "Energy",
    "Public sector", "Non-profit",
];

/// Product categories, the most sold first, and the kinds of product in each.
#[rustfmt::skip]
pub const PRODUCT_RANGE: [(&str, &[&str]); 12] = [
    ("Kitchen", &["Mug", "Tea Towel", "Jar", "Lunch Box", "Apron"]),
    ("Decor", &["Vase", "Photo Frame", "Mirror", "Wall Sign"]),
    ("Gifts", &["Coaster Set", "Bottle", "Bag", "Keyring"]),
    ("Lighting", &["Lantern", "Candle Holder", "String Lights"]),
    ("Textiles", &["Cushion", "Blanket", "Throw"]),
    ("Storage", &["Basket", "Tray", "Shelf", "Hook"]),
    ("Stationery", &["Notebook", "Pen Set", "Card Set"]),
    ("Seasonal", &["Garland", "Ornament", "Advent Calendar"]),
    ("Garden", &["Planter", "Bird House", "Watering Can"]),
    ("Toys", &["Puzzle", "Spinning Top", "Skipping Rope"]),
    ("Bathroom", &["Soap Dish", "Toothbrush Holder", "Bath Mat"]),
    ("Tools", &["Tape Measure", "Screwdriver Set", "Torch"]),
];

#[rustfmt::skip]
pub const PRODUCT_ADJECTIVES: [&str; 20] = [
    "Classic", "Vintage", "Modern", "Rustic", "Compact", "Deluxe", "Mini", "Large", "Heart",
    "Folding", "Retro", "Nordic", "Industrial", "Floral", "Striped", "Polka Dot", "Glass",
    "Recycled", "Hand-Painted", "Travel",
];

#[rustfmt::skip]
pub const PRODUCT_COLOURS: [&str; 10] = [
    "White", "Black", "Red", "Pink", "Blue", "Green", "Ivory", "Grey", "Gold", "Natural",
];

/// An e-mail-safe ASCII form of a name: lower case, diacritics spelled out, no spaces.
pub fn ascii_slug(name: &str) -> String {
    let mut slug = String::with_capacity(name.len());
    for c in name.chars().flat_map(char::to_lowercase) {
        match c {
            'ä' => slug.push_str("ae"),
            'ö' => slug.push_str("oe"),
            'ü' => slug.push_str("ue"),
            'ß' => slug.push_str("ss"),
            'á' | 'à' | 'â' | 'ã' => slug.push('a'),
            'é' | 'è' | 'ê' | 'ë' => slug.push('e'),
            'í' | 'ì' | 'î' | 'ï' => slug.push('i'),
            'ó' | 'ò' | 'ô' | 'õ' => slug.push('o'),
            'ú' | 'ù' | 'û' => slug.push('u'),
            'ç' => slug.push('c'),
            'ł' => slug.push('l'),
            'ñ' => slug.push('n'),
            'č' | 'ć' => slug.push('c'),
            'ś' | 'š' => slug.push('s'),
            'ř' => slug.push('r'),
            c if c.is_ascii_alphanumeric() => slug.push(c),
            _ => {}
        }
    }
    slug
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn about_two_hundred_cities_in_thirty_countries() {
        let cities: usize = COUNTRIES.iter().map(|(_, _, c)| c.len()).sum();
        assert!((190..=220).contains(&cities), "{cities}");
        assert!(COUNTRIES.iter().all(|(code, _, _)| code.len() == 2));
    }

    #[test]
    fn slugs_are_ascii() {
        assert_eq!(ascii_slug("Müller"), "mueller");
        assert_eq!(ascii_slug("de Vries"), "devries");
        assert_eq!(ascii_slug("O'Brien"), "obrien");
        assert_eq!(ascii_slug("Chloé"), "chloe");
    }
}
