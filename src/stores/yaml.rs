//! Placeholder: being written.
use super::{Store, StoreError, StoreOptions};
use crate::tree::{Document, Node};

pub struct YamlStore {
    #[allow(dead_code)]
    options: StoreOptions,
}

impl YamlStore {
    pub fn new(options: StoreOptions) -> Self {
        YamlStore { options }
    }
}

impl Store for YamlStore {
    fn load_plain(&self, _bytes: &[u8]) -> Result<Document, StoreError> {
        todo!()
    }
    fn load_encrypted(&self, _bytes: &[u8]) -> Result<(Document, Option<Node>), StoreError> {
        todo!()
    }
    fn emit_plain(&self, _doc: &Document) -> Result<Vec<u8>, StoreError> {
        todo!()
    }
    fn emit_encrypted(&self, _doc: Document, _metadata: Node) -> Result<Vec<u8>, StoreError> {
        todo!()
    }
    fn emit_value(&self, _value: &Node) -> Result<Vec<u8>, StoreError> {
        todo!()
    }
}
