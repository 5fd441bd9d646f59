//! A reference-counted string table: labels, names and images are stored once per runtime
//! and containers hold 4-byte [`Sym`]s, so a container's labels cost 8 bytes each however
//! long the ARNs in them are. A string is dropped when its last holder releases it.

use std::collections::HashMap;
use std::sync::Arc;

/// An interned string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct Sym(u32);

struct Slot {
    text: Option<Arc<str>>,
    refs: u32,
}

#[derive(Default)]
pub(super) struct Interner {
    index: HashMap<Arc<str>, u32>,
    slots: Vec<Slot>,
    free: Vec<u32>,
}

impl Interner {
    /// The symbol of `text`, taking one reference.
    pub(super) fn intern(&mut self, text: &str) -> Sym {
        if let Some(&i) = self.index.get(text) {
            if let Some(slot) = self.slots.get_mut(i as usize) {
                slot.refs += 1;
                return Sym(i);
            }
        }
        let text: Arc<str> = Arc::from(text);
        let slot = Slot {
            text: Some(text.clone()),
            refs: 1,
        };
        let i = match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = slot;
                i
            }
            None => {
                self.slots.push(slot);
                u32::try_from(self.slots.len() - 1).unwrap_or(u32::MAX)
            }
        };
        self.index.insert(text, i);
        Sym(i)
    }

    /// The symbol of `text` if it is interned (no reference taken).
    pub(super) fn get(&self, text: &str) -> Option<Sym> {
        self.index.get(text).map(|&i| Sym(i))
    }

    pub(super) fn resolve(&self, sym: Sym) -> &str {
        self.slots
            .get(sym.0 as usize)
            .and_then(|s| s.text.as_deref())
            .unwrap_or_default()
    }

    /// Drop one reference to `sym`.
    pub(super) fn release(&mut self, sym: Sym) {
        let Some(slot) = self.slots.get_mut(sym.0 as usize) else {
            return;
        };
        slot.refs = slot.refs.saturating_sub(1);
        if slot.refs == 0 {
            if let Some(text) = slot.text.take() {
                self.index.remove(&text);
                self.free.push(sym.0);
            }
        }
    }

    /// Number of distinct strings held.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.index.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_shared_and_freed_with_their_last_holder() {
        let mut strings = Interner::default();
        let a = strings.intern("arn:aws:ecs:task/1");
        let b = strings.intern("arn:aws:ecs:task/1");
        assert_eq!(a, b);
        assert_eq!(strings.resolve(a), "arn:aws:ecs:task/1");
        strings.release(a);
        assert_eq!(strings.get("arn:aws:ecs:task/1"), Some(a));
        strings.release(b);
        assert_eq!(strings.get("arn:aws:ecs:task/1"), None);
        assert_eq!(strings.len(), 0);
        let c = strings.intern("other");
        assert_eq!(c, a, "the freed slot is reused");
        assert_eq!(strings.resolve(c), "other");
    }
}
