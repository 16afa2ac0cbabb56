//! A SQLite store on a file in its own temporary directory, removed when dropped: the engine
//! over a backend that owns the directory beside the real `SqliteBackend`.

use std::path::PathBuf;

use vigil_core::store::{Backend, ReadTx, StoreError, TenantId, Triage, WriteTx};
use vigil_sqlite::SqliteBackend;

/// The SQLite backend and the directory its file lives in.
pub struct TempBackend {
    backend: SqliteBackend,
    dir: tempfile::TempDir,
}

impl TempBackend {
    /// The database file.
    #[allow(dead_code)]
    pub fn path(&self) -> PathBuf {
        self.backend.path().to_path_buf()
    }

    /// The directory the file lives in.
    #[allow(dead_code)]
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }
}

impl Backend for TempBackend {
    fn read<T>(
        &self,
        tenant: &TenantId,
        f: impl FnOnce(&dyn ReadTx) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.backend.read(tenant, f)
    }

    fn write<T>(
        &self,
        tenant: &TenantId,
        f: impl FnMut(&mut dyn WriteTx) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.backend.write(tenant, f)
    }
}

/// The engine over a fresh SQLite file.
pub type TempStore = Triage<TempBackend>;

/// A fresh store on a real file; the directory goes away with it.
pub fn temp_store() -> TempStore {
    let dir = tempfile::tempdir().unwrap();
    let backend = SqliteBackend::open(dir.path().join("vigil.db")).unwrap();
    Triage::new(TempBackend { backend, dir })
}
