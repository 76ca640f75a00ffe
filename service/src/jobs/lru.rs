//! A small least-recently-used cache of shared values (loaded keys, float runtimes).

use std::sync::{Arc, Mutex};

/// Keeps at most `capacity` values; the least recently used one is dropped first.
/// Loading happens outside the lock, so two threads may load the same key once each.
pub struct Lru<T> {
    capacity: usize,
    entries: Mutex<Vec<(String, Arc<T>)>>,
}

impl<T> Lru<T> {
    /// An empty cache (capacity at least 1).
    pub fn new(capacity: usize) -> Lru<T> {
        Lru { capacity: capacity.max(1), entries: Mutex::new(Vec::new()) }
    }

    /// The cached value, marked as most recently used.
    pub fn get(&self, key: &str) -> Option<Arc<T>> {
        let mut e = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let i = e.iter().position(|(k, _)| k == key)?;
        let entry = e.remove(i);
        let v = entry.1.clone();
        e.push(entry);
        Some(v)
    }

    /// Caches a value, evicting the least recently used beyond capacity.
    pub fn insert(&self, key: &str, value: Arc<T>) {
        let mut e = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        e.retain(|(k, _)| k != key);
        e.push((key.to_string(), value));
        while e.len() > self.capacity {
            e.remove(0);
        }
    }

    /// The cached value, or `load`'s (then cached).
    pub fn get_or_load<E>(&self, key: &str, load: impl FnOnce() -> Result<T, E>) -> Result<Arc<T>, E> {
        if let Some(v) = self.get(key) {
            return Ok(v);
        }
        let v = Arc::new(load()?);
        self.insert(key, v.clone());
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_least_recently_used() {
        let c = Lru::new(2);
        c.insert("a", Arc::new(1));
        c.insert("b", Arc::new(2));
        assert_eq!(*c.get("a").unwrap(), 1);
        c.insert("c", Arc::new(3));
        assert!(c.get("b").is_none());
        assert_eq!(*c.get_or_load::<()>("a", || Ok(9)).unwrap(), 1);
        assert_eq!(*c.get_or_load::<()>("d", || Ok(4)).unwrap(), 4);
    }
}
