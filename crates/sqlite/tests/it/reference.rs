//! Generated alerts and rules through the SQLite store and the reference `MemoryStore`: every
//! answer must be the same, page by page.

use crate::support::temp_store;

#[test]
fn generated_data_answers_like_the_reference_store() {
    vigil_testkit::reference::generated_data_answers_like_the_reference_store(&temp_store());
}
