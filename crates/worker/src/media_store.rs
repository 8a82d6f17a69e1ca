//! Where downloaded media live: an object store (`object_store`), a local
//! directory under the data directory by default, or any store its URL names
//! (`s3://bucket/prefix`, `gs://…`, `az://…`, `file:///…`, `memory://`).

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, PutPayload};

#[derive(Clone)]
pub struct MediaStore {
    store: Arc<dyn ObjectStore>,
    prefix: ObjectPath,
}

impl MediaStore {
    /// `url` when given (credentials for cloud stores come from the usual
    /// environment variables, e.g. `AWS_ACCESS_KEY_ID`), else `<data_dir>/media`.
    pub fn open(url: Option<&str>, data_dir: &Path) -> Result<Self, object_store::Error> {
        if let Some(url) = url {
            let parsed = url::Url::parse(url).map_err(|error| object_store::Error::Generic {
                store: "media",
                source: Box::new(error),
            })?;
            let options = std::env::vars().map(|(k, v)| (k.to_ascii_lowercase(), v));
            let (store, prefix) = object_store::parse_url_opts(&parsed, options)?;
            return Ok(Self {
                store: Arc::from(store),
                prefix,
            });
        }
        let dir = data_dir.join("media");
        std::fs::create_dir_all(&dir).map_err(|error| object_store::Error::Generic {
            store: "media",
            source: Box::new(error),
        })?;
        Ok(Self {
            store: Arc::new(LocalFileSystem::new_with_prefix(dir)?),
            prefix: ObjectPath::default(),
        })
    }

    fn path(&self, key: &str) -> ObjectPath {
        ObjectPath::from_iter(self.prefix.parts().chain(ObjectPath::from(key).parts()))
    }

    pub async fn put(&self, key: &str, bytes: Bytes) -> Result<(), object_store::Error> {
        self.store
            .put(&self.path(key), PutPayload::from_bytes(bytes))
            .await
            .map(|_| ())
    }

    pub async fn get(&self, key: &str) -> Result<Bytes, object_store::Error> {
        self.store.get(&self.path(key)).await?.bytes().await
    }
}
