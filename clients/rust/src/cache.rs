//! What the client keeps between runs, on disk (or in memory without a directory): the last
//! good signed answer and license file per (product, license, device), and the newest signed
//! time seen (for clock-rollback detection). Everything cached is signed and verified again
//! when read, so tampering with the cache only loses it.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::Error;

/// A cached answer: the raw body (what the signature covers) and the nonce it answered.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CachedAnswer {
    pub body: String,
    pub nonce: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct State {
    #[serde(default)]
    newest_seen: Option<String>,
}

/// The store: files in `dir`, or a map in memory.
#[derive(Debug)]
pub struct Cache {
    dir: Option<PathBuf>,
    memory: Mutex<HashMap<String, String>>,
}

/// The cache slot of a (product, license key, device).
pub fn slot(product_id: &str, license_key: Option<&str>, device_id: &str) -> String {
    let mut h = Sha256::new();
    for part in [product_id, license_key.unwrap_or(""), device_id] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    hex::encode(&h.finalize()[..12])
}

impl Cache {
    pub fn new(dir: Option<PathBuf>) -> Result<Self, Error> {
        if let Some(d) = &dir {
            std::fs::create_dir_all(d)
                .map_err(|e| Error::Cache(format!("{}: {e}", d.display())))?;
        }
        Ok(Cache {
            dir,
            memory: Mutex::new(HashMap::new()),
        })
    }

    fn read(&self, name: &str) -> Option<String> {
        match &self.dir {
            Some(d) => std::fs::read_to_string(d.join(name)).ok(),
            None => self.memory.lock().ok()?.get(name).cloned(),
        }
    }

    fn write(&self, name: &str, text: &str) -> Result<(), Error> {
        match &self.dir {
            Some(d) => {
                // Write then rename, so a crash never leaves half a file.
                let tmp = d.join(format!(".{name}.tmp"));
                std::fs::write(&tmp, text)
                    .and_then(|_| std::fs::rename(&tmp, d.join(name)))
                    .map_err(|e| Error::Cache(format!("{name}: {e}")))
            }
            None => {
                if let Ok(mut m) = self.memory.lock() {
                    m.insert(name.to_string(), text.to_string());
                }
                Ok(())
            }
        }
    }

    pub fn answer(&self, slot: &str) -> Option<CachedAnswer> {
        serde_json::from_str(&self.read(&format!("answer-{slot}.json"))?).ok()
    }

    pub fn put_answer(&self, slot: &str, answer: &CachedAnswer) -> Result<(), Error> {
        let text = serde_json::to_string(answer).map_err(|e| Error::Cache(e.to_string()))?;
        self.write(&format!("answer-{slot}.json"), &text)
    }

    pub fn file(&self, slot: &str) -> Option<String> {
        self.read(&format!("file-{slot}.lic"))
    }

    pub fn put_file(&self, slot: &str, text: &str) -> Result<(), Error> {
        self.write(&format!("file-{slot}.lic"), text)
    }

    /// Forgets the answer and file of a slot (after Keyhook said the license is not valid, so a
    /// revoked license cannot run on its old proof).
    pub fn forget(&self, slot: &str) {
        for name in [format!("answer-{slot}.json"), format!("file-{slot}.lic")] {
            match &self.dir {
                Some(d) => {
                    let _ = std::fs::remove_file(d.join(name));
                }
                None => {
                    if let Ok(mut m) = self.memory.lock() {
                        m.remove(&name);
                    }
                }
            }
        }
    }

    /// The newest signed time seen so far.
    pub fn newest_seen(&self) -> Option<OffsetDateTime> {
        let state: State = serde_json::from_str(&self.read("state.json")?).ok()?;
        keyhook_format::time_fmt::parse("newestSeen", state.newest_seen.as_deref()?).ok()
    }

    /// Records `t` if it is newer than the newest seen.
    pub fn saw(&self, t: OffsetDateTime) -> Result<(), Error> {
        if self.newest_seen().is_some_and(|n| n >= t) {
            return Ok(());
        }
        let state = State {
            newest_seen: Some(keyhook_format::time_fmt::format(t)),
        };
        self.write(
            "state.json",
            &serde_json::to_string(&state).map_err(|e| Error::Cache(e.to_string()))?,
        )
    }
}
