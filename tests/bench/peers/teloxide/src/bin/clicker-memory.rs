//! The clicker keeping its users in memory, as the article's bot does: lost on a restart.

use std::{cmp::Reverse, collections::HashMap, sync::Mutex};

use clicker_teloxide::{Registered, Store, TOP, run};

struct Player {
    name: String,
    seq: u64,
    clicks: u64,
}

#[derive(Default)]
struct Memory {
    users: Mutex<HashMap<i64, Player>>,
}

impl Store for Memory {
    fn start(&self, id: i64, name: &str) -> Registered {
        let mut users = self.users.lock().unwrap();
        let seq = users.len() as u64 + 1;
        match users.get_mut(&id) {
            Some(player) => {
                player.name = name.to_owned();
                Registered::Back {
                    clicks: player.clicks,
                }
            }
            None => {
                users.insert(
                    id,
                    Player {
                        name: name.to_owned(),
                        seq,
                        clicks: 0,
                    },
                );
                Registered::New
            }
        }
    }

    fn click(&self, id: i64) -> Option<u64> {
        let mut users = self.users.lock().unwrap();
        let player = users.get_mut(&id)?;
        player.clicks += 1;
        Some(player.clicks)
    }

    fn rating(&self, id: i64) -> Option<(u64, Vec<(String, u64)>)> {
        let users = self.users.lock().unwrap();
        users.get(&id)?;
        let mut all: Vec<&Player> = users.values().collect();
        all.sort_unstable_by_key(|p| (Reverse(p.clicks), p.seq));
        let top = all
            .iter()
            .take(TOP)
            .map(|p| (p.name.clone(), p.clicks))
            .collect();
        Some((users.len() as u64, top))
    }
}

#[tokio::main]
async fn main() {
    run(Memory::default()).await;
}
