//! The catalog tables of the modules that segments drive: pricing, report widgets and the
//! Mailchimp sync, opened together with the segment catalog.

use crate::catalog::Migration;

/// Every module's migrations. Pricing and reports keep plain lists of statements that only
/// ever grow at the end, so statement `i` is that module's version `i + 1`.
pub fn migrations() -> Vec<Migration> {
    let numbered = |module: &'static str, list: &'static [&'static str]| {
        list.iter().enumerate().map(move |(i, sql)| Migration {
            module,
            version: i as u32 + 1,
            sql,
        })
    };
    numbered("pricing", crate::pricing::store::MIGRATIONS)
        .chain(numbered("reports", crate::reports::store::MIGRATIONS))
        .chain(crate::mailchimp::store::CATALOG_MIGRATIONS.iter().copied())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;

    #[test]
    fn a_new_catalog_gets_every_module_table() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = Catalog::open(&dir.path().join("catalog.sqlite"), &migrations()).unwrap();
        let tables: Vec<String> = catalog
            .with_conn(|conn| {
                let mut statement =
                    conn.prepare("SELECT name FROM sqlite_master WHERE type = 'table'")?;
                let names = statement.query_map([], |row| row.get(0))?;
                Ok(names.collect::<Result<_, _>>()?)
            })
            .unwrap();
        for table in [
            "pricing_priority",
            "price_updates",
            "dashboard_widgets",
            "mailchimp_syncs",
        ] {
            assert!(
                tables.iter().any(|t| t == table),
                "{table} missing from {tables:?}"
            );
        }
    }
}
