//! Each coalition's utility at most once per round.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::{Coalition, Game};

/// A game whose utilities are remembered; safe to share between rayon workers.
pub(crate) struct Memo<'a> {
    game: &'a dyn Game,
    seen: Mutex<HashMap<Coalition, i64>>,
}

impl<'a> Memo<'a> {
    pub(crate) fn new(game: &'a dyn Game) -> Self {
        Memo {
            game,
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// `v(S)`, evaluated on first use.
    pub(crate) fn utility(&self, coalition: Coalition) -> i64 {
        if let Some(&v) = self.lock().get(&coalition) {
            return v;
        }
        let v = self.game.utility(coalition);
        self.lock().insert(coalition, v);
        v
    }

    /// Distinct coalitions evaluated so far (the same for the same coalitions asked, whatever
    /// the threads' order).
    pub(crate) fn evaluations(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Coalition, i64>> {
        // A panic while holding the lock leaves a consistent map (insert is the only write).
        self.seen.lock().unwrap_or_else(|e| e.into_inner())
    }
}
