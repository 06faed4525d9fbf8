//! Which column of a sales-lines file holds what: recognised from the header row, or
//! given by the user as `KEY=COLUMN`.

use std::fmt;
use std::str::FromStr;

use csv::StringRecord;

use super::SalesLinesError;

/// What the importer reads from a sales-lines file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    OrderId,
    OrderedAt,
    ClientId,
    ProductCode,
    Description,
    Quantity,
    UnitPrice,
    Country,
}

impl Key {
    pub const ALL: [Key; 8] = [
        Key::OrderId,
        Key::OrderedAt,
        Key::ClientId,
        Key::ProductCode,
        Key::Description,
        Key::Quantity,
        Key::UnitPrice,
        Key::Country,
    ];

    /// The name used in `--map KEY=COLUMN`.
    pub fn name(self) -> &'static str {
        match self {
            Key::OrderId => "order_id",
            Key::OrderedAt => "ordered_at",
            Key::ClientId => "client_id",
            Key::ProductCode => "product_code",
            Key::Description => "description",
            Key::Quantity => "quantity",
            Key::UnitPrice => "unit_price",
            Key::Country => "country",
        }
    }

    /// Without a client id every row is a guest sale; without a description or country
    /// those stay empty. The rest is needed.
    pub fn required(self) -> bool {
        !matches!(self, Key::ClientId | Key::Description | Key::Country)
    }

    /// Headers recognised without `--map`, folded by [`fold_header`]: the UCI Online Retail
    /// names, the Online Retail II names, then common English ones.
    fn known_headers(self) -> &'static [&'static str] {
        match self {
            Key::OrderId => &["invoiceno", "invoice", "orderid", "ordernumber", "orderno"],
            Key::OrderedAt => &["invoicedate", "orderdate", "orderedat", "date", "datetime"],
            Key::ClientId => &["customerid", "clientid", "customer", "client"],
            Key::ProductCode => &["stockcode", "productcode", "sku", "productid", "itemcode"],
            Key::Description => &["description", "productname", "itemname"],
            Key::Quantity => &["quantity", "qty"],
            Key::UnitPrice => &["unitprice", "price"],
            Key::Country => &["country"],
        }
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Key {
    type Err = String;

    fn from_str(text: &str) -> Result<Key, String> {
        let names = || Key::ALL.map(Key::name).join(", ");
        Key::ALL
            .into_iter()
            .find(|k| k.name() == text.trim())
            .ok_or_else(|| format!("unknown key {text:?}; the keys are {}", names()))
    }
}

/// One `--map KEY=COLUMN`: the file's column that holds `key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    pub key: Key,
    pub column: String,
}

impl FromStr for Mapping {
    type Err = String;

    fn from_str(text: &str) -> Result<Mapping, String> {
        let (key, column) = text
            .split_once('=')
            .ok_or_else(|| format!("{text:?} is not KEY=COLUMN"))?;
        Ok(Mapping {
            key: key.parse()?,
            column: column.trim().to_string(),
        })
    }
}

/// Where each key is in the file's rows, with the column's name as the file spells it.
#[derive(Debug, Clone)]
pub struct ColumnMap {
    columns: [Option<(usize, String)>; 8],
}

impl ColumnMap {
    /// Finds every key's column: a `--map` names it exactly (after trimming), otherwise a
    /// known header does, compared case-insensitively and ignoring spaces and underscores.
    ///
    /// # Errors
    /// A mapped column that is not in the header, or a required key found nowhere.
    pub fn resolve(
        headers: &StringRecord,
        mappings: &[Mapping],
        file: &str,
    ) -> Result<ColumnMap, SalesLinesError> {
        let mut columns: [Option<(usize, String)>; 8] = Default::default();
        for (slot, key) in columns.iter_mut().zip(Key::ALL) {
            *slot = match mappings.iter().rev().find(|m| m.key == key) {
                Some(mapping) => Some(find_exact(headers, mapping, file)?),
                None => find_known(headers, key),
            };
        }
        let missing = Key::ALL
            .into_iter()
            .zip(&columns)
            .find(|(k, c)| k.required() && c.is_none());
        if let Some((key, _)) = missing {
            return Err(SalesLinesError::MissingColumn {
                file: file.to_string(),
                key,
                headers: headers.iter().map(str::to_string).collect(),
            });
        }
        Ok(ColumnMap { columns })
    }

