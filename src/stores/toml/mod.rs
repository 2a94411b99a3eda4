//! TOML, which sops has no store for (rsops only). Values keep their TOML types (strings,
//! integers, floats, booleans, date-times); comments are items of the tree, as in the YAML
//! store, so they are encrypted and come back where they were; key order is kept. The metadata
//! is a `[sops]` table with the fields of YAML's `sops:` block.
//!
//! Reading accepts all of TOML 1.1 (inline tables, dotted keys, arrays of tables, multi-line
//! inline tables). Writing is one canonical layout chosen from the tree alone, so that what rsops
//! writes reads back to the same tree (which the MAC needs) and a decrypted file is byte for byte
//! the file that was encrypted when that file was in this layout:
//! * a mapping becomes a `[table]` section, a list of mappings an `[[array]]` of tables, unless a
//!   plain value follows it in its parent (TOML cannot go back to a parent after a header) or it
//!   ends with a comment (which would read back as the next header's): then it is written inline,
//!   as dotted keys are read;
//! * a comment on a value's line moves to its own line above the value (as sops does in YAML);
//!   comments above a header belong to the table that holds the header's table.

mod read;
mod write;

use super::{metadata_wire, read_metadata, Store, StoreError};
use crate::metadata::Metadata;
use crate::tree::{Document, Map, Node};

/// The largest TOML input read: the parser's tree takes several times the text's size, and no
/// secrets file comes near this.
pub const MAX_TOML_BYTES: usize = 64 << 20;

const SOPS_KEY: &str = "sops";

pub struct TomlStore;

impl Store for TomlStore {
    fn load_plain(&self, bytes: &[u8]) -> Result<Document, StoreError> {
        Ok(Document::single(read::parse(bytes)?))
    }

    fn load_encrypted(&self, bytes: &[u8]) -> Result<(Document, Option<Metadata>), StoreError> {
        let mut root = read::parse(bytes)?;
        let metadata = read_metadata(root.remove(SOPS_KEY))?;
        Ok((Document::single(root), metadata))
    }

    fn emit_plain(&self, doc: &Document) -> Result<Vec<u8>, StoreError> {
        write::document(single_branch(doc)?, None)
    }

    fn emit_encrypted(&self, doc: Document, metadata: &Metadata) -> Result<Vec<u8>, StoreError> {
        let Node::Map(sops) = metadata_wire::to_node(metadata) else {
            unreachable!("the metadata is written as a mapping")
        };
        write::document(single_branch(&doc)?, Some(&write::tables_last(sops)))
    }

    fn emit_value(&self, value: &Node) -> Result<Vec<u8>, StoreError> {
        write::value(value)
    }
}

fn single_branch(doc: &Document) -> Result<&Map, StoreError> {
    match doc.branches.as_slice() {
        [map] => Ok(map),
        [] => Err(write::error("the document is empty".to_string())),
        _ => Err(write::error(
            "a TOML file holds one document, this one has several (YAML `---`)".to_string(),
        )),
    }
}

#[cfg(test)]
mod tests;
