//! Country names as exports spell them, mapped to ISO 3166-1 alpha-2 codes.
//!
//! Covers the 25 TPC-H nations, every country of the UCI Online Retail files and the
//! usual English names of large economies. A name not listed maps to nothing: better a
//! missing country than a wrong one. Regions that are no country ("European Community",
//! "Channel Islands", "West Indies", "Unspecified") map to nothing on purpose.

/// English names (and common aliases), case-folded, with their codes.
#[rustfmt::skip]
const NAMES: [(&str, &str); 84] = [
    ("algeria", "DZ"), ("argentina", "AR"), ("australia", "AU"), ("austria", "AT"),
    ("bahrain", "BH"), ("belgium", "BE"), ("bermuda", "BM"), ("brazil", "BR"),
    ("bulgaria", "BG"), ("canada", "CA"), ("chile", "CL"), ("china", "CN"),
    ("colombia", "CO"), ("croatia", "HR"), ("cyprus", "CY"), ("czech republic", "CZ"),
    ("czechia", "CZ"), ("denmark", "DK"), ("egypt", "EG"), ("eire", "IE"),
    ("estonia", "EE"), ("ethiopia", "ET"), ("finland", "FI"), ("france", "FR"),
    ("germany", "DE"), ("greece", "GR"), ("hong kong", "HK"), ("hungary", "HU"),
    ("iceland", "IS"), ("india", "IN"), ("indonesia", "ID"), ("iran", "IR"),
    ("iraq", "IQ"), ("ireland", "IE"), ("israel", "IL"), ("italy", "IT"),
    ("japan", "JP"), ("jordan", "JO"), ("kenya", "KE"), ("korea", "KR"),
    ("south korea", "KR"), ("latvia", "LV"), ("lebanon", "LB"), ("lithuania", "LT"),
    ("luxembourg", "LU"), ("malaysia", "MY"), ("malta", "MT"), ("mexico", "MX"),
    ("morocco", "MA"), ("mozambique", "MZ"), ("netherlands", "NL"), ("the netherlands", "NL"),
    ("new zealand", "NZ"), ("nigeria", "NG"), ("norway", "NO"), ("peru", "PE"),
    ("philippines", "PH"), ("poland", "PL"), ("portugal", "PT"), ("romania", "RO"),
    ("rsa", "ZA"), ("russia", "RU"), ("saudi arabia", "SA"), ("singapore", "SG"),
    ("slovakia", "SK"), ("slovenia", "SI"), ("south africa", "ZA"), ("spain", "ES"),
    ("sweden", "SE"), ("switzerland", "CH"), ("taiwan", "TW"), ("thailand", "TH"),
    ("turkey", "TR"), ("ukraine", "UA"), ("united arab emirates", "AE"),
    ("united kingdom", "GB"), ("uk", "GB"), ("great britain", "GB"),
    ("united states", "US"), ("united states of america", "US"), ("usa", "US"),
    ("vietnam", "VN"), ("viet nam", "VN"), ("brasil", "BR"),
];

/// The ISO alpha-2 code of a country name or code: `"United Kingdom"`, `"EIRE"`, `"usa"`
/// and `"de"` all map; an unknown name maps to `None`.
pub fn iso_alpha2(name: &str) -> Option<&'static str> {
    let folded = name.trim().to_lowercase();
    if let Some((_, code)) = NAMES.iter().find(|(n, _)| *n == folded) {
        return Some(code);
    }
    // An input that already is a code we know.
    NAMES
        .iter()
        .map(|(_, code)| *code)
        .find(|code| code.eq_ignore_ascii_case(&folded))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(name: &str, expected: Option<&str>) {
        assert_eq!(iso_alpha2(name), expected, "{name}");
    }

    #[test]
    fn maps_export_spellings() {
        check("United Kingdom", Some("GB"));
        check("EIRE", Some("IE"));
        check("RSA", Some("ZA"));
        check("USA", Some("US"));
        check(" UNITED STATES ", Some("US"));
        check("Czech Republic", Some("CZ"));
        check("SAUDI ARABIA", Some("SA"));
    }

    #[test]
    fn passes_known_codes_and_refuses_regions() {
        check("de", Some("DE"));
        check("GB", Some("GB"));
        check("European Community", None);
        check("Channel Islands", None);
        check("Unspecified", None);
        check("XX", None);
    }
}
