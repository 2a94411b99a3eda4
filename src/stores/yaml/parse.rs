//! Reads YAML into the document tree the way sops 3.11 does on top of yaml.v3: anchors expanded,
//! merge keys kept literally, tags dropped, and comments placed where yaml.v3's head/line/foot
//! attachment followed by sops's flattening puts them.

use super::resolve::{resolve_plain, Resolved};
use crate::stores::StoreError;
use crate::tree::{ListItem, Map, MapItem, Node, Scalar};
use base64::Engine;
use granit_parser::{ErrorKind, Event, Options, Parser, ScalarStyle, StructureStyle, Tag};
use std::collections::HashMap;

const FORMAT: &str = "yaml";

fn syntax(line: usize, column: usize, message: &str) -> StoreError {
    StoreError::Syntax {
        format: FORMAT,
        line: Some(line),
        column: Some(column + 1),
        message: message.to_string(),
    }
}

fn unsupported(message: &str) -> StoreError {
    StoreError::Unsupported {
        format: FORMAT,
        message: message.to_string(),
    }
}

fn document_not_a_map(ev: &Ev, what: &str) -> StoreError {
    StoreError::Syntax {
        format: FORMAT,
        line: Some(ev.line),
        column: None,
        message: format!("the document is {what}; sops files must be mappings at the top level"),
    }
}

/// One event with the positions the comment placement needs (lines 1-based, columns 0-based).
struct Ev<'a> {
    event: Event<'a>,
    line: usize,
    col: usize,
    end_line: usize,
    end_byte: usize,
    start_byte: usize,
}

fn read_events(text: &str) -> Result<Vec<Ev<'_>>, StoreError> {
    let mut options = Options::default();
    options.max_buffered_comment_events = usize::MAX;
    let mut out = Vec::new();
    for item in Parser::new_from_str_with_options(text, options) {
        let (event, span) = item.map_err(|e| {
            let m = e.marker();
            let message = match e.kind() {
                ErrorKind::RecursionLimitExceeded => "collections are nested too deeply",
                _ => "invalid YAML syntax",
            };
            syntax(m.line(), m.col(), message)
        })?;
        out.push(Ev {
            line: span.start.line(),
            col: span.start.col(),
            end_line: span.end.line(),
            start_byte: span.start.byte_offset().unwrap_or(0),
            end_byte: span.end.byte_offset().unwrap_or(0),
            event,
        });
    }
    Ok(out)
}

enum Frame {
    Map {
        map: Map,
        /// The key whose value is being read, with the line it sits on.
        key: Option<(String, usize)>,
        col: usize,
        flow: bool,
        anchor: usize,
        seen: HashMap<String, usize>,
    },
    Seq {
        items: Vec<ListItem>,
        col: usize,
        flow: bool,
        anchor: usize,
    },
}

impl Frame {
    fn col(&self) -> usize {
        match self {
            Frame::Map { col, .. } | Frame::Seq { col, .. } => *col,
        }
    }
    fn flow(&self) -> bool {
        match self {
            Frame::Map { flow, .. } | Frame::Seq { flow, .. } => *flow,
        }
    }
    fn push_comment(&mut self, text: String) {
        match self {
            Frame::Map { map, .. } => map.items.push(MapItem::Comment(text)),
            Frame::Seq { items, .. } => items.push(ListItem::Comment(text)),
        }
    }
    /// Puts a comment before the item that was completed last.
    fn insert_before_last(&mut self, text: String) {
        match self {
            Frame::Map { map, .. } => {
                let at = map.items.len().saturating_sub(1);
                map.items.insert(at, MapItem::Comment(text));
            }
            Frame::Seq { items, .. } => {
                let at = items.len().saturating_sub(1);
                items.insert(at, ListItem::Comment(text));
            }
        }
    }
    fn last_value_mut(&mut self) -> Option<&mut Node> {
        match self {
            Frame::Map { map, .. } => match map.items.last_mut() {
                Some(MapItem::Entry { value, .. }) => Some(value),
                _ => None,
            },
            Frame::Seq { items, .. } => match items.last_mut() {
                Some(ListItem::Value(v)) => Some(v),
                _ => None,
            },
        }
    }
}

fn prepend_comment(node: &mut Node, text: String) {
    match node {
        Node::Map(map) => map.items.insert(0, MapItem::Comment(text)),
        Node::List(items) => items.insert(0, ListItem::Comment(text)),
        Node::Scalar(_) => {}
    }
}

/// The last content token before a run of comments.
#[derive(Clone, Copy, PartialEq)]
enum Prev {
    None,
    /// A mapping key whose value starts on a later line (`key:` then a block).
    Key,
    /// A complete value or item (scalar, alias, closed flow collection).
    Value,
}

/// How many nodes aliases may add to one file. yaml.v3 refuses "excessive aliasing" too; without
/// a limit a few lines of nested aliases (a "billion laughs") expand past all memory.
pub(super) const ALIAS_EXPANSION_BUDGET: usize = 1_000_000;

/// The node count and depth of `node`, or `None` as soon as the count passes `cap` or the depth
/// passes `max_depth`. Iterative, so measuring cannot itself overflow the stack.
pub(super) fn measure(node: &Node, cap: usize, max_depth: usize) -> Option<usize> {
    let mut stack = vec![(node, 1usize)];
    let mut count = 0;
    while let Some((n, depth)) = stack.pop() {
        count += 1;
        if count > cap || depth > max_depth {
            return None;
        }
        match n {
            Node::Map(m) => stack.extend(m.entries().map(|(_, v)| (v, depth + 1))),
            Node::List(items) => stack.extend(items.iter().filter_map(|i| match i {
                ListItem::Value(v) => Some((v, depth + 1)),
                ListItem::Comment(_) => None,
            })),
            Node::Scalar(_) => {}
        }
    }
    Some(count)
}

