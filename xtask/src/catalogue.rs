//! `cargo xtask catalogue`: what can be ordered, managed on every backend: the local SQLite file
//! (`dev --db`) and a deployed stage's DynamoDB table. A fresh deployment's table is empty, and
//! every order placed against an empty catalogue is refused; `catalogue import` fills it.
//!
//! An import is checked whole before anything is written: a file with a bad row writes nothing,
//! and every bad row is reported with its line. Writing the same file twice changes nothing the
//! second time. Stock held by open orders is never touched: `stock` counts the units still
//! available, reservations live on their orders and return to stock if an order fails.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use eventforge_core::inventory::{CatalogueEntry, InventoryItem};
use eventforge_core::{Sku, Store};
use eventforge_store_dynamodb::DynamoStore;
use eventforge_store_sqlite::SqliteStore;
use serde_json::value::RawValue;

use crate::aws::AwsArgs;
use crate::synth::StageArg;

#[derive(Args)]
pub struct CatalogueArgs {
    #[command(subcommand)]
    pub command: CatalogueCommand,
    #[command(flatten)]
    pub backend: BackendArgs,
}

#[derive(Subcommand)]
pub enum CatalogueCommand {
    /// Create or update products from a file: a JSON array of objects, or a CSV file with a
    /// header row, each with the fields sku, name, unit_price_minor, currency, stock. The whole
    /// file is checked first; any bad row is reported with its line and nothing is written.
    /// Importing the same file again changes nothing.
    Import {
        /// The catalogue file (`.json` or `.csv`; other names are read as JSON when they start
        /// with `[`, else as CSV).
        file: PathBuf,
        /// Check the file and show what would change, without writing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Every product with its price and the units available to order.
    List,
    /// Set the units available to order of one product that exists.
    SetStock {
        sku: String,
        /// Units available to order (0 to 1,000,000,000).
        stock: u32,
    },
}

/// Which catalogue: the local SQLite file, or a deployed stage's DynamoDB table.
#[derive(Args)]
pub struct BackendArgs {
    /// The local platform's SQLite file, as `cargo xtask dev --db` takes it
    /// [default: .eventforge/dev.db, unless a DynamoDB flag is given].
    #[arg(long, global = true, value_name = "FILE", conflicts_with_all = ["stage", "table"])]
    pub db: Option<PathBuf>,
    /// The deployed stage whose table to use (`eventforge-<stage>-orders`, in the account and
    /// region of the AWS flags).
    #[arg(long, global = true, value_enum, conflicts_with = "table")]
    pub stage: Option<StageArg>,
    /// The DynamoDB table to use, by name.
    #[arg(long, global = true, value_name = "NAME")]
    pub table: Option<String>,
    #[command(flatten)]
    pub aws: AwsArgs,
}

/// The local file `cargo xtask dev` uses unless told otherwise.
const DEFAULT_DB: &str = ".eventforge/dev.db";

impl BackendArgs {
    /// The DynamoDB table the flags name, if they name one.
    fn table(&self) -> Option<String> {
        let any_aws_flag = self.aws.endpoint_url.is_some()
            || self.aws.profile.is_some()
            || self.aws.region.is_some();
        match (&self.table, self.stage) {
            (Some(table), _) => Some(table.clone()),
            (None, Some(stage)) => Some(table_of(stage)),
            (None, None) if any_aws_flag && self.db.is_none() => Some(table_of(StageArg::Dev)),
            (None, None) => None,
        }
    }

    /// The store the flags name, and a description of it for messages.
    async fn open(&self) -> Result<(Arc<dyn Store>, String)> {
        if let Some(table) = self.table() {
            let sdk = self.aws.sdk_config().await?;
            let client = aws_sdk_dynamodb::Client::new(&sdk);
            client
                .describe_table()
                .table_name(&table)
                .send()
                .await
                .map_err(|error| {
                    anyhow::anyhow!(
                        "cannot reach the table {table} ({}): deploy the stage first \
                         (`cargo xtask deploy`), or name the table with --table",
                        aws_sdk_dynamodb::error::DisplayErrorContext(error)
                    )
                })?;
            let region = sdk.region().map_or_else(String::new, ToString::to_string);
            return Ok((
                Arc::new(DynamoStore::new(client, table.clone())),
                format!("the DynamoDB table {table} ({region})"),
            ));
        }
        let path = self.db.clone().unwrap_or_else(|| PathBuf::from(DEFAULT_DB));
        if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        let store = SqliteStore::open(&path)
            .with_context(|| format!("cannot open the SQLite file {}", path.display()))?;
        Ok((
            Arc::new(store),
            format!("the SQLite file {}", path.display()),
        ))
    }
}

/// The table of a deployed stage, as the data stack names it.
fn table_of(stage: StageArg) -> String {
    eventforge_stacks::platform::Config::for_stage(stage.into()).table_name()
}

pub fn run(args: CatalogueArgs) -> Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?
        .block_on(async {
            match args.command {
                CatalogueCommand::Import { file, dry_run } => {
                    import(&args.backend, &file, dry_run).await
                }
                CatalogueCommand::List => list(&args.backend).await,
                CatalogueCommand::SetStock { sku, stock } => {
                    set_stock(&args.backend, &sku, stock).await
                }
            }
        })
}

