//! A lake with no catalog, for a process whose work never touches a table: the Lambda
//! functions `filter` and `quarantine` read the bucket and the ledger only. Opening no
//! catalog keeps the catalog's client and Iceberg's table code out of their binaries (the
//! linker drops what nothing reaches), which is most of a function's size and cold start.
//! Every catalog call fails with a message that names the mistake.

use std::collections::HashMap;

use iceberg::table::Table;
use iceberg::{
    Catalog, Error, ErrorKind, Namespace, NamespaceIdent, Result, TableCommit, TableCreation,
    TableIdent,
};

/// The catalog of a process that must not use one.
#[derive(Debug, Default)]
pub struct NoCatalog;

fn refused<T>() -> Result<T> {
    Err(Error::new(
        ErrorKind::Unexpected,
        "this process opened no catalog: its step is not one that reads or writes tables",
    ))
}

#[async_trait::async_trait]
impl Catalog for NoCatalog {
    async fn list_namespaces(&self, _: Option<&NamespaceIdent>) -> Result<Vec<NamespaceIdent>> {
        refused()
    }
    async fn create_namespace(
        &self,
        _: &NamespaceIdent,
        _: HashMap<String, String>,
    ) -> Result<Namespace> {
        refused()
    }
    async fn get_namespace(&self, _: &NamespaceIdent) -> Result<Namespace> {
        refused()
    }
    async fn namespace_exists(&self, _: &NamespaceIdent) -> Result<bool> {
        refused()
    }
    async fn update_namespace(&self, _: &NamespaceIdent, _: HashMap<String, String>) -> Result<()> {
        refused()
    }
    async fn drop_namespace(&self, _: &NamespaceIdent) -> Result<()> {
        refused()
    }
    async fn list_tables(&self, _: &NamespaceIdent) -> Result<Vec<TableIdent>> {
        refused()
    }
    async fn create_table(&self, _: &NamespaceIdent, _: TableCreation) -> Result<Table> {
        refused()
    }
    async fn load_table(&self, _: &TableIdent) -> Result<Table> {
        refused()
    }
    async fn drop_table(&self, _: &TableIdent) -> Result<()> {
        refused()
    }
    async fn purge_table(&self, _: &TableIdent) -> Result<()> {
        refused()
    }
    async fn table_exists(&self, _: &TableIdent) -> Result<bool> {
        refused()
    }
    async fn rename_table(&self, _: &TableIdent, _: &TableIdent) -> Result<()> {
        refused()
    }
    async fn register_table(&self, _: &TableIdent, _: String) -> Result<Table> {
        refused()
    }
    async fn update_table(&self, _: TableCommit) -> Result<Table> {
        refused()
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use sluice_core::config::Config;

    use crate::Lake;

    #[tokio::test]
    async fn a_lake_without_a_catalog_refuses_with_a_reason() {
        let config = Config::parse(
            "[[table]]\nname = \"orders\"\nprefix = \"orders/\"\nformat = \"ndjson\"\ncontract = \"c.json\"\n",
            Path::new("sluice.toml"),
            PathBuf::new(),
        )
        .unwrap();
        let lake = Lake::without_catalog();
        let e = lake.load(&config.tables[0]).await.unwrap_err();
        assert!(e.to_string().contains("opened no catalog"), "{e}");
    }
}
