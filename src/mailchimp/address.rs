//! E-mail addresses as Mailchimp keys them: normalised, checked, hashed.
//!
//! Mailchimp names a member by the MD5 (lower-case hex) of the lower-cased address, so two
//! clients whose addresses differ only in case or surrounding spaces are one member.

use md5::{Digest, Md5};

/// The longest address Mailchimp (and RFC 5321) accepts.
const LENGTH_MAX: usize = 254;

/// An address trimmed and lower-cased: the form that is hashed and sent.
pub fn normalize(email: &str) -> String {
    email.trim().to_lowercase()
}

/// A deliberately simple check of a normalised address: exactly one `@`, a non-empty local
/// part, a domain holding a dot that is neither its first nor its last character, no
/// whitespace, at most 254 characters. Mailchimp may still refuse an address that passes;
/// that refusal is recorded per member.
pub fn is_valid(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    let domain_ok = domain.len() > 2
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.');
    email.len() <= LENGTH_MAX
        && !local.is_empty()
        && !domain.contains('@')
        && domain_ok
        && !email.chars().any(char::is_whitespace)
}

/// The subscriber hash of an address: MD5, lower-case hex, of its normalised form.
pub fn subscriber_hash(email: &str) -> String {
    hex::encode(Md5::digest(normalize(email).as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(raw: &str, valid: bool) {
        assert_eq!(is_valid(&normalize(raw)), valid, "{raw:?}");
    }

    #[test]
    fn validity_is_the_documented_simple_check() {
        check("ann@example.com", true);
        check("  Ann.Lee+shop@Example.CO.uk ", true);
        check("", false);
        check("ann", false);
        check("@example.com", false);
        check("ann@", false);
        check("ann@example", false);
        check("ann@.example", false);
        check("ann@example.", false);
        check("ann@@example.com", false);
        check("a@b@example.com", false);
        check("ann lee@example.com", false);
        check(&format!("{}@example.com", "a".repeat(250)), false);
    }

    #[test]
    fn hash_is_md5_of_the_trimmed_lower_cased_address() {
        // Values computed with Python's hashlib.md5 on the lower-cased address.
        assert_eq!(
            subscriber_hash(" Urist.McVankab@FreddiesJokes.com "),
            "62eeb292278cc15f5817cb78f7790b08"
        );
        assert_eq!(
            subscriber_hash("ANN@example.com"),
            "257c57037d384ae37ea27a07e8a01665"
        );
    }
}
