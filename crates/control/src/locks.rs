//! Per-key async locks, to serialise the writers of one hot key inside a process.
//!
//! Compare-and-swap keeps the store correct across processes; these locks only stop the
//! writers of one process from retrying against each other (e.g. many registrations of
//! one task definition family at once), which would otherwise waste work and, under
//! enough contention, exhaust their retries.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

/// A set of named locks; a name's lock exists while someone holds or awaits it.
#[derive(Default)]
pub struct KeyedLocks {
    locks: Mutex<HashMap<String, Arc<AsyncMutex<()>>>>,
}

/// Holds one key's lock; releases it (and forgets the key when unused) on drop.
pub struct KeyGuard<'a> {
    owner: &'a KeyedLocks,
    key: String,
    guard: Option<OwnedMutexGuard<()>>,
}

impl KeyedLocks {
    pub async fn lock(&self, key: &str) -> KeyGuard<'_> {
        let lock = {
            let mut map = self.locks.lock().unwrap_or_else(PoisonError::into_inner);
            map.entry(key.to_string()).or_default().clone()
        };
        let guard = lock.lock_owned().await;
        KeyGuard {
            owner: self,
            key: key.to_string(),
            guard: Some(guard),
        }
    }
}

impl Drop for KeyGuard<'_> {
    fn drop(&mut self) {
        drop(self.guard.take());
        let mut map = self
            .owner
            .locks
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // Only the map holds the lock now: nobody holds or awaits it.
        if map
            .get(&self.key)
            .is_some_and(|l| Arc::strong_count(l) == 1)
        {
            map.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn serialises_one_key_and_forgets_it_afterwards() {
        let locks = Arc::new(KeyedLocks::default());
        let counter = Arc::new(Mutex::new((0, 0)));
        let mut tasks = Vec::new();
        for _ in 0..16 {
            let (locks, counter) = (locks.clone(), counter.clone());
            tasks.push(tokio::spawn(async move {
                let _g = locks.lock("family").await;
                {
                    let mut c = counter.lock().unwrap();
                    c.0 += 1;
                    c.1 = c.1.max(c.0);
                }
                tokio::task::yield_now().await;
                counter.lock().unwrap().0 -= 1;
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(counter.lock().unwrap().1, 1, "two holders at once");
        assert!(locks.locks.lock().unwrap().is_empty());
    }
}