struct Comment<'a> {
    text: &'a str,
    line: usize,
    col: usize,
}

struct Builder<'a> {
    src: &'a str,
    line_starts: Vec<usize>,
    frames: Vec<Frame>,
    anchors: HashMap<usize, Node>,
    /// Nodes aliases may still add (see [`ALIAS_EXPANSION_BUDGET`]).
    alias_budget: usize,
    check_duplicates: bool,
    /// Comments waiting for the next node (yaml.v3 head comments).
    heads: Vec<String>,
    /// Head comments that belong inside the next collection (line comment after `&anchor`).
    heads_inside: Vec<String>,
    /// A line comment right after a sequence's `- `: yaml.v3 gives it to the next node, which
    /// is the item's own collection when one opens (so an alias of it repeats the comment), and
    /// never the empty (null) item itself.
    heads_after_dash: Vec<String>,
    /// Foot comments to place when collections close, with the column that decides where.
    late_feet: Vec<String>,
    late_col: usize,
    /// The late feet are the rest of the document's last comments, which yaml.v3 gives to a
    /// mapping, never to a sequence.
    late_at_end: bool,
    prev: Prev,
    prev_line: usize,
    /// Where the content of a block scalar that was the previous token starts: a comment before
    /// it sits on the header line (`key: | # c`) and is that value's line comment, though the
    /// parser reports it after the whole scalar.
    prev_block_start: Option<usize>,
    prev_end_byte: usize,
    /// The previous token closed a flow collection that is the last value of the top frame.
    prev_flow_end: bool,
    root: Option<Node>,
}

impl<'a> Builder<'a> {
    /// Where the next content starts when it is an item of a block sequence, once `closes`
    /// collections have closed: at the `-`, which is the sequence's column, not the item's.
    fn item_col(&self, closes: usize) -> Option<usize> {
        let depth = self.frames.len().checked_sub(closes + 1)?;
        match &self.frames[depth] {
            Frame::Seq {
                col, flow: false, ..
            } => Some(*col),
            _ => None,
        }
    }

    /// The column of the innermost block collection that is an indentation level for yaml.v3:
    /// a sequence in the column of its mapping's keys (`key:` then `- item` below it) is not.
    fn innermost_block_col(&self) -> usize {
        self.innermost_block().map_or(0, |i| self.frames[i].col())
    }

    fn innermost_block(&self) -> Option<usize> {
        (0..self.frames.len())
            .rev()
            .find(|&i| !self.frames[i].flow() && !self.indentless(i))
    }

    fn indentless(&self, i: usize) -> bool {
        match (&self.frames[i], i.checked_sub(1).map(|p| &self.frames[p])) {
            (
                Frame::Seq {
                    col, flow: false, ..
                },
                Some(Frame::Map {
                    col: parent,
                    flow: false,
                    ..
                }),
            ) => col == parent,
            _ => false,
        }
    }

    /// A foot comment of the innermost block (an indentless sequence's comments are its
    /// mapping's).
    fn foot_of_block(&mut self, texts: Vec<&str>) {
        let target = self
            .innermost_block()
            .unwrap_or(self.frames.len().saturating_sub(1));
        if let Some(frame) = self.frames.get_mut(target) {
            for t in texts {
                frame.push_comment(t.to_string());
            }
        }
    }

