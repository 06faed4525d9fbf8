//! Text written into CSV files that people open in spreadsheets.

use std::borrow::Cow;

/// A cell that a spreadsheet will show as text, never run as a formula: text starting with
/// `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading apostrophe (the OWASP
/// advice against CSV injection). Numbers are left alone, so `-12.50` stays a number.
pub fn spreadsheet_safe(cell: &str) -> Cow<'_, str> {
    let risky = cell.starts_with(['=', '+', '-', '@', '\t', '\r']);
    if risky && cell.parse::<f64>().is_err() {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

#[cfg(test)]
mod tests {
    use super::spreadsheet_safe;

    #[test]
    fn formulas_become_text_and_numbers_stay() {
        assert_eq!(
            spreadsheet_safe("=HYPERLINK(\"x\"), Inc"),
            "'=HYPERLINK(\"x\"), Inc"
        );
        assert_eq!(spreadsheet_safe("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(spreadsheet_safe("+49 30 1234"), "'+49 30 1234");
        assert_eq!(spreadsheet_safe("-12.50"), "-12.50");
        assert_eq!(spreadsheet_safe("Acme GmbH"), "Acme GmbH");
    }
}
