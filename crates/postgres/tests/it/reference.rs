//! Generated alerts and rules through the PostgreSQL store and the reference `MemoryStore`:
//! every answer must be the same, page by page.

use crate::support::TempStore;

#[test]
fn generated_data_answers_like_the_reference_store() {
    let temp = TempStore::new();
    vigil_testkit::reference::generated_data_answers_like_the_reference_store(temp.store());
}