    /// Splits a run of whole-line comments into foot and head parts as yaml.v3's scanner does,
    /// and files them. `next` is the position of the following content (None at document end).
    fn place_comments(
        &mut self,
        run: &[Comment<'a>],
        next: Option<(usize, usize)>,
        next_opens_collection: bool,
        next_is_item: bool,
    ) {
        if run.is_empty() {
            return;
        }
        // Between a key and the block collection that is its value, whatever their columns,
        // comments head the collection's first entry (yaml.v3).
        let before_value = self.prev == Prev::Key && next_opens_collection;
        if before_value || self.frames.last().is_some_and(Frame::flow) {
            for c in run {
                self.heads.push(c.text.to_string());
            }
            return;
        }
        let next_indent = self.innermost_block_col();
        let foot_line = self.prev_line + 1;
        let first_empty = run[0].line <= foot_line && self.prev != Prev::None;
        let mut piece: Vec<&Comment> = Vec::new();
        let mut split_once = false;
        // Comment lines that run without a blank line from the content to more content, and are
        // dedented: yaml.v3 keeps the lines of the first one's column with the innermost block,
        // whatever the column (unless it is the column of the next content, which they then
        // head). With a blank line before the next content, or at the end of the document, the
        // column picks the block instead (`foot` with `late`).
        let unbroken = run.windows(2).all(|w| w[1].line == w[0].line + 1)
            && next.is_some_and(|(line, _)| run.last().is_some_and(|c| line == c.line + 1));
        let mut innermost_col = None;
        // The column and last line of a first piece filed as the previous token's own foot.
        let mut first_foot = None;
        // In a sequence in the column of its mapping's keys, content at that column that is no
        // item of it (a key) leaves it.
        let in_indentless = self
            .frames
            .len()
            .checked_sub(1)
            .is_some_and(|i| self.indentless(i));
        let next_leaves = !next_is_item;
        for (i, c) in run.iter().enumerate() {
            if let Some(col) = innermost_col {
                if c.col == col {
                    piece.push(c);
                    continue;
                }
                let texts = piece.drain(..).map(|c| c.text).collect::<Vec<_>>();
                self.foot_of_block(texts);
                innermost_col = None;
                split_once = true;
            }
            if let Some(&start) = piece.first() {
                if c.col < next_indent && c.col != start.col {
                    let texts = piece.drain(..).map(|c| c.text).collect::<Vec<_>>();
                    self.foot(texts, split_once, start.col);
                    split_once = true;
                }
            }
            piece.push(c);
            let start = piece[0];
            // A dedented comment in the column of the content that follows is that content's
            // head comment (yaml.v3), not a foot of the block it dedents out of.
            let heads_next = next.is_some_and(|(_, col)| {
                col == start.col && (col < next_indent || (in_indentless && next_leaves))
            });
            if i == 0
                && first_empty
                && !heads_next
                && ((start.line == foot_line && self.prev != Prev::Key) || start.col < next_indent)
            {
                let dedented = start.col < next_indent;
                if dedented && unbroken {
                    innermost_col = Some(start.col);
                    continue;
                }
                let texts = piece.drain(..).map(|c| c.text).collect::<Vec<_>>();
                if dedented && next.is_none() {
                    self.late_at_end = true;
                }
                if !split_once && !dedented {
                    first_foot = Some((start.col, c.line));
                }
                self.foot(texts, split_once || dedented, start.col);
                split_once = true;
            }
        }
        if innermost_col.is_some() {
            let texts = piece.drain(..).map(|c| c.text).collect::<Vec<_>>();
            self.foot_of_block(texts);
            return;
        }
        if let Some(&start) = piece.first() {
            match next {
                Some((_, next_col)) if next_col < next_indent && next_col != start.col => {
                    let texts = piece.drain(..).map(|c| c.text).collect::<Vec<_>>();
                    self.foot(texts, split_once, start.col);
                    return;
                }
                // The rest of a run at the end of the document that goes on the foot before it (same
                // column, no blank line) stays with that foot, in whatever block took it.
                None if first_foot == Some((start.col, start.line - 1)) => {
                    let (col, mut line) = first_foot.expect("matched");
                    let mut joined = Vec::new();
                    let mut rest: Vec<&Comment> = Vec::new();
                    for c in piece.drain(..) {
                        if rest.is_empty() && c.col == col && c.line == line + 1 {
                            line = c.line;
                            joined.push(c.text);
                        } else {
                            rest.push(c);
                        }
                    }
                    self.foot(joined, false, col);
                    self.end_of_document_rest(rest);
                    return;
                }
                // The rest of a run at the end of the document, after a foot part: its
                // column picks the block it closes.
                None if split_once && start.col > 0 => {
                    let texts = piece.drain(..).map(|c| c.text).collect::<Vec<_>>();
                    self.late_at_end = true;
                    self.foot(texts, true, start.col);
                    return;
                }
                _ => {}
            }
            for c in piece {
                self.heads.push(c.text.to_string());
            }
        }
    }

    /// Comments ending the document after a blank line: their column picks the block they
    /// close; in column 0 they are the document's.
    fn end_of_document_rest(&mut self, rest: Vec<&Comment<'a>>) {
        let Some(first) = rest.first() else {
            return;
        };
        let col = first.col;
        let texts: Vec<&str> = rest.iter().map(|c| c.text).collect();
        if col > 0 {
            self.late_at_end = true;
            self.foot(texts, true, col);
        } else {
            self.heads.extend(texts.into_iter().map(str::to_string));
        }
    }

    /// A foot comment: of the previous token (`late == false`), or one that yaml.v3 hands to a
    /// closing collection, picked by its column.
    fn foot(&mut self, texts: Vec<&str>, late: bool, col: usize) {
        if !late {
            if let Some(frame) = self.frames.last_mut() {
                for t in texts {
                    frame.push_comment(t.to_string());
                }
                return;
            }
        }
        // After a comment in an outer column, later ones cannot reach back into an inner block.
        self.late_col = if self.late_feet.is_empty() {
            col
        } else {
            self.late_col.min(col)
        };
        self.late_feet.extend(texts.into_iter().map(str::to_string));
    }

    fn line_comment(&mut self, c: &Comment<'a>, comment_start: usize) {
        let text = c.text.to_string();
        let on_block_header = self.prev_block_start.is_some_and(|s| comment_start < s);
        if self.prev == Prev::Value && on_block_header {
            if let Some(frame) = self.frames.last_mut() {
                frame.insert_before_last(text);
            }
            return;
        }
        if c.line != self.prev_line || self.prev == Prev::None {
            // After `- `, `? ` or `---`: a head of what follows.
            if self.follows_dash(c.line, comment_start) {
                self.heads_after_dash.push(text);
            } else {
                self.heads.push(text);
            }
            return;
        }
        let between = self
            .src
            .get(self.prev_end_byte..comment_start)
            .unwrap_or("");
        let has_property = between
            .trim()
            .trim_start_matches(':')
            .trim()
            .starts_with(['&', '!']);
        match self.prev {
            Prev::Key if has_property => self.heads_inside.push(text),
            Prev::Key => {
                // The key's line comment: sops writes it before the key.
                if let Some(frame) = self.frames.last_mut() {
                    frame.push_comment(text);
                }
            }
            Prev::Value if self.prev_flow_end => {
                if let Some(node) = self.frames.last_mut().and_then(Frame::last_value_mut) {
                    prepend_comment(node, text);
                } else if let Some(root) = self.root.as_mut() {
                    prepend_comment(root, text);
                }
            }
            Prev::Value => {
                if let Some(frame) = self.frames.last_mut() {
                    frame.insert_before_last(text);
                }
            }
            Prev::None => self.heads.push(text),
        }
    }

    /// Whether the line before a run of whole-line comments is a block sequence's lone `-`,
    /// with the sequence still open.
    fn run_follows_lone_dash(&self, run: &[Comment<'a>]) -> bool {
        let Some(first) = run.first() else {
            return false;
        };
        if !matches!(self.frames.last(), Some(Frame::Seq { flow: false, .. })) {
            return false;
        }
        let previous = first.line.checked_sub(1).and_then(|line| {
            let end = *self.line_starts.get(line)?;
            self.line_up_to(line, end)
        });
        previous.is_some_and(|line| line.trim() == "-")
    }

    /// Whether the comment's line holds a block sequence's `- ` before it (not `---`).
    fn follows_dash(&self, line: usize, comment_start: usize) -> bool {
        let prefix = self
            .line_up_to(line, comment_start)
            .unwrap_or("")
            .trim_start();
        prefix.starts_with('-') && !prefix.starts_with("---")
    }

    /// The text of 1-based `line` from its start up to byte `end`.
    fn line_up_to(&self, line: usize, end: usize) -> Option<&'a str> {
        let start = *self.line_starts.get(line.wrapping_sub(1))?;
        self.src.get(start..end)
    }

    /// Moves comments that followed a `- ` to the waiting heads, unless the node starting now
    /// is the empty item of that very `- ` (yaml.v3 passes them on to the node after it).
    fn settle_dash_heads(&mut self, empty_item: bool) {
        if empty_item && matches!(self.frames.last(), Some(Frame::Seq { flow: false, .. })) {
            return;
        }
        // They precede whole-line comments that came after them.
        let mut heads = std::mem::take(&mut self.heads_after_dash);
        heads.append(&mut self.heads);
        self.heads = heads;
    }

    /// After an empty item's `- ` comment nothing has taken it yet, so yaml.v3 keeps adding the
    /// whole-line comments that follow to the same head, which the next node gets.
    fn dash_heads_with_run(&mut self, run: &[Comment<'a>]) {
        let texts = run.iter().map(|c| c.text.to_string());
        self.heads_after_dash.extend(texts);
    }

    /// A line comment after `key: !tag` or `key: &anchor` waits for a collection to head; when
    /// the value is a scalar instead, it is the key's line comment, which sops writes before
    /// the key (`a: !!null  # c`).
    fn key_comments_of_scalar(&mut self) {
        let texts = std::mem::take(&mut self.heads_inside);
        if let Some(frame) = self.frames.last_mut() {
            for t in texts {
                frame.insert_before_last(t);
            }
        }
    }

    /// Files waiting head comments before a node that starts now.
    fn flush_heads_before_node(&mut self) {
        let heads = std::mem::take(&mut self.heads);
        if let Some(frame) = self.frames.last_mut() {
            for h in heads {
                frame.push_comment(h);
            }
        } else {
            self.heads = heads;
        }
    }

    fn open(&mut self, frame: Frame) {
        let parent_is_seq = matches!(self.frames.last(), Some(Frame::Seq { .. }));
        if parent_is_seq {
            self.flush_heads_before_node();
        }
        self.frames.push(frame);
        let mut inside = std::mem::take(&mut self.heads_after_dash);
        inside.append(&mut self.heads_inside);
        if !parent_is_seq {
            let mut heads = std::mem::take(&mut self.heads);
            heads.append(&mut inside);
            inside = heads;
        }
        let frame = self.frames.last_mut().expect("just pushed");
        for h in inside {
            frame.push_comment(h);
        }
    }

    fn close(&mut self, next_is_end: bool) -> Result<(), StoreError> {
        let indentless = self
            .frames
            .len()
            .checked_sub(1)
            .is_some_and(|i| self.indentless(i));
        let Some(mut frame) = self.frames.pop() else {
            return Ok(());
        };
        let is_seq = matches!(frame, Frame::Seq { .. });
        let picked = frame.col() <= self.late_col && !indentless && !(self.late_at_end && is_seq);
        if !self.late_feet.is_empty() && (picked || !next_is_end) {
            self.late_at_end = false;
            for t in std::mem::take(&mut self.late_feet) {
                frame.push_comment(t);
            }
        }
        let (node, anchor) = match frame {
            Frame::Map { map, anchor, .. } => (Node::Map(map), anchor),
            Frame::Seq { items, anchor, .. } => (Node::List(items), anchor),
        };
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        self.value(node)
    }

    /// Adds a completed node to the current collection (as key or value).
    fn value(&mut self, node: Node) -> Result<(), StoreError> {
        match self.frames.last_mut() {
            None => {
                self.root = Some(node);
                Ok(())
            }
            Some(Frame::Seq { items, .. }) => {
                items.push(ListItem::Value(node));
                Ok(())
            }
            Some(Frame::Map { map, key, .. }) => match key.take() {
                Some((k, _)) => {
                    map.items.push(MapItem::Entry {
                        key: k,
                        value: node,
                    });
                    Ok(())
                }
                None => Err(unsupported("Tree contains a non-string key")),
            },
        }
    }

    fn key(&mut self, key: String, line: usize, col: usize) -> Result<(), StoreError> {
        if let Some(Frame::Map {
            key: slot, seen, ..
        }) = self.frames.last_mut()
        {
            if self.check_duplicates {
                if let Some(first) = seen.get(&key) {
                    return Err(syntax(
                        line,
                        col,
                        &format!("mapping key already defined at line {first}"),
                    ));
                }
                seen.insert(key.clone(), line);
            }
            *slot = Some((key, line));
        }
        Ok(())
    }

    fn expecting_key(&self) -> bool {
        matches!(self.frames.last(), Some(Frame::Map { key: None, .. }))
    }
}

/// The anchor's name, found in the source between the previous event and its node (the
/// parser reports anchors by number only), checked as yaml.v3 scans it.
fn check_anchor_name(src: &str, gap_start: usize, ev: &Ev) -> Result<(), StoreError> {
    let gap = src.get(gap_start..ev.start_byte).unwrap_or("");
    let mut chars = gap.char_indices().peekable();
    let mut prev_blank = true;
    while let Some((at, c)) = chars.next() {
        match c {
            '#' if prev_blank => while chars.next_if(|&(_, c)| c != '\n').is_some() {},
            '&' => {
                let rest = &gap[at + 1..];
                let end = rest
                    .find(|c: char| c.is_whitespace() || ",[]{}".contains(c))
                    .unwrap_or(rest.len());
                let line_start = src[..gap_start + at].rfind('\n').map_or(0, |n| n + 1);
                let before = &src[line_start..gap_start + at];
                let at_key = before.trim_start_matches([' ', '-']).is_empty();
                return check_name(&rest[..end], ev, at_key);
            }
            _ => {}
        }
        prev_blank = c.is_whitespace();
    }
    Ok(())
}

/// yaml.v3 takes anchor and alias names as letters, digits, `_` and `-` only. A name the YAML
/// 1.2 parser read further must fail as it fails in sops, or mean something else there.
fn check_name(name: &str, ev: &Ev, at_key: bool) -> Result<(), StoreError> {
    let Some(bad) = name.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
    else {
        return Ok(());
    };
    let ends_in_colon = name[bad..] == *":";
    if bad > 0 && ends_in_colon && at_key {
        // `&name:` where a key starts: yaml.v3 reads an anchored empty key.
        return Err(unsupported("Tree contains a non-string key"));
    }
    let message = if bad > 0 && ends_in_colon {
        "mapping values are not allowed in this context"
    } else if bad > 0 && name[bad..].starts_with(':') {
        "an anchor or alias name with `:` inside: sops (yaml.v3) ends the name at the colon and reads a different value; rename it"
    } else {
        "did not find expected alphabetic or numeric character (anchor and alias names are letters, digits, `_` and `-`)"
    };
    Err(syntax(ev.line, ev.col, message))
}

/// yaml.v3 (libyaml) reads YAML 1.1 only: a `%YAML` directive for any other version is
/// "incompatible" there, so sops refuses the file (a YAML 1.2 reader would take it).
fn check_yaml_directives(text: &str) -> Result<(), StoreError> {
    for (i, line) in text.lines().enumerate() {
        let Some(rest) = line.strip_prefix("%YAML") else {
            continue;
        };
        let version = rest.split_whitespace().next().unwrap_or("");
        if version != "1.1" {
            return Err(syntax(i + 1, 0, "found incompatible YAML document"));
        }
    }
    Ok(())
}

/// A block scalar whose last line ends the input without a line break: the YAML 1.2 parser
/// still clips (or keeps) a final `\n`, yaml.v3 has none to keep, and sops follows yaml.v3.
fn without_phantom_last_break<'t>(
    src: &str,
    ev: &Ev,
    text: &'t str,
    style: ScalarStyle,
) -> &'t str {
    let block = matches!(style, ScalarStyle::Literal | ScalarStyle::Folded);
    let at_eof = ev.end_byte >= src.len() && !src.ends_with(['\n', '\r']);
    match text.strip_suffix('\n') {
        Some(stripped) if block && at_eof => stripped,
        _ => text,
    }
}

