//! The in-memory store: a map from run id to a slot behind its own lock.
//!
//! A call locks the map only to find its run's slot, then holds the slot's lock while it
//! trims, decides and records, so calls of one run are decided one at a time and calls of
//! different runs do not wait for each other. Admission holds the map's lock (then a slot's);
//! a call never holds a slot's lock while taking the map's, so the two cannot deadlock.
//!
//! Bounds: expired runs are swept when an admission finds the map full or the last sweep
//! older than [`SWEEP_EVERY`] (admissions are what make the map grow); a run's calls are
//! trimmed to what [`Keep`] keeps on every call of the run; and at most `max_runs` live runs
//! are held: an admission past that is refused, never a live run evicted.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use writ_evaluator::Timestamp;
use writ_evaluator::request::HistoryEntry;

use super::{Admission, Keep, Lookup, Record, Run, StoreError};

/// How often (at most) an admission sweeps expired runs when the map is not full.
const SWEEP_EVERY: i128 = 10 * 1_000_000_000;

pub struct MemoryStore {
    map: Mutex<Map>,
    max_runs: usize,
}

struct Map {
    slots: HashMap<String, Arc<Mutex<Slot>>>,
    last_sweep: Option<Timestamp>,
}

struct Slot {
    run: Run,
    history: VecDeque<HistoryEntry<'static>>,
}

impl MemoryStore {
    pub fn new(max_runs: usize) -> MemoryStore {
        MemoryStore { map: Mutex::new(Map { slots: HashMap::new(), last_sweep: None }), max_runs }
    }

    /// Runs held (live ones, and expired ones not yet swept).
    pub fn len(&self) -> usize {
        self.map.lock().map_or(0, |map| map.slots.len())
    }

    pub fn admit(&self, id: &str, run: &Run, now: Timestamp) -> Result<Admission, StoreError> {
        let mut map = self.map.lock().map_err(|_| StoreError::Poisoned)?;
        if let Some(slot) = map.slots.get(id) {
            let slot = slot.lock().map_err(|_| StoreError::Poisoned)?;
            if slot.run.expires > now {
                return Ok(Admission::Taken(slot.run.clone()));
            }
        }
        let due = map
            .last_sweep
            .is_none_or(|last| now.as_unix_nanos() - last.as_unix_nanos() >= SWEEP_EVERY);
        if due || map.slots.len() >= self.max_runs {
            sweep(&mut map, now);
        }
        if !map.slots.contains_key(id) && map.slots.len() >= self.max_runs {
            return Ok(Admission::Full { max_runs: self.max_runs });
        }
        let slot = Slot { run: run.clone(), history: VecDeque::new() };
        map.slots.insert(id.to_owned(), Arc::new(Mutex::new(slot)));
        Ok(Admission::Admitted)
    }

    pub fn lookup(&self, id: &str, now: Timestamp) -> Result<Lookup, StoreError> {
        let Some(slot) = self.slot(id)? else { return Ok(Lookup::Unknown) };
        let slot = slot.lock().map_err(|_| StoreError::Poisoned)?;
        Ok(lookup(&slot.run, now))
    }