async fn import(backend: &BackendArgs, file: &Path, dry_run: bool) -> Result<()> {
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("cannot read the catalogue file {}", file.display()))?;
    let items = match read_catalogue(file, &text) {
        Ok(items) => items,
        Err(problems) => {
            for problem in &problems {
                eprintln!("{}:{problem}", file.display());
            }
            bail!(
                "{} bad row(s) in {}: nothing was written; fix them and import again",
                problems.len(),
                file.display()
            );
        }
    };
    let (store, place) = backend.open().await?;
    let skus: Vec<Sku> = items.iter().map(|item| item.sku.clone()).collect();
    let existing: BTreeMap<Sku, InventoryItem> = store
        .get_inventory(&skus)
        .await?
        .into_iter()
        .map(|item| (item.sku.clone(), item))
        .collect();
    let change = Change::between(&existing, items);
    if !dry_run {
        for item in change.created.iter().chain(&change.updated) {
            store.put_inventory(item).await.with_context(|| {
                format!(
                    "writing {} failed; importing the file again resumes",
                    item.sku
                )
            })?;
        }
    }
    println!(
        "{} {} product(s) into {place}: {change}",
        if dry_run { "would import" } else { "imported" },
        change.total()
    );
    Ok(())
}

/// What an import does to the products it names.
struct Change {
    created: Vec<InventoryItem>,
    updated: Vec<InventoryItem>,
    unchanged: usize,
}

impl Change {
    fn between(existing: &BTreeMap<Sku, InventoryItem>, items: Vec<InventoryItem>) -> Self {
        let mut change = Self {
            created: Vec::new(),
            updated: Vec::new(),
            unchanged: 0,
        };
        for item in items {
            match existing.get(&item.sku) {
                None => change.created.push(item),
                Some(current) if *current == item => change.unchanged += 1,
                Some(_) => change.updated.push(item),
            }
        }
        change
    }

    fn total(&self) -> usize {
        self.created.len() + self.updated.len() + self.unchanged
    }
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} new, {} updated, {} unchanged",
            self.created.len(),
            self.updated.len(),
            self.unchanged
        )
    }
}

async fn list(backend: &BackendArgs) -> Result<()> {
    let (store, place) = backend.open().await?;
    let mut items = store.list_inventory().await?;
    items.sort_by(|a, b| a.sku.cmp(&b.sku));
    if items.is_empty() {
        println!(
            "{place} has no products: `cargo xtask catalogue import FILE` adds them, and every \
             order is refused until it does"
        );
        return Ok(());
    }
    println!(
        "{:<24} {:<32} {:>14} {:>10}",
        "SKU", "NAME", "PRICE", "STOCK"
    );
    for item in &items {
        println!(
            "{:<24} {:<32} {:>14} {:>10}",
            item.sku.as_str(),
            item.name,
            price(item),
            item.stock
        );
    }
    println!("{} product(s) in {place}", items.len());
    Ok(())
}

/// `8999` USD as `89.99 USD`: two decimals, as the dashboard shows prices.
fn price(item: &InventoryItem) -> String {
    format!(
        "{}.{:02} {}",
        item.unit_price_minor / 100,
        item.unit_price_minor % 100,
        item.currency.as_str()
    )
}

async fn set_stock(backend: &BackendArgs, sku: &str, stock: u32) -> Result<()> {
    let sku: Sku = sku
        .parse()
        .with_context(|| format!("{sku:?} is not a SKU"))?;
    let (store, place) = backend.open().await?;
    let Some(mut item) = store.get_inventory(std::slice::from_ref(&sku)).await?.pop() else {
        bail!(
            "{place} has no product {sku}: `cargo xtask catalogue list` shows the products, \
             `cargo xtask catalogue import FILE` adds new ones"
        );
    };
    let entry = CatalogueEntry {
        stock: i64::from(stock),
        ..entry_of(&item)
    };
    let before = item.stock;
    item = entry
        .validate()
        .map_err(|errors| anyhow::anyhow!("{errors}"))?;
    store.put_inventory(&item).await?;
    println!("{sku}: stock {before} -> {} in {place}", item.stock);
    Ok(())
}

