//! The YAML store: byte-compatible with sops 3.11's `stores/yaml` on top of yaml.v3.

mod emit;
mod fast;
mod parse;
mod resolve;

use super::{metadata_wire, read_metadata, Store, StoreError, StoreOptions};
use crate::metadata::Metadata;
use crate::tree::{Document, Map, Node};

pub use resolve::{resolve_plain, Resolved};

pub struct YamlStore {
    options: StoreOptions,
}

impl YamlStore {
    pub fn new(options: StoreOptions) -> Self {
        YamlStore { options }
    }

    fn emit(&self, branches: &[Map], metadata: Option<&Node>) -> Vec<u8> {
        // sops's getIndentation: 0 (unset) means its default of 4.
        let step = match self.options.yaml_indent {
            0 => 4,
            n => n,
        };
        let mut e = emit::Emitter::new(step);
        for (i, branch) in branches.iter().enumerate() {
            e.document(branch, metadata.map(|m| ("sops", m)), i == 0);
        }
        e.out.into_bytes()
    }
}

impl Store for YamlStore {
    fn load_plain(&self, bytes: &[u8]) -> Result<Document, StoreError> {
        Ok(Document {
            branches: parse::parse(bytes)?,
        })
    }

    fn load_encrypted(&self, bytes: &[u8]) -> Result<(Document, Option<Metadata>), StoreError> {
        let mut branches = parse::parse(bytes)?;
        let metadata = branches.first().and_then(|b| b.get("sops").cloned());
        for branch in &mut branches {
            branch.remove("sops");
        }
        Ok((Document { branches }, read_metadata(metadata)?))
    }

    fn emit_plain(&self, doc: &Document) -> Result<Vec<u8>, StoreError> {
        Ok(self.emit(&doc.branches, None))
    }

    fn emit_encrypted(&self, doc: Document, metadata: &Metadata) -> Result<Vec<u8>, StoreError> {
        let node = metadata_wire::to_node(metadata);
        Ok(self.emit(&doc.branches, Some(&node)))
    }

    fn emit_value(&self, value: &Node) -> Result<Vec<u8>, StoreError> {
        Ok(emit::emit_value(value).into_bytes())
    }
}
