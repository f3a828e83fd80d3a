//! Where the lake lives: a local folder (the default, no cloud account needed) or
//! `s3://bucket/prefix`. Every table is `<root>/<layer>/<name>`, a Delta table.
//!
//! Invariant: all access goes through `deltalake`/`object_store`, so a local lake and an S3
//! lake behave the same; a table is created at most once, at version 0, even when two
//! processes race, and no table is opened over a damaged log ([`crate::log`]).

use std::path::Path;
use std::sync::Arc;

use arrow::datatypes::Schema;
use deltalake::kernel::StructType;
use deltalake::kernel::engine::arrow_conversion::TryIntoKernel;
use deltalake::logstore::{StorageConfig, logstore_for};
use deltalake::{DeltaTable, DeltaTableError, ObjectStore};
use url::Url;

use crate::catalog::Catalog;
use crate::error::{Error, Result};
use crate::tables::TableName;

/// A lake root, with the catalog (if any) told of new tables and schema changes.
#[derive(Clone)]
pub struct Lake {
    root: Url,
    catalog: Option<Arc<dyn Catalog>>,
}

impl std::fmt::Debug for Lake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lake")
            .field("root", &self.root.as_str())
            .field("catalog", &self.catalog.is_some())
            .finish()
    }
}

impl Lake {
    /// Opens a lake from a URI: a path (created if missing) or `s3://bucket/prefix`.
    pub fn new(uri: &str) -> Result<Self> {
        let bad = |reason: String| Error::LakeUri {
            uri: uri.to_owned(),
            reason,
        };
        let root = match Url::parse(uri) {
            #[cfg(feature = "s3")]
            Ok(url) if url.scheme() == "s3" || url.scheme() == "s3a" => {
                static S3: std::sync::Once = std::sync::Once::new();
                S3.call_once(|| deltalake::aws::register_handlers(None));
                url
            }
            #[cfg(not(feature = "s3"))]
            Ok(url) if url.scheme() == "s3" || url.scheme() == "s3a" => {
                return Err(bad(
                    "this build has no S3 support: build eventlake with `--features aws`".into(),
                ));
            }
            Ok(url) if url.scheme() == "file" => url,
            Ok(url) if url.scheme().len() > 1 => {
                return Err(bad(format!("unsupported scheme `{}`", url.scheme())));
            }
            _ => {
                let path = Path::new(uri);
                std::fs::create_dir_all(path).map_err(|e| bad(e.to_string()))?;
                let path = path.canonicalize().map_err(|e| bad(e.to_string()))?;
                Url::from_directory_path(&path).map_err(|()| bad("not an absolute path".into()))?
            }
        };
        let mut root = root;
        if !root.path().ends_with('/') {
            root.set_path(&format!("{}/", root.path()));
        }
        Ok(Self {
            root,
            catalog: None,
        })
    }

    /// The same lake, telling `catalog` of every table it creates and every schema change a
    /// writer reports through [`Lake::changed`].
    pub fn with_catalog(mut self, catalog: Arc<dyn Catalog>) -> Self {
        self.catalog = Some(catalog);
        self
    }

    /// Tells the catalog, if there is one, that `table` was created or changed its schema. A
    /// failure is logged, never returned: the write it follows has landed.
    pub async fn changed(&self, table: &TableName) {
        let Some(catalog) = &self.catalog else {
            return;
        };
        match catalog.register(self, table).await {
            Ok(()) => tracing::info!(%table, "catalog updated"),
            Err(e) => tracing::warn!(
                %table,
                error = %e,
                "the catalog could not be updated; `eventlake catalog sync` will register the table"
            ),
        }
    }

    /// The root URL, ending in `/`.
    pub fn root(&self) -> &Url {
        &self.root
    }

    /// The URL of a table.
    pub fn table_url(&self, table: &TableName) -> Url {
        self.root
            .join(&format!("{}/{}/", table.layer, table.name))
            .expect("layer and name are plain path segments")
    }

    /// Opens an existing table at its latest version, refusing a damaged log.
    pub async fn open(&self, table: &TableName) -> Result<DeltaTable> {
        let url = self.table_url(table);
        let delta = deltalake::open_table(url)
            .await
            .map_err(|e| Error::delta(table, e))?;
        crate::log::verify(&delta, table, None).await?;
        Ok(delta)
    }

    /// Opens a table, creating it with `schema` and `partitions` if it does not exist yet.
    /// A lost creation race (another process created it first) is resolved by opening.
    pub async fn open_or_create(
        &self,
        table: &TableName,
        schema: &Schema,
        partitions: &[&str],
        description: &str,
    ) -> Result<DeltaTable> {
        let url = self.table_url(table);
        if let Ok(path) = url.to_file_path() {
            std::fs::create_dir_all(&path).map_err(|source| Error::Io { path, source })?;
        }
        let delta = DeltaTable::try_from_url(url.clone())
            .await
            .map_err(|e| Error::delta(table, e))?;
        if delta.version().is_some() {
            crate::log::verify(&delta, table, None).await?;
            return Ok(delta);
        }
        let columns: StructType = schema
            .try_into_kernel()
            .map_err(|e| Error::delta(table, DeltaTableError::from(e)))?;
        let created = delta
            .create()
            .with_table_name(table.to_string())
            .with_comment(description)
            .with_columns(columns.fields().cloned())
            .with_partition_columns(partitions.iter().copied())
            .with_configuration_property(deltalake::TableProperty::AppendOnly, Some("false"))
            // Version 0 or nothing: a creation that lost the race must not land later in the
            // log, where its metadata would conflict with every concurrent writer's commit.
            .with_commit_properties(crate::commit::properties().with_max_retries(0))
            .await;
        match created {
            Ok(created) => {
                self.changed(table).await;
                Ok(created)
            }
            // Another process may have created it first; if not, the creation error is the
            // one that explains what went wrong.
            Err(create_error) => match self.open(table).await {
                Ok(delta) => Ok(delta),
                Err(damaged @ Error::DamagedLog { .. }) => Err(damaged),
                Err(_) => Err(Error::delta(table, create_error)),
            },
        }
    }