    pub fn call<T>(
        &self,
        id: &str,
        now: Timestamp,
        keep: Keep,
        mut decide: impl FnMut(&Lookup, &[HistoryEntry<'static>]) -> (T, Record),
    ) -> Result<T, StoreError> {
        let Some(slot) = self.slot(id)? else { return Ok(decide(&Lookup::Unknown, &[]).0) };
        let mut slot = slot.lock().map_err(|_| StoreError::Poisoned)?;
        let found = lookup(&slot.run, now);
        if !matches!(found, Lookup::Live(_)) {
            return Ok(decide(&found, &[]).0);
        }
        slot.history.retain(|entry| keep.keeps(entry.at));
        let (answer, record) = decide(&found, slot.history.make_contiguous());
        if let Record::Call { tool, at } = record
            && keep.keeps(Some(at))
        {
            slot.history.push_back(HistoryEntry { tool: tool.into(), at: Some(at) });
        }
        Ok(answer)
    }

    fn slot(&self, id: &str) -> Result<Option<Arc<Mutex<Slot>>>, StoreError> {
        let map = self.map.lock().map_err(|_| StoreError::Poisoned)?;
        Ok(map.slots.get(id).cloned())
    }
}

fn lookup(run: &Run, now: Timestamp) -> Lookup {
    if run.expires > now { Lookup::Live(run.clone()) } else { Lookup::Expired(run.clone()) }
}

/// Drops the runs that expired. A slot some call holds is live or being denied as expired;
/// either way dropping it from the map is safe (the call keeps its own reference).
fn sweep(map: &mut Map, now: Timestamp) {
    map.slots.retain(|_, slot| slot.lock().is_ok_and(|slot| slot.run.expires > now));
    map.last_sweep = Some(now);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_unix_seconds(1_800_000_000 + seconds).unwrap()
    }

    fn run(workflow: &str, initiator: &str, from: i64, to: i64) -> Run {
        Run {
            workflow: workflow.into(),
            initiator: initiator.into(),
            admitted: at(from),
            expires: at(to),
        }
    }

    /// Records a call of `tool` at `now` if the run is live; the history it saw.
    fn call(store: &MemoryStore, id: &str, now: i64, keep: Keep, tool: &str) -> Vec<String> {
        store
            .call(id, at(now), keep, |found, history| {
                let seen = history.iter().map(|e| e.tool.to_string()).collect();
                let record = match found {
                    Lookup::Live(_) => Record::Call { tool: tool.into(), at: at(now) },
                    _ => Record::Nothing,
                };
                (seen, record)
            })
            .unwrap()
    }

    #[test]
    fn a_run_id_names_one_live_run() {
        let store = MemoryStore::new(10);
        let first = run("w", "ada", 0, 100);
        assert_eq!(store.admit("r", &first, at(0)).unwrap(), Admission::Admitted);
        let other = run("v", "eve", 50, 150);
        assert_eq!(store.admit("r", &other, at(50)).unwrap(), Admission::Taken(first.clone()));
        assert_eq!(store.lookup("r", at(60)).unwrap(), Lookup::Live(first.clone()));
        assert_eq!(store.lookup("r", at(100)).unwrap(), Lookup::Expired(first));
        assert_eq!(store.lookup("s", at(0)).unwrap(), Lookup::Unknown);
    }

    #[test]
    fn an_expired_run_id_starts_over_with_an_empty_history() {
        let store = MemoryStore::new(10);
        store.admit("r", &run("w", "ada", 0, 100), at(0)).unwrap();
        call(&store, "r", 10, Keep::All, "deploy");
        assert_eq!(call(&store, "r", 20, Keep::All, "deploy"), ["deploy"]);
        assert_eq!(call(&store, "r", 100, Keep::All, "deploy"), Vec::<String>::new());
        let again = run("w", "bob", 200, 300);
        assert_eq!(store.admit("r", &again, at(200)).unwrap(), Admission::Admitted);
        assert_eq!(call(&store, "r", 210, Keep::All, "x"), Vec::<String>::new());
        assert_eq!(call(&store, "r", 211, Keep::All, "y"), ["x"]);
    }

    #[test]
    fn history_is_trimmed_to_the_window() {
        let store = MemoryStore::new(10);
        store.admit("r", &run("w", "ada", 0, 100_000), at(0)).unwrap();
        let window = |now| Keep::new(writ_evaluator::history::HistoryHorizon::Seconds(60), at(now));
        call(&store, "r", 0, window(0), "a");
        call(&store, "r", 30, window(30), "b");
        // At 60, the entry of 0 is exactly a window old: it can never count again.
        assert_eq!(call(&store, "r", 60, window(60), "c"), ["b"]);
        assert_eq!(call(&store, "r", 95, window(95), "d"), ["c"]);
        assert_eq!(call(&store, "r", 96, Keep::All, "e"), ["c", "d"]);
        // A policy that reads no history keeps none, and records nothing.
        assert_eq!(call(&store, "r", 97, Keep::Nothing, "f"), Vec::<String>::new());
        assert_eq!(call(&store, "r", 98, Keep::All, "g"), Vec::<String>::new());
    }

    #[test]
    fn expired_runs_are_swept_and_a_full_store_refuses_admissions() {
        let store = MemoryStore::new(2);
        store.admit("a", &run("w", "ada", 0, 10), at(0)).unwrap();
        store.admit("b", &run("w", "ada", 0, 1000), at(0)).unwrap();
        assert_eq!(
            store.admit("c", &run("w", "ada", 5, 100), at(5)).unwrap(),
            Admission::Full { max_runs: 2 },
            "live runs are never evicted"
        );
        assert_eq!(store.len(), 2);
        // Once `a` has expired, the sweep makes room.
        assert_eq!(
            store.admit("c", &run("w", "ada", 10, 100), at(10)).unwrap(),
            Admission::Admitted
        );
        assert_eq!(store.len(), 2);
        assert_eq!(store.lookup("a", at(10)).unwrap(), Lookup::Unknown);
        // The periodic sweep drops expired runs even when the store is not full.
        let roomy = MemoryStore::new(100);
        for (i, id) in ["a", "b", "c"].iter().enumerate() {
            roomy.admit(id, &run("w", "ada", 0, 5 + i as i64), at(0)).unwrap();
        }
        roomy.admit("d", &run("w", "ada", 20, 100), at(20)).unwrap();
        assert_eq!(roomy.len(), 1);
    }

    #[test]
    fn calls_of_one_run_are_decided_one_at_a_time() {
        // 16 tasks on 4 threads each try to make a call allowed while the run has made fewer
        // than 3: exactly 3 are allowed.
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(4).build().unwrap();
        let store = Arc::new(MemoryStore::new(10));
        store.admit("r", &run("w", "ada", 0, 1000), at(0)).unwrap();
        let allowed: usize = runtime.block_on(async {
            let tasks: Vec<_> = (0..16)
                .map(|_| {
                    let store = store.clone();
                    tokio::spawn(async move {
                        store
                            .call("r", at(1), Keep::All, |_, history| {
                                let count = history.iter().filter(|e| e.tool == "deploy").count();
                                // Widen the race: a decision that takes a while.
                                std::thread::sleep(std::time::Duration::from_millis(2));
                                if count < 3 {
                                    (1, Record::Call { tool: "deploy".into(), at: at(1) })
                                } else {
                                    (0, Record::Nothing)
                                }
                            })
                            .unwrap()
                    })
                })
                .collect();
            let mut sum = 0;
            for task in tasks {
                sum += task.await.unwrap();
            }
            sum
        });
        assert_eq!(allowed, 3);
    }
}