/// Byte offsets where lines start, counting line breaks as YAML (and the parser's line numbers)
/// do: CR LF, LF, and a lone CR.
/// The column of a block sequence's first `-`. The parser reports a sequence in the column of
/// its mapping's keys (`key:` then `- item` below it) at its first item instead.
fn dash_col(src: &str, start_byte: usize, col: usize) -> usize {
    let (Some(before), Some(rest)) = (src.get(..start_byte), src.get(start_byte..)) else {
        return col;
    };
    let trimmed = before.trim_end_matches(' ');
    let spaces = before.len() - trimmed.len();
    if !rest.starts_with('-') && trimmed.ends_with('-') && col > spaces {
        col - spaces - 1
    } else {
        col
    }
}

fn line_starts(src: &str) -> Vec<usize> {
    let bytes = src.as_bytes();
    let mut v = vec![0];
    for (i, &b) in bytes.iter().enumerate() {
        let lone_cr = b == b'\r' && bytes.get(i + 1) != Some(&b'\n');
        if b == b'\n' || lone_cr {
            v.push(i + 1);
        }
    }
    v
}

fn is_core(tag: &Tag, suffix: &str) -> bool {
    tag.handle() == "tag:yaml.org,2002:" && tag.suffix() == suffix
}

/// The value of a scalar as yaml.v3 decodes it into `interface{}`.
fn scalar_value(text: &str, style: ScalarStyle, tag: Option<&Tag>) -> Result<Scalar, StoreError> {
    if let Some(tag) = tag {
        if is_core(tag, "binary") {
            let cleaned: String = text.chars().filter(|c| !c.is_whitespace()).collect();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(cleaned)
                .map_err(|_| unsupported("invalid !!binary data"))?;
            return Ok(match String::from_utf8(bytes) {
                Ok(s) => Scalar::Str(s),
                Err(e) => Scalar::Bytes(e.into_bytes()),
            });
        }
        let core = tag.handle() == "tag:yaml.org,2002:";
        if !core || is_core(tag, "str") {
            return Ok(Scalar::Str(text.to_string()));
        }
        if is_core(tag, "float") {
            if let Resolved::Int(i) = resolve_plain(text) {
                return Ok(Scalar::Float(i as f64));
            }
        }
        return resolved_scalar(text);
    }
    if style != ScalarStyle::Plain {
        return Ok(Scalar::Str(text.to_string()));
    }
    resolved_scalar(text)
}