fn entry_of(item: &InventoryItem) -> CatalogueEntry {
    CatalogueEntry {
        sku: item.sku.to_string(),
        name: item.name.clone(),
        unit_price_minor: i64::try_from(item.unit_price_minor).unwrap_or(i64::MAX),
        currency: item.currency.as_str().to_owned(),
        stock: i64::from(item.stock),
    }
}

/// One bad row of a catalogue file.
#[derive(Debug, PartialEq, Eq)]
pub struct RowProblem {
    pub line: usize,
    pub message: String,
}

impl fmt::Display for RowProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.line, self.message)
    }
}

/// One row of a catalogue file as read: its line, and its entry or why it cannot be read.
type Row = (usize, Result<CatalogueEntry, String>);

/// Every product of a catalogue file, checked; or every bad row, with its line.
pub fn read_catalogue(path: &Path, text: &str) -> Result<Vec<InventoryItem>, Vec<RowProblem>> {
    let is_json = match path.extension().and_then(|extension| extension.to_str()) {
        Some(extension) if extension.eq_ignore_ascii_case("json") => true,
        Some(extension) if extension.eq_ignore_ascii_case("csv") => false,
        _ => text.trim_start().starts_with('['),
    };
    let rows = if is_json {
        json_rows(text)?
    } else {
        csv_rows(text)?
    };
    let mut items = Vec::new();
    let mut problems = Vec::new();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for (line, entry) in rows {
        let checked = entry.and_then(|entry| {
            if let Some(first) = seen.insert(entry.sku.clone(), line) {
                return Err(format!(
                    "{} is listed twice (first on line {first})",
                    entry.sku
                ));
            }
            entry.validate().map_err(|errors| errors.to_string())
        });
        match checked {
            Ok(item) => items.push(item),
            Err(message) => problems.push(RowProblem { line, message }),
        }
    }
    if problems.is_empty() {
        Ok(items)
    } else {
        Err(problems)
    }
}

/// The line (from 1) on which `offset` of `text` lies.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset].matches('\n').count() + 1
}

fn json_rows(text: &str) -> Result<Vec<Row>, Vec<RowProblem>> {
    // Raw values borrow from `text`, so each object's line is where its slice begins.
    let raw: Vec<&RawValue> = serde_json::from_str(text).map_err(|error| {
        vec![RowProblem {
            line: error.line(),
            message: format!("not a JSON array of products: {error}"),
        }]
    })?;
    Ok(raw
        .into_iter()
        .map(|value| {
            let offset = value.get().as_ptr() as usize - text.as_ptr() as usize;
            let entry = serde_json::from_str::<CatalogueEntry>(value.get())
                .map_err(|error| error.to_string());
            (line_of(text, offset), entry)
        })
        .collect())
}

/// The header a CSV catalogue must have, in any order.
const CSV_FIELDS: [&str; 5] = ["sku", "name", "unit_price_minor", "currency", "stock"];

fn csv_rows(text: &str) -> Result<Vec<Row>, Vec<RowProblem>> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let header = reader
        .headers()
        .map_err(|error| {
            vec![RowProblem {
                line: 1,
                message: error.to_string(),
            }]
        })?
        .clone();
    let named: BTreeSet<&str> = header.iter().collect();
    if named != CSV_FIELDS.into_iter().collect() || named.len() != header.len() {
        return Err(vec![RowProblem {
            line: 1,
            message: format!(
                "the header row must name the columns {} (in any order, once each), not {}",
                CSV_FIELDS.join(","),
                header.iter().collect::<Vec<_>>().join(",")
            ),
        }]);
    }
    let mut rows = Vec::new();
    for record in reader.records() {
        let row = match record {
            Ok(record) => {
                let line = record.position().map_or(0, |position| position.line());
                let entry = record
                    .deserialize::<CatalogueEntry>(Some(&header))
                    .map_err(|error| csv_message(&error, &header));
                (line as usize, entry)
            }
            Err(error) => {
                let line = error.position().map_or(0, |position| position.line());
                (line as usize, Err(error.to_string()))
            }
        };
        rows.push(row);
    }
    Ok(rows)
}

