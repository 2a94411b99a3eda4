//! Placeholder: being written.
use super::{Store, StoreError};
use crate::tree::{Document, Node};

pub struct DotenvStore;

impl Store for DotenvStore {
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