    /// Every Delta table in the lake, ordered by layer and name.
    pub async fn tables(&self) -> Result<Vec<TableName>> {
        let store = self.store()?;
        let storage = |source| Error::Storage {
            uri: self.root.to_string(),
            source: Box::new(source),
        };
        let mut found = Vec::new();
        for layer in store
            .list_with_delimiter(None)
            .await
            .map_err(storage)?
            .common_prefixes
        {
            let listing = store
                .list_with_delimiter(Some(&layer))
                .await
                .map_err(storage)?;
            for table in listing.common_prefixes {
                let name = table.filename().unwrap_or_default();
                let layer = layer.filename().unwrap_or_default();
                if self.has_log(&store, &table).await?
                    && let Ok(name) = TableName::new(layer, name)
                {
                    found.push(name);
                }
            }
        }
        found.sort();
        Ok(found)
    }

    /// Whether a table exists (has a Delta log): one listing, not a walk of the whole lake.
    pub async fn exists(&self, table: &TableName) -> Result<bool> {
        let store = self.store()?;
        let prefix = object_store::path::Path::from(format!("{}/{}", table.layer, table.name));
        self.has_log(&store, &prefix).await
    }

    async fn has_log(
        &self,
        store: &Arc<dyn ObjectStore>,
        table: &object_store::path::Path,
    ) -> Result<bool> {
        let log = table.clone().join("_delta_log");
        let listing = store
            .list_with_delimiter(Some(&log))
            .await
            .map_err(|source| Error::Storage {
                uri: self.root.to_string(),
                source: Box::new(source),
            })?;
        Ok(!listing.objects.is_empty())
    }

    /// Writes a small file at `path` below the lake root (e.g. run summaries), replacing it.
    pub async fn put(&self, path: &str, bytes: Vec<u8>) -> Result<()> {
        use object_store::ObjectStoreExt;
        let store = self.store()?;
        store
            .put(&object_store::path::Path::from(path), bytes.into())
            .await
            .map_err(|source| Error::Storage {
                uri: format!("{}{path}", self.root),
                source: Box::new(source),
            })?;
        Ok(())
    }

    fn store(&self) -> Result<Arc<dyn ObjectStore>> {
        let log_store = logstore_for(&self.root, StorageConfig::default())
            .map_err(|e| Error::delta(&self.root, e))?;
        Ok(log_store.object_store(None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_paths_become_file_urls() {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::new(dir.path().join("lake").to_str().unwrap()).unwrap();
        assert_eq!(lake.root().scheme(), "file");
        let url = lake.table_url(&TableName::new("bronze", "events").unwrap());
        assert!(url.path().ends_with("/lake/bronze/events/"), "{url}");
    }

    #[cfg(feature = "s3")]
    #[test]
    fn s3_urls_are_kept() {
        let lake = Lake::new("s3://bucket/prefix").unwrap();
        assert_eq!(lake.root().as_str(), "s3://bucket/prefix/");
    }

    #[cfg(not(feature = "s3"))]
    #[test]
    fn s3_urls_say_which_feature_they_need() {
        let e = Lake::new("s3://bucket/prefix").unwrap_err().to_string();
        assert!(e.contains("--features aws"), "{e}");
    }

    /// Racing creators: every one gets the table, only version 0 carries metadata, and every
    /// racer's first append commits (a creation landing later would fail them with "Metadata
    /// changed since last commit").
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn racing_creations_make_one_table_and_every_writer_commits() {
        use arrow::array::{Int64Array, RecordBatch};
        use arrow::datatypes::{DataType, Field};

        for round in 0..5 {
            let dir = tempfile::tempdir().unwrap();
            let lake = Lake::new(dir.path().to_str().unwrap()).unwrap();
            let name = TableName::new("ops", "raced").unwrap();
            let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, false)]));
            let racers = (0..6).map(|i| {
                let (lake, name, schema) = (lake.clone(), name.clone(), schema.clone());
                tokio::spawn(async move {
                    let delta = lake.open_or_create(&name, &schema, &[], "race").await?;
                    let batch =
                        RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(vec![i]))])
                            .unwrap();
                    delta
                        .write(vec![batch])
                        .await
                        .map_err(|e| Error::delta(&name, e))?;
                    Ok::<_, Error>(())
                })
            });
            for racer in futures::future::join_all(racers).await {
                racer
                    .unwrap()
                    .unwrap_or_else(|e| panic!("round {round}: {e}"));
            }
            let log = dir.path().join("ops/raced/_delta_log");
            let mut with_metadata = Vec::new();
            for entry in std::fs::read_dir(&log).unwrap() {
                let path = entry.unwrap().path();
                if path.extension().is_some_and(|e| e == "json")
                    && std::fs::read_to_string(&path)
                        .unwrap()
                        .contains("\"metaData\"")
                {
                    with_metadata.push(path.file_name().unwrap().to_owned());
                }
            }
            assert_eq!(
                with_metadata,
                ["00000000000000000000.json"],
                "round {round}"
            );
            let delta = lake.open(&name).await.unwrap();
            assert_eq!(delta.version(), Some(6), "round {round}");
        }
    }

    #[test]
    fn unknown_schemes_are_refused() {
        assert!(Lake::new("ftp://host/x").is_err());
    }
}