/// A CSV row's deserialisation error, naming the column.
fn csv_message(error: &csv::Error, header: &csv::StringRecord) -> String {
    match error.kind() {
        csv::ErrorKind::Deserialize { err, .. } => match err.field() {
            Some(field) => format!(
                "column {}: {}",
                header.get(field as usize).unwrap_or("?"),
                err.kind()
            ),
            None => err.kind().to_string(),
        },
        _ => error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(problems: &[RowProblem]) -> Vec<usize> {
        problems.iter().map(|problem| problem.line).collect()
    }

    #[test]
    fn a_json_catalogue_is_read_with_each_products_line() {
        let text = "[\n  {\"sku\": \"A-1\", \"name\": \"Pen\", \"unit_price_minor\": 150, \"currency\": \"EUR\", \"stock\": 10},\n\n  {\"sku\": \"B-2\", \"name\": \"Ink\", \"unit_price_minor\": -1, \"currency\": \"EUR\", \"stock\": 10},\n  {\"sku\": \"C-3\", \"name\": \"Pad\", \"price\": 1}\n]\n";
        let problems = read_catalogue(Path::new("c.json"), text).unwrap_err();
        // Every bad row at once: a bad price on line 4, an unknown field on line 5.
        assert_eq!(lines(&problems), [4, 5], "{problems:?}");
        assert!(
            problems[0].message.contains("unit_price_minor"),
            "{problems:?}"
        );
        assert!(problems[1].message.contains("price"), "{problems:?}");
        let fixed = text.replace(
            ", \"price\": 1",
            ", \"unit_price_minor\": 1, \"currency\": \"EUR\", \"stock\": 0",
        );
        let good = fixed.replace("-1", "250");
        let items = read_catalogue(Path::new("c.json"), &good).unwrap();
        assert_eq!(items.len(), 3);
        assert_eq!(items[1].unit_price_minor, 250);
    }

    #[test]
    fn a_csv_catalogue_is_read_in_any_column_order_and_bad_rows_are_named_by_line() {
        let text = "name,sku,stock,currency,unit_price_minor\nPen,A-1,10,EUR,150\nInk,B 2,10,EUR,99\nPad,C-3,lots,EUR,99\n";
        let problems = read_catalogue(Path::new("c.csv"), text).unwrap_err();
        assert_eq!(lines(&problems), [3, 4], "{problems:?}");
        assert!(problems[0].message.contains("sku"), "{problems:?}");
        assert!(problems[1].message.contains("column stock"), "{problems:?}");
        let readable = text.replace("lots", "3");
        let items = read_catalogue(Path::new("c.csv"), &readable.replace("B 2", "B-2")).unwrap();
        assert_eq!(
            items.iter().map(|item| item.stock).collect::<Vec<_>>(),
            [10, 10, 3]
        );
    }

    #[test]
    fn a_csv_without_the_five_columns_is_refused_at_its_header() {
        let problems =
            read_catalogue(Path::new("c.csv"), "sku,name,price\nA-1,Pen,150\n").unwrap_err();
        assert_eq!(lines(&problems), [1]);
        assert!(problems[0].message.contains("unit_price_minor"));
    }

    #[test]
    fn a_sku_listed_twice_is_a_bad_row() {
        let text =
            "sku,name,unit_price_minor,currency,stock\nA-1,Pen,150,EUR,1\nA-1,Pen,150,EUR,2\n";
        let problems = read_catalogue(Path::new("c.csv"), text).unwrap_err();
        assert_eq!(lines(&problems), [3]);
        assert!(problems[0].message.contains("line 2"), "{problems:?}");
    }

    #[test]
    fn broken_json_is_reported_at_its_line() {
        let problems = read_catalogue(Path::new("c.json"), "[\n{\"sku\": \"A\",\n").unwrap_err();
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].line, 3);
    }

    #[test]
    fn an_import_counts_what_it_creates_updates_and_leaves() {
        let item = |sku: &str, stock: u32| InventoryItem {
            sku: sku.parse().unwrap(),
            name: "Pen".to_owned(),
            unit_price_minor: 150,
            currency: "EUR".parse().unwrap(),
            stock,
        };
        let existing: BTreeMap<Sku, InventoryItem> = [item("A-1", 5), item("B-2", 5)]
            .into_iter()
            .map(|item| (item.sku.clone(), item))
            .collect();
        let change = Change::between(
            &existing,
            vec![item("A-1", 5), item("B-2", 6), item("C-3", 1)],
        );
        assert_eq!(change.to_string(), "1 new, 1 updated, 1 unchanged");
        assert_eq!(change.total(), 3);
    }
}