pub(super) fn resolved_scalar(text: &str) -> Result<Scalar, StoreError> {
    Ok(match resolve_plain(text) {
        Resolved::Null => Scalar::Null,
        Resolved::Bool(b) => Scalar::Bool(b),
        Resolved::Int(i) => Scalar::Int(i),
        Resolved::Uint(_) => {
            return Err(unsupported(
                "Cannot walk value, unknown type: uint64 (integer beyond int64)",
            ))
        }
        Resolved::Float(f) => Scalar::Float(f),
        Resolved::Time(t) => Scalar::Time(t),
        Resolved::Merge | Resolved::Str => Scalar::Str(text.to_string()),
    })
}

pub(super) fn key_string(
    text: &str,
    style: ScalarStyle,
    tag: Option<&Tag>,
) -> Result<String, StoreError> {
    match scalar_value(text, style, tag)? {
        Scalar::Str(s) => Ok(s),
        _ => Err(unsupported("Tree contains a non-string key")),
    }
}

/// Parses every document; each must be a mapping (or empty).
pub fn parse(bytes: &[u8]) -> Result<Vec<Map>, StoreError> {
    // Encrypted files end in a `sops:` block the fast reader declines only when it reaches it,
    // after reading all the data: split it off first so the data is not read twice.
    if let Some(map) = parse_with_metadata_tail(bytes) {
        return Ok(vec![map]);
    }
    if let Some(docs) = super::fast::parse_stream(bytes) {
        return Ok(docs);
    }
    parse_full(bytes)
}