    /// The position of `key`'s column, if the file has one.
    pub fn index(&self, key: Key) -> Option<usize> {
        self.columns[key as usize].as_ref().map(|(i, _)| *i)
    }

    /// The file's name of `key`'s column, for messages.
    pub fn header(&self, key: Key) -> &str {
        self.columns[key as usize]
            .as_ref()
            .map_or(key.name(), |(_, h)| h.as_str())
    }
}

fn find_exact(
    headers: &StringRecord,
    mapping: &Mapping,
    file: &str,
) -> Result<(usize, String), SalesLinesError> {
    let index = headers.iter().position(|h| h.trim() == mapping.column);
    let unknown = || SalesLinesError::UnknownMappedColumn {
        file: file.to_string(),
        key: mapping.key,
        column: mapping.column.clone(),
        headers: headers.iter().map(str::to_string).collect(),
    };
    index
        .map(|i| (i, headers[i].to_string()))
        .ok_or_else(unknown)
}

fn find_known(headers: &StringRecord, key: Key) -> Option<(usize, String)> {
    let folded: Vec<String> = headers.iter().map(fold_header).collect();
    key.known_headers()
        .iter()
        .find_map(|known| folded.iter().position(|h| h == known))
        .map(|i| (i, headers[i].to_string()))
}

/// `"Customer ID"`, `"customer_id"` and `"CustomerID"` all fold to `"customerid"`.
fn fold_header(header: &str) -> String {
    header
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(headers: &[&str], mappings: &[&str]) -> Result<ColumnMap, SalesLinesError> {
        let mappings: Vec<Mapping> = mappings.iter().map(|m| m.parse().unwrap()).collect();
        ColumnMap::resolve(&StringRecord::from(headers.to_vec()), &mappings, "f.csv")
    }

    #[test]
    fn recognises_both_online_retail_headers() {
        let first = [
            "InvoiceNo",
            "StockCode",
            "Description",
            "Quantity",
            "InvoiceDate",
            "UnitPrice",
            "CustomerID",
            "Country",
        ];
        let second = [
            "Invoice",
            "StockCode",
            "Description",
            "Quantity",
            "InvoiceDate",
            "Price",
            "Customer ID",
            "Country",
        ];

        for headers in [first, second] {
            let map = resolve(&headers, &[]).unwrap();
            let found: Vec<_> = Key::ALL.iter().map(|k| map.index(*k)).collect();
            assert_eq!(found, [0, 4, 6, 1, 2, 3, 5, 7].map(Some));
        }
    }

    #[test]
    fn a_mapping_beats_a_known_header() {
        let map = resolve(
            &["Invoice", "Ref", "Date", "Sku", "Qty", "Net"],
            &["order_id=Ref", "unit_price=Net"],
        )
        .unwrap();

        assert_eq!(map.index(Key::OrderId), Some(1));
        assert_eq!(map.index(Key::UnitPrice), Some(5));
        assert_eq!(map.header(Key::UnitPrice), "Net");
        assert_eq!(map.index(Key::ClientId), None);
    }

    #[test]
    fn names_what_is_missing() {
        let missing = resolve(&["Invoice", "Date", "Sku", "Qty"], &[]).unwrap_err();
        let unknown = resolve(
            &["Invoice", "Date", "Sku", "Qty", "Price"],
            &["country=Land"],
        )
        .unwrap_err();

        assert!(missing.to_string().contains("unit_price"), "{missing}");
        assert!(unknown.to_string().contains("\"Land\""), "{unknown}");
        assert!("colour=X".parse::<Mapping>().is_err());
        assert!("order_id".parse::<Mapping>().is_err());
    }
}