/// Files as sops writes them: plain block data, then the top-level `sops:` block, whose key
/// stanzas are multi-line literals the fast reader does not take. The data goes through the
/// fast reader, the metadata through the full parser; any doubt and the whole file goes to the
/// full parser. Without comments and with `sops` the only key of the tail, the two readings
/// are independent: a top-level key's block ends where the next line starts at column 0.
fn parse_with_metadata_tail(bytes: &[u8]) -> Option<Map> {
    let at = memchr::memmem::find(bytes, b"\nsops:")? + 1;
    let (data, tail) = bytes.split_at(at);
    // A stream has a `sops:` block per document: the fast reader takes the whole of it, and
    // reading the tail here first would put every later document through the full parser.
    if memchr::memchr(b'#', tail).is_some() || memchr::memmem::find(tail, b"\n---").is_some() {
        return None;
    }
    let mut head = super::fast::parse(data)?;
    let mut tail = parse_full(tail).ok()?;
    let metadata = match (tail.pop(), tail.is_empty()) {
        (Some(map), true) => map,
        _ => return None,
    };
    match metadata.items.as_slice() {
        [MapItem::Entry { key, .. }] if key == "sops" => {}
        _ => return None,
    }
    head.items.extend(metadata.items);
    Some(head)
}

/// The full parser, for every input (the fast one declines what it does not cover).
pub(super) fn parse_full(bytes: &[u8]) -> Result<Vec<Map>, StoreError> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let before = &bytes[..e.valid_up_to()];
        let line = before.iter().filter(|b| **b == b'\n').count() + 1;
        StoreError::Syntax {
            format: FORMAT,
            line: Some(line),
            column: None,
            message: "input is not valid UTF-8".to_string(),
        }
    })?;
    check_yaml_directives(text)?;
    let events = read_events(text)?;
    let mut docs = Vec::new();
    let mut b = Builder {
        src: text,
        line_starts: line_starts(text),
        frames: Vec::new(),
        anchors: HashMap::new(),
        alias_budget: ALIAS_EXPANSION_BUDGET,
        check_duplicates: true,
        heads: Vec::new(),
        heads_inside: Vec::new(),
        heads_after_dash: Vec::new(),
        late_feet: Vec::new(),
        late_col: 0,
        late_at_end: false,
        prev: Prev::None,
        prev_line: 0,
        prev_block_start: None,
        prev_end_byte: 0,
        prev_flow_end: false,
        root: None,
    };
    let mut run: Vec<Comment> = Vec::new();
    let mut i = 0;
    // Where the previous event ended: an anchor sits between it and its node.
    let mut content_end = 0;
    while i < events.len() {
        let ev = &events[i];
        let last_end = content_end;
        // Comments do not count: an anchor's line may end in one (`- &a # c`). Nor do the
        // stream and document starts, whose spans may cover the first node's properties.
        if !matches!(
            ev.event,
            Event::Comment(..) | Event::StreamStart | Event::DocumentStart(..)
        ) {
            content_end = content_end.max(ev.end_byte);
        }
        let next_is_end = matches!(
            events.get(i + 1).map(|e| &e.event),
            Some(Event::MappingEnd | Event::SequenceEnd | Event::DocumentEnd)
        );
        match &ev.event {
            Event::Comment(text, _) => {
                let c = Comment {
                    text: text.as_ref(),
                    line: ev.line,
                    col: ev.col,
                };
                let own_line = b
                    .line_up_to(ev.line, ev.start_byte)
                    .is_some_and(|s| s.trim().is_empty());
                if own_line {
                    run.push(c);
                } else {
                    let start = ev.start_byte;
                    b.line_comment(&c, start);
                }
                i += 1;
                continue;
            }
            _ if !run.is_empty() => {
                let closes = events[i..]
                    .iter()
                    .take_while(|e| {
                        matches!(
                            e.event,
                            Event::MappingEnd | Event::SequenceEnd | Event::Comment(..)
                        )
                    })
                    .filter(|e| !matches!(e.event, Event::Comment(..)))
                    .count();
                let next_event = events[i..]
                    .iter()
                    .find(|e| {
                        !matches!(
                            e.event,
                            Event::MappingEnd | Event::SequenceEnd | Event::Comment(..)
                        )
                    })
                    .filter(|e| !matches!(e.event, Event::DocumentEnd | Event::StreamEnd));
                let next = next_event.map(|e| (e.line, b.item_col(closes).unwrap_or(e.col)));
                let opens = closes == 0
                    && next_event.is_some_and(|e| {
                        matches!(e.event, Event::MappingStart(..) | Event::SequenceStart(..))
                    });
                let is_item = closes == 0 && b.item_col(0).is_some();
                let pending = std::mem::take(&mut run);
                if b.run_follows_lone_dash(&pending) {
                    // `-` alone on its line, then comment lines: they belong to the item, as
                    // if written after the dash.
                    let texts = pending.iter().map(|c| c.text.to_string());
                    b.heads_after_dash.extend(texts);
                } else if b.heads_after_dash.is_empty() {
                    b.place_comments(&pending, next, opens, is_item);
                } else {
                    b.dash_heads_with_run(&pending);
                }
            }
            _ => {}
        }
        match &ev.event {
            Event::StreamStart | Event::StreamEnd | Event::Anchor(..) | Event::Comment(..) => {}
            Event::UnresolvedAlias(_) => return Err(syntax(ev.line, ev.col, "unknown anchor")),
            Event::DocumentStart(..) => {
                b.prev = Prev::None;
                b.root = None;
            }
            Event::DocumentEnd => {
                docs.push(finish_document(&mut b, ev)?);
                b.check_duplicates = false;
            }
            Event::MappingStart(style, anchor, _) | Event::SequenceStart(style, anchor, _) => {
                if b.expecting_key() {
                    // yaml.v3 fails while unmarshalling (sops exits 2), not while walking.
                    let kind = if matches!(ev.event, Event::MappingStart(..)) {
                        "!!map"
                    } else {
                        "!!seq"
                    };
                    return Err(syntax(
                        ev.line,
                        ev.col,
                        &format!("cannot unmarshal {kind} into string (a collection as key)"),
                    ));
                }
                if *anchor != 0 {
                    check_anchor_name(b.src, last_end, ev)?;
                }
                let flow = *style == StructureStyle::Flow;
                let frame = if matches!(ev.event, Event::MappingStart(..)) {
                    Frame::Map {
                        map: Map::new(),
                        key: None,
                        col: ev.col,
                        flow,
                        anchor: *anchor,
                        seen: HashMap::new(),
                    }
                } else {
                    Frame::Seq {
                        items: Vec::new(),
                        col: if flow {
                            ev.col
                        } else {
                            dash_col(b.src, ev.start_byte, ev.col)
                        },
                        flow,
                        anchor: *anchor,
                    }
                };
                b.open(frame);
                b.prev = Prev::None;
                b.prev_flow_end = false;
            }
            Event::MappingEnd | Event::SequenceEnd => {
                let flow = b.frames.last().is_some_and(Frame::flow);
                b.close(next_is_end)?;
                if flow {
                    b.prev = Prev::Value;
                    b.prev_line = ev.end_line;
                    b.prev_end_byte = ev.end_byte;
                    b.prev_flow_end = true;
                }
            }
            Event::Alias(id) => {
                let name = b.src.get(ev.start_byte + 1..ev.end_byte).unwrap_or("");
                check_name(name, ev, false)?;
                b.settle_dash_heads(false);
                b.flush_heads_before_node();
                let anchored = b
                    .anchors
                    .get(id)
                    .ok_or_else(|| syntax(ev.line, ev.col, "unknown anchor"))?;
                let room = crate::stores::MAX_NESTING.saturating_sub(b.frames.len());
                let size = measure(anchored, b.alias_budget, room).ok_or_else(|| {
                    syntax(
                        ev.line,
                        ev.col,
                        "aliases expand to too large or too deep a document",
                    )
                })?;
                b.alias_budget -= size;
                let node = anchored.clone();
                if b.expecting_key() {
                    match node {
                        Node::Scalar(Scalar::Str(s)) => b.key(s, ev.line, ev.col)?,
                        Node::Scalar(_) => {
                            return Err(unsupported("Tree contains a non-string key"))
                        }
                        _ => return Err(syntax(
                            ev.line,
                            ev.col,
                            "cannot unmarshal a collection into string (an alias of one as key)",
                        )),
                    }
                    b.prev = Prev::Key;
                } else {
                    b.value(node)?;
                    b.prev = Prev::Value;
                }
                b.prev_block_start = None;
                b.prev_line = ev.end_line;
                b.prev_end_byte = ev.end_byte;
                b.prev_flow_end = false;
            }
            Event::Scalar(text, style, anchor, tag) => {
                if *anchor != 0 {
                    check_anchor_name(b.src, last_end, ev)?;
                }
                // The parser reports an absent item as a zero-width `~`.
                let empty = ev.start_byte == ev.end_byte && *anchor == 0 && tag.is_none();
                b.settle_dash_heads(empty);
                b.flush_heads_before_node();
                let tag = tag.as_deref();
                if b.expecting_key() {
                    let key = key_string(text, *style, tag)?;
                    if *anchor != 0 {
                        b.anchors
                            .insert(*anchor, Node::Scalar(Scalar::Str(key.clone())));
                    }
                    b.key(key, ev.line, ev.col)?;
                    b.prev = Prev::Key;
                } else {
                    let text = without_phantom_last_break(b.src, ev, text, *style);
                    let node = Node::Scalar(scalar_value(text, *style, tag)?);
                    if *anchor != 0 {
                        b.anchors.insert(*anchor, node.clone());
                    }
                    b.value(node)?;
                    b.key_comments_of_scalar();
                    b.prev = Prev::Value;
                }
                let block = matches!(*style, ScalarStyle::Literal | ScalarStyle::Folded);
                b.prev_block_start = block.then_some(ev.start_byte);
                b.prev_line = ev.end_line;
                b.prev_end_byte = ev.end_byte;
                b.prev_flow_end = false;
            }
            // Event is non_exhaustive; nothing else carries content.
            #[allow(unreachable_patterns)]
            _ => {}
        }
        i += 1;
    }
    if docs.is_empty() && !bytes.is_empty() {
        return Err(StoreError::Syntax {
            format: FORMAT,
            line: None,
            column: None,
            message: "EOF: the input holds no YAML document".to_string(),
        });
    }
    Ok(docs)
}

fn finish_document(b: &mut Builder, ev: &Ev) -> Result<Map, StoreError> {
    let root = b.root.take();
    let mut map = match root {
        None | Some(Node::Scalar(Scalar::Null)) => Map::new(),
        Some(Node::Map(map)) => map,
        // sops reports these while unmarshalling (exit 2), not while walking the tree.
        Some(Node::List(_)) => {
            return Err(document_not_a_map(ev, "a sequence"));
        }
        Some(Node::Scalar(_)) => {
            return Err(document_not_a_map(ev, "a single value"));
        }
    };
    b.late_at_end = false;
    for t in std::mem::take(&mut b.late_feet) {
        map.items.push(MapItem::Comment(t));
    }
    for t in std::mem::take(&mut b.heads) {
        map.items.push(MapItem::Comment(t));
    }
    for t in std::mem::take(&mut b.heads_inside) {
        map.items.push(MapItem::Comment(t));
    }
    for t in std::mem::take(&mut b.heads_after_dash) {
        map.items.push(MapItem::Comment(t));
    }
    b.anchors.clear();
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression (bad-input matrix): ten-fold aliases nested 30 times ("billion laughs")
    /// exhausted memory; yaml.v3 refuses such files too.
    #[test]
    fn alias_bombs_are_refused() {
        let mut s = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..30 {
            let p = i - 1;
            let refs = vec![format!("*a{p}"); 10].join(", ");
            s.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
        }
        let err = parse(s.as_bytes()).unwrap_err().to_string();
        assert!(err.contains("aliases expand"), "{err}");
    }

    /// Each alias one level deeper than the last: the expanded depth is bounded too.
    #[test]
    fn alias_chains_cannot_nest_past_the_limit() {
        let mut s = String::from("a0: &a0 [x]\n");
        for i in 1..=crate::stores::MAX_NESTING + 5 {
            s.push_str(&format!("a{i}: &a{i} [*a{}]\n", i - 1));
        }
        let err = parse(s.as_bytes()).unwrap_err().to_string();
        assert!(err.contains("aliases expand"), "{err}");
    }

    /// Regression (fuzz target `sops_config`): lone CRs are line breaks to the parser but were not
    /// counted when finding where a comment's line starts — an index out of bounds.
    #[test]
    fn lone_carriage_returns_are_line_breaks() {
        let src = "se,:\n\r\r\r\r\r\r\rs-:]tation_rules:\n    :torcreses:\n    #yaml:\n";
        let _ = parse(src.as_bytes());
        assert_eq!(line_starts("a\rb\r\nc\nd"), vec![0, 2, 5, 7]);
        let docs = parse(b"a: 1\r# c\rb: 2\r").unwrap();
        assert!(docs[0].contains_key("b"));
    }

    #[test]
    fn modest_aliasing_still_works() {
        let docs = parse(b"base: &b {k: v, l: [1, 2]}\none: *b\ntwo: *b\n").unwrap();
        assert_eq!(docs[0].get("two"), docs[0].get("base"));
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = format!("a: {}{}\n", "[".repeat(100_000), "]".repeat(100_000));
        let err = parse(deep.as_bytes()).unwrap_err().to_string();
        assert!(err.contains("nested too deeply"), "{err}");
        let block = "- ".repeat(100_000) + "x\n";
        let err = parse(block.as_bytes()).unwrap_err().to_string();
        assert!(err.contains("nested too deeply"), "{err}");
    }
}
